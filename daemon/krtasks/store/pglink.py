"""Connections to PostgreSQL (psycopg 3, async): one per role, rebuilt when they break; DSNs without passwords.

A node uses a few long-lived connections, each for one role (commands and run writes, background work,
listening), each used by one coroutine at a time (:class:`Link` serialises them with a lock), so writes
of one role reach the server in call order. Every connection is in autocommit mode with ``TimeZone=UTC``
and ``application_name=krtasks <node> <role>`` (visible in ``pg_stat_activity``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

log = logging.getLogger("krtasks.store")

T = TypeVar("T")

Conn = psycopg.AsyncConnection[tuple[Any, ...]]


def is_postgres_dsn(text: str) -> bool:
    """True for a ``postgresql://`` or ``postgres://`` URI (what ``--store`` takes for the shared store)."""
    return text.startswith(("postgresql://", "postgres://"))


def redact(dsn: str) -> str:
    """``dsn`` as ``key=value`` pairs without its password (for logs and error messages); an unparsable
    one as ``<unparsable DSN>``."""
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "<unparsable DSN>"
    params.pop("password", None)
    return make_conninfo(**{k: str(v) for k, v in params.items()})


def conninfo(dsn: str, application_name: str) -> str:
    """``dsn`` with ``application_name`` and a UTC session time zone (libpq ``options``)."""
    return make_conninfo(dsn, application_name=application_name[:63], options="-c TimeZone=UTC")


class Link:
    """One connection for one role: connected on first use, rebuilt after it broke.

    ``dsn``: libpq connection string or URI; ``name``: its ``application_name``.
    """

    def __init__(self, dsn: str, name: str) -> None:
        self._dsn = dsn
        self.name = name
        self._conn: Conn | None = None
        self._lock = asyncio.Lock()
        self._closed = False

    async def _connection(self) -> Conn:
        conn = self._conn
        if conn is not None and not conn.closed and not conn.broken:
            return conn
        if self._closed:
            raise psycopg.OperationalError(f"the connection '{self.name}' is closed")
        self._conn = await psycopg.AsyncConnection.connect(conninfo(self._dsn, self.name), autocommit=True)
        return self._conn

    async def run(self, fn: Callable[[Conn], Awaitable[T]]) -> T:
        """Run ``fn`` with the connection, alone. A connection found broken is replaced first; one that breaks
        during ``fn`` is dropped (the next call reconnects) and the error propagates.

        Raises:
            psycopg.Error: the server's or the network's error.
        """
        async with self._lock:
            conn = await self._connection()
            try:
                return await fn(conn)
            except psycopg.OperationalError:
                if conn.broken or conn.closed:
                    self._conn = None
                    with contextlib.suppress(Exception):
                        await conn.close()
                raise

    async def close(self) -> None:
        """Close the connection (waiting for the call in progress); idempotent."""
        self._closed = True
        async with self._lock:
            if self._conn is not None:
                with contextlib.suppress(Exception):
                    await self._conn.close()
                self._conn = None
