"""The shared store's plumbing and the statements only a cluster of nodes needs: claiming queued tasks, fenced
writes of a run, lease renewal, rescue of expired leases, retention sweeps and the node rows.

:class:`ClusterStatements` holds the store's two connections (``writes``: acknowledged changes, queued in
call order; ``background``: claims, leases, reads); :class:`~krtasks.store.postgres.PostgresTaskStore` adds
the :class:`~krtasks.store.base.TaskStore` interface, the commands and the change feed on top. Every method
is a coroutine on the caller's event loop (psycopg 3's async API); :mod:`krtasks.core.cluster` drives them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from ..models import StreamRecord, TaskData
from .pglink import Conn, Link, redact
from .postgres_schema import COLUMNS, MUTABLE, Row, decode_row, encode_mutable, key_of

T = TypeVar("T")

RESCUE_LOCK = 0x4B725265736375
"""``pg_try_advisory_xact_lock`` key of the rescue and retention work (one node at a time)."""

BATCH = 500
"""Most tasks one rescue or retention statement handles."""

_T_COLUMNS = ", ".join(f"t.{c}" for c in COLUMNS.split(", "))
SET_MUTABLE = ", ".join(f"{c} = %({c})s" for c in MUTABLE)
"""The ``SET`` list of a row's mutable columns, from :func:`~krtasks.store.postgres_schema.encode_mutable`'s
parameters."""
_ACTIVE = "('Running', 'Stopping')"

_CLAIM = f"""
WITH c AS (
    SELECT key FROM krtasks_tasks WHERE state = 'Queued'
    ORDER BY queued_at, seq LIMIT %(n)s FOR UPDATE SKIP LOCKED
), u AS (
    UPDATE krtasks_tasks t SET state = 'Running', node = %(node)s, attempt = t.attempt + 1,
        started_at = %(now)s, cancel_requested = false
    FROM c WHERE t.key = c.key
    RETURNING t.*
), l AS (
    INSERT INTO krtasks_leases (key, node, attempt, expires_at)
    SELECT key, node, attempt, now() + make_interval(secs => %(lease)s) FROM u
    ON CONFLICT (key) DO UPDATE SET node = excluded.node, attempt = excluded.attempt, expires_at = excluded.expires_at
)
SELECT {COLUMNS} FROM u ORDER BY queued_at, seq
"""
"""Claim up to ``n`` queued tasks, oldest queue time first, in one statement: the CTE locks the rows it
picks and skips rows other claimers hold (``FOR UPDATE SKIP LOCKED``), so the ``LIMIT`` holds and no two
nodes claim one task; the claimed runs get a lease of ``lease`` seconds from the database's ``now()``."""

_FENCE = f"""
FROM krtasks_leases l
WHERE t.key = %(key)s AND l.key = t.key AND l.node = %(node)s AND l.attempt = %(attempt)s
    AND l.expires_at >= now() AND t.state IN {_ACTIVE}
"""
"""The condition of every write a node makes for a run: the task is still this node's attempt, its lease
has not expired by the database's clock, and it is Running or Stopping."""


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """A node as ``krtasks_nodes`` holds it; times UTC, ``slots`` its ``--max-runspaces``."""

    id: str
    host: str
    pid: int
    version: str
    started_at: datetime
    heartbeat_at: datetime
    slots: int
    running: int


