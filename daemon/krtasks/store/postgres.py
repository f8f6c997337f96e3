"""The PostgreSQL task store: several daemons ("nodes") share one task set (``--store postgresql://…``).

It implements :class:`~krtasks.store.base.TaskStore` (load, put, add_records, delete, close) and the
statements a node needs on top (:mod:`krtasks.core.cluster` drives them): inserting a task, changing one
under its row lock, the change feed; claims, fenced writes of runs, leases, rescue and nodes are in
:mod:`krtasks.store.postgres_cluster`. Every method is a coroutine on the caller's event loop (psycopg 3's
async API).

Schema and row codec: :mod:`krtasks.store.postgres_schema`. Connections: :mod:`krtasks.store.pglink`.
The DSN's password never reaches a log line or an error message (:func:`~krtasks.store.pglink.redact`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg

from ..models import StreamRecord, TaskData
from .base import StoredRecord, StoredTask, StoreError
from .pglink import Conn, redact
from .postgres_cluster import SET_MUTABLE, ClusterStatements
from .postgres_schema import (
    COLUMNS,
    INSERT_COLUMNS,
    MIGRATIONS,
    Row,
    decode_row,
    encode,
    encode_mutable,
    key_of,
    migrate,
)

T = TypeVar("T")

_SELECT = f"SELECT {COLUMNS} FROM krtasks_tasks"


@dataclass(frozen=True, slots=True)
class Feed:
    """What changed since the previous poll: the rows, the removed keys and the horizon to ask from next."""

    horizon: str
    rows: list[Row]
    removed: list[str]


class PostgresTaskStore(ClusterStatements):
    """The shared store over one database. Construct with :func:`open_postgres_store` (which migrates).

    ``dsn``: libpq URI or connection string; ``node``: the id this daemon uses in ``application_name``.
    """

    shared = True
    """Marks a store that several daemons share (the service runs as a node of a cluster)."""

    def size_bytes(self) -> int:
        """Bytes of the KrTasks tables with their indexes and TOAST (``pg_total_relation_size``), as of this
        node's last heartbeat (0 before the first)."""
        return self._size_bytes

    # -------------------------------------------------------------- TaskStore

    async def load(self) -> list[StoredTask]:
        """Every task with its records, in ``seq`` order."""
        rows, records = await self.background.run(self._load)
        return [StoredTask(r.data, records.get(r.key, [])) for r in rows]

    async def rows(self) -> tuple[list[Row], dict[str, list[StreamRecord]]]:
        """Every row (``seq`` order) and the stream records by key."""
        return await self.background.run(self._load)

    @staticmethod
    async def _load(conn: Conn) -> tuple[list[Row], dict[str, list[StreamRecord]]]:
        rows = [decode_row(r) for r in await (await conn.execute(_SELECT + " ORDER BY seq")).fetchall()]
        records: dict[str, list[StreamRecord]] = {}
        cur = await conn.execute("SELECT key, idx, stream, message, time FROM krtasks_records ORDER BY key, idx")
        for key, idx, stream, message, when in await cur.fetchall():
            records.setdefault(str(key), []).append(StreamRecord(idx, stream, message, when))
        return rows, records

    def put(self, tasks: Sequence[TaskData], records: Sequence[StoredRecord] = ()) -> Awaitable[None]:
        """Insert or replace these tasks' rows (all columns) and append ``records``, in one transaction (for
        seeding and tools, not for a live cluster)."""
        params = [encode(t) for t in tasks]
        batch = [(key_of(r[0]), *r[1:]) for r in records]
        columns = ", ".join(INSERT_COLUMNS)
        values = ", ".join(f"%({c})s" for c in INSERT_COLUMNS)
        update = ", ".join(f"{c} = excluded.{c}" for c in INSERT_COLUMNS[1:])
        sql = f"INSERT INTO krtasks_tasks ({columns}) VALUES ({values}) ON CONFLICT (key) DO UPDATE SET {update}"

        async def job(conn: Conn) -> None:
            async with conn.transaction():
                if params:
                    async with conn.cursor() as cur:
                        await cur.executemany(sql, params)
                        await cur.execute("SELECT setval('krtasks_task_seq', greatest(max(seq), 1)) FROM krtasks_tasks")
                await self._insert_records(conn, batch)
                await self._count_records(conn, batch)

        return self._submit(job)

    def add_records(self, records: Sequence[StoredRecord]) -> Awaitable[None]:
        """Append stream records (those of unknown tasks dropped, repeated indexes ignored)."""
        return self.put((), records)

    @staticmethod
    async def _count_records(conn: Conn, batch: Sequence[tuple[Any, ...]]) -> None:
        """Bring ``records_count`` of the batch's tasks up to their stored records (a fenced write of a run
        counts its own in the same statement; this is for records written outside a run)."""
        if not batch:
            return
        await conn.execute(
            "UPDATE krtasks_tasks t SET records_count = m.n FROM (SELECT key, max(idx) + 1 AS n FROM krtasks_records "
            "WHERE key = ANY(%s) GROUP BY key) m WHERE t.key = m.key AND t.records_count < m.n",
            (sorted({r[0] for r in batch}),),
        )

    def delete(self, task_ids: Sequence[str]) -> Awaitable[None]:
        """Remove these tasks and their records, whatever their state."""
        keys = [key_of(i) for i in task_ids]

        async def job(conn: Conn) -> None:
            await conn.execute("DELETE FROM krtasks_tasks WHERE key = ANY(%s)", (keys,))

        return self._submit(job)

    async def close(self) -> None:
        """Wait for the writes in flight, then close the connections; idempotent."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)
        await self.writes.close()
        await self.background.close()

    def close_sync(self) -> None:
        """Nothing is left to do outside the event loop (:meth:`close` released everything)."""

    # -------------------------------------------------------------- commands

    async def insert(self, data: TaskData, queued: bool) -> Row | None:
        """Insert a new task (``seq`` from the database's sequence; ``queued_at`` now when ``queued``);
        None when a task already has its id."""
        params = encode(data)
        columns = [c for c in INSERT_COLUMNS if c != "seq"]
        sql = (
            f"INSERT INTO krtasks_tasks ({', '.join(columns)}, queued_at) "
            f"VALUES ({', '.join(f'%({c})s' for c in columns)}, CASE WHEN %(queued)s THEN now() END) "
            f"ON CONFLICT (key) DO NOTHING RETURNING {COLUMNS}"
        )

        async def job(conn: Conn) -> Row | None:
            row = await (await conn.execute(sql, {**params, "queued": queued})).fetchone()
            return None if row is None else decode_row(row)

        return await self._submit(job)

    async def change(self, task_id: str, mutate: Callable[[Row], T]) -> tuple[T, Row] | None:
        """Lock the task's row, let ``mutate`` change ``row.data`` (it may raise to refuse: nothing is written),
        then write its :data:`~krtasks.store.postgres_schema.MUTABLE` columns back, with ``queued_at`` set
        when it entered Queued. Returns ``mutate``'s result and the row written; None for an unknown id."""
        key = key_of(task_id)

        async def job(conn: Conn) -> tuple[T, Row] | None:
            async with conn.transaction():
                found = await (await conn.execute(_SELECT + " WHERE key = %s FOR UPDATE", (key,))).fetchone()
                if found is None:
                    return None
                row = decode_row(found)
                was = row.data.state
                result = mutate(row)
                queued = row.data.state.value == "Queued" and was != row.data.state
                written = await (
                    await conn.execute(
                        f"UPDATE krtasks_tasks SET {SET_MUTABLE}, cancel_requested = %(cancel)s, "
                        "queued_at = CASE WHEN %(queued)s THEN now() ELSE queued_at END "
                        f"WHERE key = %(key)s RETURNING {COLUMNS}",
                        {**encode_mutable(row.data), "cancel": row.cancel_requested, "queued": queued, "key": key},
                    )
                ).fetchone()
                assert written is not None
                return result, decode_row(written)

        return await self._submit(job)

    async def remove(self, keys: Sequence[str], may_remove: Callable[[list[Row]], None]) -> list[str]:
        """Delete these tasks (and their records) in one transaction once ``may_remove`` accepted their
        locked rows (it raises to refuse: nothing is deleted). Returns the keys deleted."""

        async def job(conn: Conn) -> list[str]:
            async with conn.transaction():
                cur = await conn.execute(_SELECT + " WHERE key = ANY(%s) ORDER BY key FOR UPDATE", (list(keys),))
                may_remove([decode_row(r) for r in await cur.fetchall()])
                cur = await conn.execute("DELETE FROM krtasks_tasks WHERE key = ANY(%s) RETURNING key", (list(keys),))
                return [str(r[0]) for r in await cur.fetchall()]

        return await self._submit(job)

    # -------------------------------------------------------------- reading

    async def horizon(self) -> str:
        """The change-feed position now (the current snapshot's ``xmin``), for a first :meth:`feed`."""

        async def job(conn: Conn) -> str:
            row = await (await conn.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text")).fetchone()
            assert row is not None
            return str(row[0])

        return await self.background.run(job)

    async def feed(self, horizon: str) -> Feed:
        """Rows written and keys removed by transactions not visible at ``horizon`` (see the schema module's
        docstring), with the horizon to ask from next."""

        async def job(conn: Conn) -> Feed:
            row = await (await conn.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text")).fetchone()
            assert row is not None
            cur = await conn.execute(_SELECT + " WHERE xid >= %s::xid8 ORDER BY seq", (horizon,))
            rows = [decode_row(r) for r in await cur.fetchall()]
            cur = await conn.execute("SELECT DISTINCT key FROM krtasks_removals WHERE xid >= %s::xid8", (horizon,))
            return Feed(str(row[0]), rows, [str(r[0]) for r in await cur.fetchall()])

        return await self.background.run(job)

    async def fetch(self, keys: Sequence[str]) -> list[Row]:
        """The rows of these keys that exist."""

        async def job(conn: Conn) -> list[Row]:
            cur = await conn.execute(_SELECT + " WHERE key = ANY(%s) ORDER BY seq", (list(keys),))
            return [decode_row(r) for r in await cur.fetchall()]

        return await self.background.run(job)

    async def records(self, wanted: Sequence[tuple[str, int]]) -> dict[str, list[StreamRecord]]:
        """Stream records from index ``since`` on for each ``(key, since)``, by key, in index order."""
        if not wanted:
            return {}

        async def job(conn: Conn) -> dict[str, list[StreamRecord]]:
            cur = await conn.execute(
                "SELECT r.key, r.idx, r.stream, r.message, r.time FROM unnest(%s::text[], %s::int[]) AS w (key, since) "
                "JOIN krtasks_records r ON r.key = w.key AND r.idx >= w.since ORDER BY r.key, r.idx",
                ([k for k, _ in wanted], [s for _, s in wanted]),
            )
            out: dict[str, list[StreamRecord]] = {}
            for key, idx, stream, message, when in await cur.fetchall():
                out.setdefault(str(key), []).append(StreamRecord(idx, stream, message, when))
            return out

        return await self.background.run(job)


def open_postgres_store(
    dsn: str, node: str = "krtasks", *, migrations: Sequence[Sequence[str]] = MIGRATIONS
) -> PostgresTaskStore:
    """Check and create or migrate the schema (blocking, before the event loop runs), then return the store.

    Raises:
        StoreError: the server cannot be reached, or the schema is newer, foreign or fails to migrate; the
            message names the database without its password.
    """
    where = redact(dsn)
    try:
        with psycopg.connect(dsn, autocommit=True, application_name=f"krtasks {node} migrate"[:63]) as conn:
            migrate(conn, migrations)
    except StoreError as exc:
        raise StoreError(f"The task store {where} was refused and left untouched: {exc}") from None
    except psycopg.Error as exc:
        raise StoreError(f"The task store {where} cannot be opened: {str(exc).strip()}") from None
    return PostgresTaskStore(dsn, node)
