"""The listening connection: ``LISTEN krtasks`` on a connection of its own, rebuilt whenever it breaks.

PostgreSQL delivers a notification to every listening session when the transaction that sent it commits
(PostgreSQL manual, ``NOTIFY``). A connection that breaks (server restart, ``pg_terminate_backend``,
network) is rebuilt after 0.2 s, doubling up to 5 s; each (re)connection first calls ``on_connect`` so
that what was missed meanwhile is taken in from the change feed. Nothing depends on notifications alone:
the node's poll covers them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import psycopg

from ...store.pglink import Conn, conninfo

log = logging.getLogger("krtasks.cluster")

CHANNEL = "krtasks"
"""The channel the store's triggers notify on."""


class Listener:
    """Listens on :data:`CHANNEL` and hands each payload to ``on_notify`` (on the event loop)."""

    def __init__(
        self,
        dsn: str,
        name: str,
        on_notify: Callable[[str], None],
        on_connect: Callable[[], Awaitable[None]],
    ) -> None:
        self._dsn = dsn
        self._name = name
        self._on_notify = on_notify
        self._on_connect = on_connect
        self._task: asyncio.Task[None] | None = None
        self._conn: Conn | None = None
        self.connections = 0
        """How many times the listening connection was (re)built."""

    def start(self) -> None:
        """Start listening in the background."""
        self._task = asyncio.get_running_loop().create_task(self._run(), name="krtasks-listen")

    async def _run(self) -> None:
        delay = 0.2
        while True:
            try:
                self._conn = await psycopg.AsyncConnection.connect(conninfo(self._dsn, self._name), autocommit=True)
                await self._conn.execute(f"LISTEN {CHANNEL}")
                self.connections += 1
                if self.connections > 1:
                    log.info("the notification connection is back")
                delay = 0.2
                await self._on_connect()
                async for notify in self._conn.notifies():
                    self._on_notify(notify.payload)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # rebuilt below; the poll covers the gap
                log.warning("the notification connection failed (%s); rebuilding it in %.1f s", exc, delay)
            finally:
                await self._drop()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()

    async def stop(self) -> None:
        """Stop listening and close the connection."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._drop()