class ClusterStatements:
    """See the module docstring. ``dsn``: libpq URI or connection string; ``node``: the id this daemon uses
    in ``application_name``."""

    def __init__(self, dsn: str, node: str = "krtasks") -> None:
        self.dsn = dsn
        self.where = redact(dsn)
        self.node = node
        self.writes = Link(dsn, f"krtasks {node} writes")
        self.background = Link(dsn, f"krtasks {node} background")
        self._pending: set[asyncio.Future[Any]] = set()
        self._size_bytes = 0

    def _submit(self, fn: Callable[[Conn], Awaitable[T]]) -> asyncio.Future[T]:
        # Scheduled now, so writes queue on the link's (FIFO) lock in call order.
        future = asyncio.ensure_future(self.writes.run(fn))
        self._pending.add(future)
        future.add_done_callback(self._pending.discard)
        return future

    @staticmethod
    async def _insert_records(conn: Conn, batch: Sequence[tuple[Any, ...]]) -> None:
        if not batch:
            return
        async with conn.transaction(), conn.cursor() as cur:
            await cur.executemany(
                "INSERT INTO krtasks_records (key, idx, stream, message, time) SELECT %s, %s, %s, %s, %s "
                "WHERE EXISTS (SELECT 1 FROM krtasks_tasks WHERE key = %s) ON CONFLICT DO NOTHING",
                [(*r, r[0]) for r in batch],
            )

    # -------------------------------------------------------------- runs

    async def claim(self, node: str, n: int, lease_seconds: float, now: datetime) -> list[Row]:
        """Claim up to ``n`` queued tasks for ``node`` (see :data:`_CLAIM`); their rows, claim order."""
        if n <= 0:
            return []

        async def job(conn: Conn) -> list[Row]:
            cur = await conn.execute(_CLAIM, {"n": n, "node": node, "now": now, "lease": lease_seconds})
            return [decode_row(r) for r in await cur.fetchall()]

        return await self.background.run(job)

    def write_run(
        self,
        data: TaskData,
        node: str,
        records: Sequence[StreamRecord],
        *,
        final: bool,
    ) -> asyncio.Future[int | None]:
        """A fenced write of a run (see :data:`_FENCE`): its state, times, progress (and output when
        ``final``) and new stream records, in one transaction; a final write also ends the lease. The future
        gives the row's new ``version``, or None, and nothing was written, when the node no longer holds the
        run."""
        params = {**encode_mutable(data), "key": key_of(data.id), "node": node, "attempt": data.attempt}
        params["records_count"] = records[-1].index + 1 if records else 0
        output = "output = %(output)s, output_clixml = %(output_clixml)s, " if final else ""
        sql = (
            "UPDATE krtasks_tasks t SET state = %(state)s, started_at = %(started_at)s, "
            f"completed_at = %(completed_at)s, progress = %(progress)s, error = %(error)s, {output}"
            "records_count = greatest(t.records_count, %(records_count)s) " + _FENCE + " RETURNING t.version"
        )
        batch = [(params["key"], r.index, r.stream, r.message, r.time) for r in records]

        async def job(conn: Conn) -> int | None:
            async with conn.transaction():
                written = await (await conn.execute(sql, params)).fetchone()
                if written is None:
                    return None
                await self._insert_records(conn, batch)
                if final:
                    await conn.execute("DELETE FROM krtasks_leases WHERE key = %s", (params["key"],))
                version: int = written[0]
                return version

        return self._submit(job)

    async def renew(self, node: str, lease_seconds: float) -> list[tuple[str, int]]:
        """Extend the unexpired leases of ``node`` by ``lease_seconds`` from the database's ``now()``; the
        ``(key, attempt)`` of each run it still holds (an expired lease is never renewed)."""

        async def job(conn: Conn) -> list[tuple[str, int]]:
            cur = await conn.execute(
                "UPDATE krtasks_leases SET expires_at = now() + make_interval(secs => %s) "
                "WHERE node = %s AND expires_at >= now() RETURNING key, attempt",
                (lease_seconds, node),
            )
            return [(str(k), int(a)) for k, a in await cur.fetchall()]

        return await self.background.run(job)

    async def rescue(self, end: Callable[[Row, str], None], *, node: str | None = None, lock: bool = True) -> list[Row]:
        """End runs whose node is gone: Running/Stopping tasks whose lease expired by the database's clock
        (with ``node``: every run of that node, expired or not, for a node that restarts under its id).
        ``end(row, lease_node)`` moves each row's data to its final state; the rows are written and their
        leases dropped, at most :data:`BATCH` per call. With ``lock``, only while this transaction holds the
        advisory lock :data:`RESCUE_LOCK` (another node doing it: nothing happens). Returns the rows written."""
        which = "l.node = %(node)s" if node is not None else "l.expires_at < now()"

        async def job(conn: Conn) -> list[Row]:
            async with conn.transaction():
                if (
                    lock
                    and not (
                        await (await conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (RESCUE_LOCK,))).fetchone()
                        or [False]
                    )[0]
                ):
                    return []
                cur = await conn.execute(
                    f"SELECT {_T_COLUMNS}, l.node FROM krtasks_tasks t JOIN krtasks_leases l ON l.key = t.key "
                    f"WHERE t.state IN {_ACTIVE} AND {which} ORDER BY t.seq LIMIT {BATCH} FOR UPDATE OF t SKIP LOCKED",
                    {"node": node},
                )
                written: list[Row] = []
                for found in await cur.fetchall():
                    row = decode_row(found[:-1])
                    end(row, str(found[-1]))
                    params = {**encode_mutable(row.data), "key": row.key}
                    out = await conn.execute(
                        f"UPDATE krtasks_tasks SET {SET_MUTABLE} WHERE key = %(key)s RETURNING {COLUMNS}", params
                    )
                    await conn.execute("DELETE FROM krtasks_leases WHERE key = %s", (row.key,))
                    new = await out.fetchone()
                    assert new is not None
                    written.append(decode_row(new))
                return written

        return await self.background.run(job)

    async def sweep(self, keys: Sequence[str]) -> int:
        """Delete these finished tasks (retention), :data:`BATCH` per statement, while holding
        :data:`RESCUE_LOCK` (another node sweeping: nothing happens); how many rows went."""

        async def job(conn: Conn) -> int:
            async with conn.transaction():
                got = await (await conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (RESCUE_LOCK,))).fetchone()
                if not got or not got[0]:
                    return 0
                gone = 0
                for start in range(0, len(keys), BATCH):
                    cur = await conn.execute(
                        "DELETE FROM krtasks_tasks WHERE key = ANY(%s) AND state IN ('Completed', 'Failed', 'Stopped')",
                        (list(keys[start : start + BATCH]),),
                    )
                    gone += cur.rowcount
                await conn.execute("DELETE FROM krtasks_removals WHERE at < now() - interval '1 hour'")
                return gone

        return await self.background.run(job)

    # -------------------------------------------------------------- nodes

    async def join(self, info: NodeInfo) -> datetime | None:
        """Register (or take over) this node's row; the previous heartbeat of a row of that id, if any."""

        async def job(conn: Conn) -> datetime | None:
            async with conn.transaction():
                cur = await conn.execute("SELECT heartbeat_at FROM krtasks_nodes WHERE id = %s FOR UPDATE", (info.id,))
                before = await cur.fetchone()
                await conn.execute(
                    "INSERT INTO krtasks_nodes (id, host, pid, version, started_at, heartbeat_at, slots, running) "
                    "VALUES (%s, %s, %s, %s, now(), now(), %s, 0) ON CONFLICT (id) DO UPDATE SET host = excluded.host, "
                    "pid = excluded.pid, version = excluded.version, started_at = now(), heartbeat_at = now(), "
                    "slots = excluded.slots, running = 0",
                    (info.id, info.host, info.pid, info.version, info.slots),
                )
                return None if before is None else before[0]

        return await self.background.run(job)

    async def heartbeat(self, info: NodeInfo) -> None:
        """Stamp this node's heartbeat with the database's ``now()`` and its running count (re-registering a
        row that was pruned while the node was away)."""

        async def job(conn: Conn) -> None:
            await conn.execute(
                "INSERT INTO krtasks_nodes (id, host, pid, version, started_at, heartbeat_at, slots, running) "
                "VALUES (%s, %s, %s, %s, %s, now(), %s, %s) ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(), "
                "running = excluded.running",
                (info.id, info.host, info.pid, info.version, info.started_at, info.slots, info.running),
            )
            cursor = await conn.execute(
                "SELECT COALESCE(sum(pg_total_relation_size(c.oid)), 0)::bigint FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relkind = 'r' AND c.relname LIKE 'krtasks\\_%' AND n.nspname = current_schema()"
            )
            row = await cursor.fetchone()
            self._size_bytes = int(row[0]) if row is not None else 0

        await self.background.run(job)

    async def leave(self, node: str) -> None:
        """Remove this node's row (a clean stop)."""
        await self.background.run(lambda conn: conn.execute("DELETE FROM krtasks_nodes WHERE id = %s", (node,)))

    async def prune_nodes(self, older_than_seconds: float) -> None:
        """Remove the rows of nodes whose heartbeat is older than this (by the database's clock)."""
        await self.background.run(
            lambda conn: conn.execute(
                "DELETE FROM krtasks_nodes WHERE heartbeat_at < now() - make_interval(secs => %s)",
                (older_than_seconds,),
            )
        )

    async def nodes(self) -> list[NodeInfo]:
        """Every registered node, by id."""

        async def job(conn: Conn) -> list[NodeInfo]:
            cur = await conn.execute(
                "SELECT id, host, pid, version, started_at, heartbeat_at, slots, running FROM krtasks_nodes ORDER BY id"
            )
            return [NodeInfo(*r) for r in await cur.fetchall()]

        return await self.background.run(job)
