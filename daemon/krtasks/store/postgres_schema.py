"""The PostgreSQL store's schema: versioned migrations (taken under an advisory lock) and the row codec.

Tables (all prefixed ``krtasks_`` so the store can share a database with other applications):

- ``krtasks_schema``: one row, the schema version (``MIGRATIONS[v]`` takes it from ``v`` to ``v + 1``).
- ``krtasks_tasks``: one row per task, keyed by ``key`` (the id folded to lower case: ids compare
  case-insensitively). JSON values are text (as in the SQLite store; ``jsonb`` would reorder object keys);
  times are ``timestamptz``. ``node``/``attempt`` say which node claimed the current run and how many
  claims there were; ``cancel_requested`` asks that node to stop it; ``records_count`` is how many stream
  records are stored. Triggers keep ``version`` (+1 on every change) and ``xid`` (the writing transaction,
  ``pg_current_xact_id()``) current and announce every change with ``NOTIFY krtasks``.
- ``krtasks_records``: stream records, deleted with their task.
- ``krtasks_leases``: one row per claimed run ``(key, node, attempt, expires_at)``; renewing a lease touches
  only this table, so it announces nothing.
- ``krtasks_nodes``: one row per live node (id, host, pid, started, heartbeat, slots, running).
- ``krtasks_removals``: ``(key, xid)`` of deleted tasks, so a node that polls learns of removals too.

Notifications on channel ``krtasks`` (payload): ``t:<key>`` a task's row changed (inserted or updated),
``d:<key>`` it was deleted, ``q`` a task entered Queued.

The change feed a node polls (:data:`FEED`) relies on PostgreSQL's transaction snapshots: every row a
transaction writes carries its ``xid``; a transaction that is not visible to a snapshot has an xid at least
the snapshot's ``xmin`` (``pg_snapshot_xmin``, PostgreSQL manual §9.28 "Transaction ID and Snapshot
Information Functions"), so asking for ``xid >= xmin of the previous poll's snapshot`` misses no commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..models import Language, Progress, TaskData, TaskErrorInfo, TaskState
from .base import StoreError
from .codec import dumps, loads

MIGRATION_LOCK = 0x4B725461736B73
"""``pg_advisory_lock`` key held while the schema is checked and migrated ("KrTasks" in ASCII)."""

MIGRATIONS: list[list[str]] = [
    # 0 → 1: the first schema.
    [
        "CREATE SEQUENCE krtasks_task_seq",
        """CREATE TABLE krtasks_tasks (
            key text PRIMARY KEY,
            id text NOT NULL,
            seq bigint NOT NULL DEFAULT nextval('krtasks_task_seq'),
            name text NOT NULL,
            description text NOT NULL,
            language text NOT NULL,
            code text NOT NULL,
            arguments text NOT NULL,
            timeout_seconds double precision,
            parent_id text NOT NULL,
            parent_key text NOT NULL,
            extra_imports text NOT NULL,
            extra_refs text NOT NULL,
            state text NOT NULL,
            created_at timestamptz NOT NULL,
            queued_at timestamptz,
            started_at timestamptz,
            completed_at timestamptz,
            progress text NOT NULL,
            error text,
            output text NOT NULL,
            isolation text NOT NULL,
            max_memory_mb integer,
            working_directory text,
            environment text NOT NULL,
            arguments_clixml text,
            clixml_depth integer,
            output_clixml text,
            node text,
            attempt integer NOT NULL DEFAULT 0,
            cancel_requested boolean NOT NULL DEFAULT false,
            records_count integer NOT NULL DEFAULT 0,
            version bigint NOT NULL DEFAULT 1,
            xid xid8 NOT NULL DEFAULT pg_current_xact_id()
        )""",
        "CREATE INDEX krtasks_tasks_claim ON krtasks_tasks (queued_at, seq) WHERE state = 'Queued'",
        "CREATE INDEX krtasks_tasks_seq ON krtasks_tasks (seq)",
        "CREATE INDEX krtasks_tasks_state ON krtasks_tasks (state, seq)",
        "CREATE INDEX krtasks_tasks_language ON krtasks_tasks (language, seq)",
        "CREATE INDEX krtasks_tasks_parent ON krtasks_tasks (parent_key, seq)",
        "CREATE INDEX krtasks_tasks_name ON krtasks_tasks (lower(name) text_pattern_ops)",
        "CREATE INDEX krtasks_tasks_completed ON krtasks_tasks (completed_at) WHERE completed_at IS NOT NULL",
        "CREATE INDEX krtasks_tasks_xid ON krtasks_tasks (xid)",
        """CREATE TABLE krtasks_records (
            key text NOT NULL REFERENCES krtasks_tasks (key) ON DELETE CASCADE,
            idx integer NOT NULL,
            stream text NOT NULL,
            message text NOT NULL,
            time text NOT NULL,
            PRIMARY KEY (key, idx)
        )""",
        """CREATE TABLE krtasks_leases (
            key text PRIMARY KEY REFERENCES krtasks_tasks (key) ON DELETE CASCADE,
            node text NOT NULL,
            attempt integer NOT NULL,
            expires_at timestamptz NOT NULL
        )""",
        "CREATE INDEX krtasks_leases_node ON krtasks_leases (node)",
        "CREATE INDEX krtasks_leases_expiry ON krtasks_leases (expires_at)",
        """CREATE TABLE krtasks_nodes (
            id text PRIMARY KEY,
            host text NOT NULL,
            pid integer NOT NULL,
            version text NOT NULL,
            started_at timestamptz NOT NULL,
            heartbeat_at timestamptz NOT NULL,
            slots integer NOT NULL,
            running integer NOT NULL DEFAULT 0
        )""",
        "CREATE TABLE krtasks_removals (key text NOT NULL, xid xid8 NOT NULL, at timestamptz NOT NULL DEFAULT now())",
        "CREATE INDEX krtasks_removals_xid ON krtasks_removals (xid)",
        """CREATE FUNCTION krtasks_touch() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'UPDATE' THEN
                NEW.version := OLD.version + 1;
            END IF;
            NEW.xid := pg_current_xact_id();
            RETURN NEW;
        END $$""",
        """CREATE TRIGGER krtasks_tasks_touch BEFORE INSERT OR UPDATE ON krtasks_tasks
            FOR EACH ROW EXECUTE FUNCTION krtasks_touch()""",
        """CREATE FUNCTION krtasks_announce() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' THEN
                INSERT INTO krtasks_removals (key, xid) VALUES (OLD.key, pg_current_xact_id());
                PERFORM pg_notify('krtasks', 'd:' || OLD.key);
                RETURN OLD;
            END IF;
            PERFORM pg_notify('krtasks', 't:' || NEW.key);
            IF NEW.state = 'Queued' AND (TG_OP = 'INSERT' OR OLD.state <> 'Queued') THEN
                PERFORM pg_notify('krtasks', 'q');
            END IF;
            RETURN NEW;
        END $$""",
        """CREATE TRIGGER krtasks_tasks_announce AFTER INSERT OR UPDATE OR DELETE ON krtasks_tasks
            FOR EACH ROW EXECUTE FUNCTION krtasks_announce()""",
    ],
    # 1 → 2: runspace reuse (ReuseRunspace), as the SQLite store's schema 3.
    ["ALTER TABLE krtasks_tasks ADD COLUMN reuse_runspace boolean NOT NULL DEFAULT false"],
    # 2 → 3: a change's notification carries the row's new version (t:<key>:<version>), so a node that
    # already has that version (its own write, or a row it fetched) skips the fetch.
    [
        """CREATE OR REPLACE FUNCTION krtasks_announce() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' THEN
                INSERT INTO krtasks_removals (key, xid) VALUES (OLD.key, pg_current_xact_id());
                PERFORM pg_notify('krtasks', 'd:' || OLD.key);
                RETURN OLD;
            END IF;
            PERFORM pg_notify('krtasks', 't:' || NEW.key || ':' || NEW.version);
            IF NEW.state = 'Queued' AND (TG_OP = 'INSERT' OR OLD.state <> 'Queued') THEN
                PERFORM pg_notify('krtasks', 'q');
            END IF;
            RETURN NEW;
        END $$"""
    ],
]
"""Schema migrations: ``MIGRATIONS[v]`` takes a database from version ``v`` to ``v + 1``; each step runs in
one transaction with the version bump. Append, never edit a released entry."""

SCHEMA_VERSION = len(MIGRATIONS)
"""The schema version this KrTasks writes."""


def migrate(conn: Any, migrations: Sequence[Sequence[str]] = MIGRATIONS) -> int:
    """Create or upgrade the schema over a synchronous psycopg connection (autocommit); return the version
    the database had (0: empty). Holds the session advisory lock :data:`MIGRATION_LOCK` throughout, so
    daemons starting at once migrate one after the other and the later ones find the work done.

    Raises:
        StoreError: the schema is newer than ``len(migrations)``, the database holds ``krtasks_`` tables
            without a version, or a step failed (rolled back; earlier steps stay applied).
    """
    conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
    try:
        if conn.execute("SELECT to_regclass('krtasks_schema')").fetchone()[0] is None:
            if conn.execute("SELECT to_regclass('krtasks_tasks')").fetchone()[0] is not None:
                raise StoreError("it has a krtasks_tasks table but no krtasks_schema: not a KrTasks store")
            version = 0
        else:
            row = conn.execute("SELECT version FROM krtasks_schema").fetchone()
            version = 0 if row is None else int(row[0])
        if version > len(migrations):
            raise StoreError(
                f"its schema version {version} is newer than this KrTasks understands "
                f"(up to {len(migrations)}); upgrade KrTasks"
            )
        for step in range(version, len(migrations)):
            try:
                with conn.transaction():
                    if step == 0:
                        conn.execute("CREATE TABLE krtasks_schema (version integer NOT NULL)")
                        conn.execute("INSERT INTO krtasks_schema VALUES (0)")
                    for statement in migrations[step]:
                        conn.execute(statement)
                    conn.execute("UPDATE krtasks_schema SET version = %s", (step + 1,))
            except StoreError:
                raise
            except Exception as exc:
                raise StoreError(
                    f"the migration from schema version {step} to {step + 1} failed ({exc}) and was rolled back"
                ) from exc
        return version
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))


# ---------------------------------------------------------------------------------------- the row codec

COLUMNS = (
    "key, id, seq, name, description, language, code, arguments, timeout_seconds, parent_id, parent_key, "
    "extra_imports, extra_refs, state, created_at, started_at, completed_at, progress, error, output, isolation, "
    "max_memory_mb, working_directory, environment, arguments_clixml, clixml_depth, output_clixml, reuse_runspace, "
    "node, attempt, version, cancel_requested, records_count"
)
"""The columns :func:`decode_row` reads, in order."""

INSERT_COLUMNS = COLUMNS.split(", ")[:30]
"""The columns a task's data fills (``seq`` included; the store passes ``DEFAULT`` semantics through SQL)."""

