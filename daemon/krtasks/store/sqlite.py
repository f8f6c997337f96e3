"""The SQLite task store (the embedded default).

Layout (``<state dir>/tasks.db``, WAL mode, ``synchronous=FULL`` so a commit survives power loss):

- ``tasks``: one row per task; JSON text for Arguments, ExtraImports/ExtraRefs, Progress, Error and Output;
  times ISO 8601 UTC text (``2026-11-29T10:00:00.123456Z``, which sorts chronologically).
- ``records``: stream records ``(task_id, idx, stream, message, time)``, deleted with their task.

The schema version is ``PRAGMA user_version``; :data:`MIGRATIONS` upgrades an older file in place. A
file that cannot be read, is not a KrTasks store, or comes from a newer KrTasks is refused
(:class:`StoreError`) and left untouched; ``reset=True`` moves it aside (timestamped) and starts empty.

One thread owns the connection and runs writes in call order; writes queued while a commit is under way
are committed together in one transaction (group commit), so many concurrent requests cost one fsync.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import sqlite3
import threading
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from ..models import StreamRecord, TaskData
from .base import StoredRecord, StoredTask, StoreError
from .sqlite_schema import (
    ADD_RECORD,
    MIGRATIONS,
    PUT_TASK,
    SCHEMA_VERSION,
    SELECT_TASKS,
    decode_row,
    encode_row,
    migrate,
    move_aside,
)

log = logging.getLogger("krtasks.store")

T = TypeVar("T")

STORE_FILE = "tasks.db"
"""File name of the SQLite store inside the state directory."""

GROUP_COMMIT_MAX = 256
"""Most queued writes committed in one transaction."""


class _Job:
    __slots__ = ("fn", "future")

    def __init__(self, fn: Callable[[sqlite3.Connection], Any]) -> None:
        self.fn = fn
        self.future: Future[Any] = Future()


class SqliteTaskStore:
    """:class:`~krtasks.store.base.TaskStore` in one SQLite file. Construct with :func:`open_store` (or directly).

    ``path``: the database file (created with its directory's permissions; 0600 for a new file).
    ``reset``: move an existing file aside first (see :func:`move_aside`) and start empty.
    ``migrations``: the schema steps (tests pass their own).

    The constructor opens, checks and migrates the file on the store's own thread and blocks until done
    (milliseconds; a ``quick_check`` of a large file adds up to ~0.1 s per 10 MB).

    Raises:
        StoreError: the file is unreadable, corrupt, not a KrTasks store, or of a newer schema version.
    """

    def __init__(self, path: Path, *, reset: bool = False, migrations: Sequence[Sequence[str]] = MIGRATIONS) -> None:
        self.path = Path(path)
        self.moved_aside: Path | None = None
        """Where ``reset`` moved the previous file (None when there was none)."""
        if reset and any(self.path.with_name(self.path.name + s).exists() for s in ("", "-wal", "-shm")):
            self.moved_aside = move_aside(self.path)
            log.warning("task store reset: the previous file was moved to %s", self.moved_aside)
        self._migrations = migrations
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._closed = False
        self._conn: sqlite3.Connection | None = None
        self._thread = threading.Thread(target=self._run, name="krtasks-store", daemon=True)
        self._thread.start()
        try:
            self._call(self._open)
        except BaseException:
            self.close_sync()
            raise

    # -------------------------------------------------------------- the store thread

    def _open(self, _conn: sqlite3.Connection | None) -> None:
        # Create a new file 0600: it holds task code, arguments and results.
        try:
            if not self.path.exists():
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=True)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"The task store {self.path} cannot be opened: {exc}") from exc
        try:
            self._check(conn)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            migrate(conn, self._migrations)
        except StoreError as exc:
            conn.close()
            raise StoreError(f"{self._refusal()}: {exc}. {self._advice()}") from None
        except sqlite3.Error as exc:
            conn.close()
            raise StoreError(f"{self._refusal()}: it cannot be read ({exc}). {self._advice()}") from exc
        self._conn = conn

    def _refusal(self) -> str:
        return f"The task store {self.path} was refused and left untouched"

    @staticmethod
    def _advice() -> str:
        return (
            "Start the daemon once with --reset-store to move it aside (renamed with a UTC timestamp) and "
            "start with an empty store, or use another --state-dir"
        )

    def _check(self, conn: sqlite3.Connection) -> None:
        # Read-only checks before anything writes (journal_mode=WAL already would).
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version > len(self._migrations):
            raise StoreError(
                f"its schema version {version} is newer than this KrTasks understands "
                f"(up to {len(self._migrations)}); upgrade KrTasks"
            )
        if version == 0 and conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
            raise StoreError("it is an SQLite database but not a KrTasks task store")
        problems = [r[0] for r in conn.execute("PRAGMA quick_check").fetchall()]
        if problems != ["ok"]:
            raise StoreError(f"it is corrupt ({'; '.join(problems[:3])})")

    def _run(self) -> None:
        stop = False
        while not stop:
            job = self._queue.get()
            if job is None:
                break
            batch = [job]
            while len(batch) < GROUP_COMMIT_MAX:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
            # A job whose caller cancelled its future before it ran is skipped.
            batch = [j for j in batch if j.future.set_running_or_notify_cancel()]
            if batch:
                self._execute(batch)
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None

    def _execute(self, batch: list[_Job]) -> None:
        conn = self._conn
        if conn is None:  # the open job itself, or anything queued after a failed open
            for job in batch:
                self._settle(job, conn)
            return
        if len(batch) > 1:
            results: list[Any] = []
            try:
                conn.execute("BEGIN IMMEDIATE")
                results.extend(job.fn(conn) for job in batch)
                conn.execute("COMMIT")
            except Exception:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                # One bad write must not fail the others: retry each in its own transaction.
            else:
                for job, result in zip(batch, results, strict=True):
                    job.future.set_result(result)
                return
        for job in batch:
            self._settle(job, conn, transaction=True)

    @staticmethod
    def _settle(job: _Job, conn: sqlite3.Connection | None, transaction: bool = False) -> None:
        try:
            if transaction and conn is not None:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    result = job.fn(conn)
                    conn.execute("COMMIT")
                except BaseException:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                    raise
            else:
                result = job.fn(conn)  # type: ignore[arg-type]
        except BaseException as exc:
            job.future.set_exception(exc)
        else:
            job.future.set_result(result)

    # -------------------------------------------------------------- submitting

    def _submit(self, fn: Callable[[sqlite3.Connection], T]) -> Future[T]:
        if self._closed:
            raise StoreError(f"the task store {self.path} is closed")
        job = _Job(fn)
        self._queue.put(job)
        return job.future

    def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        return self._submit(fn).result()

    def _async(self, fn: Callable[[sqlite3.Connection], T]) -> Awaitable[T]:
        import asyncio

        return asyncio.wrap_future(self._submit(fn))

    # -------------------------------------------------------------- TaskStore

    async def load(self) -> list[StoredTask]:
        """Every stored task with its stream records, ordered by ``seq``.

        Raises:
            sqlite3.Error: the file became unreadable.
            ValueError: a row holds an unknown state or language (written by a newer KrTasks).
        """
        return await self._async(self._load)

    @staticmethod
    def _load(conn: sqlite3.Connection) -> list[StoredTask]:
        tasks: list[StoredTask] = []
        by_id: dict[str, StoredTask] = {}
        for r in conn.execute(SELECT_TASKS):
            t = StoredTask(decode_row(r))
            tasks.append(t)
            by_id[t.data.id.lower()] = t
        current: StoredTask | None = None
        current_id = None
        for task_id, idx, stream, message, when in conn.execute(
            "SELECT task_id, idx, stream, message, time FROM records ORDER BY task_id, idx"
        ):
            if task_id != current_id:
                current_id = task_id
                current = by_id.get(task_id.lower())
            if current is not None:
                current.records.append(StreamRecord(idx, stream, message, when))
        return tasks

    def put(self, tasks: Sequence[TaskData], records: Sequence[StoredRecord] = ()) -> Awaitable[None]:
        """Insert or replace the rows of ``tasks``, then append ``records``: one transaction (JSON encoding
        happens on the store thread)."""
        snapshot = list(tasks)
        batch = list(records)

        def job(conn: sqlite3.Connection) -> None:
            conn.executemany(PUT_TASK, [encode_row(t) for t in snapshot])
            if batch:
                conn.executemany(ADD_RECORD, batch)

        return self._async(job)

    def add_records(self, records: Sequence[StoredRecord]) -> Awaitable[None]:
        """Append stream records in one transaction (see :meth:`~krtasks.store.base.TaskStore.add_records`)."""
        batch = list(records)

        def job(conn: sqlite3.Connection) -> None:
            conn.executemany(ADD_RECORD, batch)

        return self._async(job)

    def delete(self, task_ids: Sequence[str]) -> Awaitable[None]:
        """Delete tasks and (by cascade) their records in one transaction."""
        ids = [(i,) for i in task_ids]

        def job(conn: sqlite3.Connection) -> None:
            conn.executemany("DELETE FROM tasks WHERE id = ?", ids)

        return self._async(job)

    def count(self) -> tuple[int, int]:
        """``(tasks, records)`` stored now (blocking; for tests and diagnostics)."""
        return self._call(
            lambda c: (
                c.execute("SELECT count(*) FROM tasks").fetchone()[0],
                c.execute("SELECT count(*) FROM records").fetchone()[0],
            )
        )

    async def close(self) -> None:
        """Commit what is queued, close the file and stop the thread; idempotent."""
        import asyncio

        await asyncio.get_running_loop().run_in_executor(None, self.close_sync)

    def close_sync(self) -> None:
        """:meth:`close` for code outside an event loop (blocks until the queued writes are committed)."""
        if not self._closed:
            self._closed = True
            self._queue.put(None)
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()


def open_store(state_dir: Path, reset: bool = False) -> SqliteTaskStore:
    """Open (creating or migrating) ``<state_dir>/tasks.db`` for the daemon; blocks for milliseconds.

    ``reset``: first move an existing store aside as ``tasks.db.reset-<UTC timestamp>`` (with its
    ``-wal``/``-shm`` files) and start empty; nothing is deleted. This is ``krtasks serve --reset-store``.
    The caller closes the store (:meth:`SqliteTaskStore.close`) after ``TaskService.close()``.

    Raises:
        StoreError: the existing store is unreadable, corrupt, not a KrTasks store or of a newer schema;
            the message names the file and suggests ``--reset-store``. The file is left untouched.
    """
    return SqliteTaskStore(Path(state_dir) / STORE_FILE, reset=reset)


__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "STORE_FILE", "SqliteTaskStore", "migrate", "move_aside", "open_store"]
