"""The SQLite store's schema: migrations, the row codec and its statements, and moving a file aside.

The schema version is ``PRAGMA user_version``; ``MIGRATIONS[v]`` takes a store from version ``v`` to
``v + 1``. Rows hold JSON text for Arguments, ExtraImports/ExtraRefs, Progress, Error and Output, and times
as ISO 8601 UTC text (``2026-11-29T10:00:00.123456Z``, which sorts chronologically).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from ..models import Language, Progress, TaskData, TaskErrorInfo, TaskState
from ..records import iso, utc_now
from .base import StoreError
from .codec import dumps as _dumps
from .codec import loads as _loads

MIGRATIONS: list[list[str]] = [
    # 0 → 1: the first schema.
    [
        """CREATE TABLE tasks (
            id TEXT PRIMARY KEY COLLATE NOCASE,
            seq INTEGER NOT NULL,
            name TEXT NOT NULL,
            description TEXT NOT NULL,
            language TEXT NOT NULL,
            code TEXT NOT NULL,
            arguments TEXT NOT NULL,
            timeout_seconds REAL,
            parent_id TEXT NOT NULL,
            extra_imports TEXT NOT NULL,
            extra_refs TEXT NOT NULL,
            state TEXT NOT NULL,
            created_at TEXT NOT NULL,
            started_at TEXT,
            completed_at TEXT,
            progress TEXT NOT NULL,
            error TEXT,
            output TEXT NOT NULL
        )""",
        "CREATE INDEX tasks_completed_at ON tasks (completed_at)",
        """CREATE TABLE records (
            task_id TEXT NOT NULL COLLATE NOCASE REFERENCES tasks (id) ON DELETE CASCADE,
            idx INTEGER NOT NULL,
            stream TEXT NOT NULL,
            message TEXT NOT NULL,
            time TEXT NOT NULL,
            PRIMARY KEY (task_id, idx)
        ) WITHOUT ROWID""",
    ],
    # 1 → 2: worker processes (tasks of older stores ran in the daemon's threads), the CliXml form.
    [
        "ALTER TABLE tasks ADD COLUMN isolation TEXT NOT NULL DEFAULT 'thread'",
        "ALTER TABLE tasks ADD COLUMN max_memory_mb INTEGER",
        "ALTER TABLE tasks ADD COLUMN working_directory TEXT",
        "ALTER TABLE tasks ADD COLUMN environment TEXT NOT NULL DEFAULT '{}'",
        "ALTER TABLE tasks ADD COLUMN arguments_clixml TEXT",
        "ALTER TABLE tasks ADD COLUMN clixml_depth INTEGER",
        "ALTER TABLE tasks ADD COLUMN output_clixml TEXT",
    ],
    # 2 → 3: runspace reuse (ReuseRunspace).
    ["ALTER TABLE tasks ADD COLUMN reuse_runspace INTEGER NOT NULL DEFAULT 0"],
]
"""Schema migrations: ``MIGRATIONS[v]`` holds the statements that take a store from version ``v`` to
``v + 1``; each runs in one transaction with the version bump. Append, never edit a released entry."""

SCHEMA_VERSION = len(MIGRATIONS)
"""The schema version this KrTasks writes (``PRAGMA user_version``)."""


def _time(text: str | None) -> datetime | None:
    # Python 3.11's fromisoformat reads the "...Z" form that records.iso writes, as UTC.
    return None if text is None else datetime.fromisoformat(text)


def _required_time(text: str) -> datetime:
    value = _time(text)
    if value is None:
        raise ValueError("a stored task has no CreatedAt")
    return value


def encode_row(t: TaskData) -> tuple[Any, ...]:
    """A task as a ``tasks`` row (the columns of :data:`COLUMNS`, JSON as text, times as :func:`iso` text)."""
    return (
        t.id,
        t.seq,
        t.name,
        t.description,
        t.language.value,
        t.code,
        _dumps(t.arguments),
        t.timeout_seconds,
        t.parent_id,
        _dumps(t.extra_imports),
        _dumps(t.extra_refs),
        t.state.value,
        iso(t.created_at),
        iso(t.started_at),
        iso(t.completed_at),
        _dumps(t.progress.to_json()),
        None if t.error is None else _dumps(t.error.to_json()),
        _dumps(t.output),
        t.isolation,
        t.max_memory_mb,
        t.working_directory,
        _dumps(t.environment),
        t.arguments_clixml,
        t.clixml_depth,
        t.output_clixml,
        int(t.reuse_runspace),
    )


COLUMNS = (
    "id, seq, name, description, language, code, arguments, timeout_seconds, parent_id, extra_imports, "
    "extra_refs, state, created_at, started_at, completed_at, progress, error, output, isolation, max_memory_mb, "
    "working_directory, environment, arguments_clixml, clixml_depth, output_clixml, reuse_runspace"
)
# An upsert, not INSERT OR REPLACE: REPLACE deletes the old row first, and the cascade would take its records.
PUT_TASK = f"INSERT INTO tasks ({COLUMNS}) VALUES ({', '.join('?' * 26)}) ON CONFLICT (id) DO UPDATE SET " + ", ".join(
    f"{c} = excluded.{c}" for c in COLUMNS.split(", ")[1:]
)
# Records of a task deleted meanwhile are dropped here rather than failing the whole batch on the FK.
ADD_RECORD = (
    "INSERT OR IGNORE INTO records (task_id, idx, stream, message, time) "
    "SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM tasks WHERE id = ?1)"
)


def _stamp(now: datetime) -> str:
    return now.strftime("%Y%m%dT%H%M%S%fZ")


def move_aside(path: Path, now: datetime | None = None) -> Path:
    """Rename ``path`` and its ``-wal``/``-shm`` companions to ``<name>.reset-<UTC timestamp>[-wal|-shm]``;
    return the new main file's path (it may not exist when only companions did). Nothing is deleted."""
    target = path.with_name(f"{path.name}.reset-{_stamp(now or utc_now())}")
    for suffix in ("", "-wal", "-shm"):
        src = path.with_name(path.name + suffix)
        if src.exists():
            os.replace(src, target.with_name(target.name + suffix))
    return target