MUTABLE = (
    "name",
    "description",
    "state",
    "started_at",
    "completed_at",
    "progress",
    "error",
    "output",
    "output_clixml",
)
"""The columns a command or a run may change after creation."""


def key_of(task_id: str) -> str:
    """The stored key of an id (ids compare case-insensitively, as :func:`krtasks.core.registry.key`)."""
    return str(task_id).lower()


def encode(t: TaskData) -> dict[str, Any]:
    """A task as named parameters for :data:`INSERT_COLUMNS` (JSON as text, times as datetimes)."""
    return {
        "key": key_of(t.id),
        "id": t.id,
        "seq": t.seq,
        "name": t.name,
        "description": t.description,
        "language": t.language.value,
        "code": t.code,
        "arguments": dumps(t.arguments),
        "timeout_seconds": t.timeout_seconds,
        "parent_id": t.parent_id,
        "parent_key": key_of(t.parent_id),
        "extra_imports": dumps(t.extra_imports),
        "extra_refs": dumps(t.extra_refs),
        "state": t.state.value,
        "created_at": t.created_at,
        "started_at": t.started_at,
        "completed_at": t.completed_at,
        "progress": dumps(t.progress.to_json()),
        "error": None if t.error is None else dumps(t.error.to_json()),
        "output": dumps(t.output),
        "isolation": t.isolation,
        "max_memory_mb": t.max_memory_mb,
        "working_directory": t.working_directory,
        "environment": dumps(t.environment),
        "arguments_clixml": t.arguments_clixml,
        "clixml_depth": t.clixml_depth,
        "output_clixml": t.output_clixml,
        "reuse_runspace": t.reuse_runspace,
        "node": t.node,
        "attempt": t.attempt,
    }


@dataclass(slots=True)
class Row:
    """A decoded ``krtasks_tasks`` row: the task's data plus what only the shared store keeps (``version``
    counts changes; ``cancel_requested``; ``records_count`` records stored)."""

    data: TaskData
    version: int
    cancel_requested: bool
    records_count: int

    @property
    def key(self) -> str:
        """The row's key."""
        return key_of(self.data.id)


def decode_row(r: Sequence[Any]) -> Row:
    """A row of :data:`COLUMNS` as a :class:`Row`.

    Raises:
        ValueError: an unknown state or language (a newer KrTasks wrote it).
    """
    error = loads(r[18])
    data = TaskData(
        id=r[1],
        seq=r[2],
        name=r[3],
        description=r[4],
        language=Language(r[5]),
        code=r[6],
        arguments=loads(r[7]),
        timeout_seconds=r[8],
        parent_id=r[9],
        extra_imports=loads(r[11]),
        extra_refs=loads(r[12]),
        state=TaskState(r[13]),
        created_at=r[14],
        started_at=r[15],
        completed_at=r[16],
        progress=Progress.from_json(loads(r[17])),
        error=None if error is None else TaskErrorInfo.from_json(error),
        output=loads(r[19]),
        isolation="process" if r[20] == "process" else "thread",
        max_memory_mb=r[21],
        working_directory=r[22],
        environment=loads(r[23]),
        arguments_clixml=r[24],
        clixml_depth=r[25],
        output_clixml=r[26],
        reuse_runspace=r[27],
        node=r[28],
        attempt=r[29],
    )
    return Row(data, r[30], r[31], r[32])


def encode_mutable(t: TaskData) -> dict[str, Any]:
    """The :data:`MUTABLE` columns of ``t`` as named parameters."""
    full = encode(t)
    return {c: full[c] for c in MUTABLE}