def migrate(conn: sqlite3.Connection, migrations: Sequence[Sequence[str]] = MIGRATIONS) -> int:
    """Bring an open, checked store to ``len(migrations)``; return the version it had. Each step runs in
    its own transaction (the connection must be in autocommit mode, ``isolation_level=None``).

    Raises:
        StoreError: the file's version is newer than ``len(migrations)``, or a migration step failed (that
            step is rolled back; earlier steps stay applied).
    """
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > len(migrations):
        raise StoreError(f"schema version {version} is newer than this KrTasks understands (up to {len(migrations)})")
    for step in range(version, len(migrations)):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in migrations[step]:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {step + 1}")
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            conn.execute("ROLLBACK")
            raise StoreError(
                f"the migration from schema version {step} to {step + 1} failed ({exc}) and was rolled back"
            ) from exc
    return version


SELECT_TASKS = f"SELECT {COLUMNS} FROM tasks ORDER BY seq"
"""Every task row in creation order."""


def decode_row(r: Sequence[Any]) -> TaskData:
    """Inverse of :func:`encode_row`.

    Raises:
        ValueError: an unknown state or language (a newer KrTasks wrote it), or no CreatedAt.
    """
    error = _loads(r[16])
    return TaskData(
        id=r[0],
        seq=r[1],
        name=r[2],
        description=r[3],
        language=Language(r[4]),
        code=r[5],
        arguments=_loads(r[6]),
        timeout_seconds=r[7],
        parent_id=r[8],
        extra_imports=_loads(r[9]),
        extra_refs=_loads(r[10]),
        state=TaskState(r[11]),
        created_at=_required_time(r[12]),
        started_at=_time(r[13]),
        completed_at=_time(r[14]),
        progress=Progress.from_json(_loads(r[15])),
        error=None if error is None else TaskErrorInfo.from_json(error),
        output=_loads(r[17]),
        isolation="process" if r[18] == "process" else "thread",
        max_memory_mb=r[19],
        working_directory=r[20],
        environment=_loads(r[21]),
        arguments_clixml=r[22],
        clixml_depth=r[23],
        output_clixml=r[24],
        reuse_runspace=bool(r[25]),
    )
