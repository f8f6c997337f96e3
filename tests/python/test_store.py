"""The SQLite task store on real SQLite files (issue 6): round trips, ordering, batching, schema checks."""

from __future__ import annotations

import asyncio
import hashlib
import os
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from krtasks.models import Language, Progress, StreamRecord, TaskData, TaskErrorInfo, TaskState
from krtasks.store import (
    MIGRATIONS,
    SCHEMA_VERSION,
    STORE_FILE,
    SqliteTaskStore,
    StoredTask,
    StoreError,
    open_store,
)

T0 = datetime(2026, 11, 29, 10, 0, 0, 123456, tzinfo=UTC)


def stored(task_id: str, seq: int = 1, state: TaskState = TaskState.COMPLETED, **kw: Any) -> TaskData:
    finished = state.finished
    values: dict[str, Any] = dict(
        id=task_id,
        name=f"Task {task_id}",
        description="",
        language=Language.POWERSHELL,
        code="'hi'",
        arguments={},
        timeout_seconds=None,
        parent_id="",
        extra_imports=[],
        extra_refs=[],
        created_at=T0 + timedelta(seconds=seq),
        seq=seq,
        state=state,
        started_at=T0 + timedelta(seconds=seq + 1) if state != TaskState.NOT_STARTED else None,
        completed_at=T0 + timedelta(seconds=seq + 2) if finished else None,
        progress=Progress(100 if finished else 0, state.value),
        error=None,
        output=["hi"] if finished else None,
    )
    values.update(kw)
    return TaskData(**values)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteTaskStore]:
    s = open_store(tmp_path)
    yield s
    await s.close()


# ---------------------------------------------------------------- round trips


async def test_round_trip_keeps_every_field(store: SqliteTaskStore, tmp_path: Path) -> None:
    full = stored(
        "Full-1",
        seq=7,
        state=TaskState.FAILED,
        language=Language.CSHARP,
        code='return Name + "ü";',
        name="naïve ✓",
        description="multi\nline",
        arguments={"Name": "x", "N": 3, "F": 1.5, "L": [1, None], "O": {"a": True}},
        timeout_seconds=2.5,
        parent_id="Parent",
        extra_imports=["System.Text"],
        extra_refs=["System.Xml"],
        isolation="process",
        max_memory_mb=512,
        working_directory="/tmp",
        environment={"A": "1", "B": "ü"},
        error=TaskErrorInfo("System.Exception", "boom", None, "at x", 3, 9),
        output={"deep": [{"k": "v" * 1000}], "n": 1e300, "neg": -0.5, "none": None},
    )
    plain = stored("plain", seq=8, state=TaskState.NOT_STARTED)
    await store.put([full, plain])
    await store.add_records(
        [
            ("Full-1", 0, "Warning", "w ✓", "2026-11-29T10:00:01.0000000Z"),
            ("FULL-1", 1, "Error", "e\nmultiline", "2026-11-29T10:00:02.0000000Z"),
        ]
    )
    loaded = await store.load()
    assert [t.data.id for t in loaded] == ["Full-1", "plain"]
    expected_records = [
        StreamRecord(0, "Warning", "w ✓", "2026-11-29T10:00:01.0000000Z"),
        StreamRecord(1, "Error", "e\nmultiline", "2026-11-29T10:00:02.0000000Z"),
    ]
    assert loaded[0] == StoredTask(full, expected_records)
    assert loaded[1] == StoredTask(plain)
    created_at = loaded[0].data.created_at
    assert created_at.tzinfo is not None and loaded[0].data.completed_at == full.completed_at
    # A second store instance on the same file sees the same (it is on disk, not cached).
    await store.close()
    again = open_store(tmp_path)
    try:
        assert await again.load() == loaded
    finally:
        await again.close()


async def test_put_replaces_and_ids_compare_case_insensitively(store: SqliteTaskStore) -> None:
    await store.put([stored("Abc", state=TaskState.RUNNING)])
    await store.put([stored("Abc", state=TaskState.COMPLETED, name="renamed")])
    loaded = await store.load()
    assert len(loaded) == 1 and loaded[0].data.state == TaskState.COMPLETED and loaded[0].data.name == "renamed"
    await store.add_records([("aBC", 0, "Verbose", "v", "t")])
    await store.delete(["ABC"])
    assert await store.load() == []
    assert store.count() == (0, 0)


async def test_records_of_unknown_tasks_are_dropped_and_repeats_ignored(store: SqliteTaskStore) -> None:
    await store.put([stored("a")])
    await store.add_records([("a", 0, "Warning", "first", "t"), ("ghost", 0, "Warning", "x", "t")])
    await store.add_records([("a", 0, "Warning", "again", "t"), ("a", 1, "Error", "second", "t")])
    (task,) = await store.load()
    assert [(r.index, r.message) for r in task.records] == [(0, "first"), (1, "second")]
    assert store.count() == (1, 2)


async def test_delete_removes_records_and_ignores_unknown_ids(store: SqliteTaskStore) -> None:
    await store.put([stored("a", 1), stored("b", 2)])
    await store.add_records(
        [("a", i, "Information", str(i), "t") for i in range(100)] + [("b", 0, "Information", "b", "t")]
    )
    await store.delete(["a", "nope"])
    assert [t.data.id for t in await store.load()] == ["b"]
    assert store.count() == (1, 1)


# ---------------------------------------------------------------- ordering, batching, failures


async def test_writes_apply_in_call_order_without_awaiting_each(store: SqliteTaskStore) -> None:
    writes = []
    for i in range(300):
        writes.append(store.put([stored("x", seq=1, state=TaskState.RUNNING, name=f"n{i}")]))
        writes.append(store.add_records([("x", i, "Information", f"m{i}", "t")]))
        if i % 50 == 0:
            writes.append(store.delete(["x"]))  # a delete queued between writes applies exactly there
    writes.append(store.put([stored("x", seq=1, name="last")]))
    await writes[-1]  # awaiting only the last write is enough: everything before it is committed
    assert all(w.done() for w in writes)  # type: ignore[attr-defined]
    (task,) = await store.load()
    assert task.data.name == "last"
    assert [r.message for r in task.records] == [f"m{i}" for i in range(251, 300)]


async def test_a_failing_write_fails_alone(store: SqliteTaskStore) -> None:
    good = [store.put([stored(f"t{i}", seq=i)]) for i in range(50)]
    bad = store.put([stored("bad", seq=99, output={1, 2})])  # a set is not JSON: this write fails
    more = [store.put([stored(f"u{i}", seq=100 + i)]) for i in range(50)]
    await asyncio.gather(*good, *more)
    with pytest.raises(TypeError, match="not JSON serializable"):
        await bad
    assert {t.data.id for t in await store.load()} == {f"t{i}" for i in range(50)} | {f"u{i}" for i in range(50)}


async def test_concurrent_writers_are_group_committed(store: SqliteTaskStore) -> None:
    async def writer(n: int) -> None:
        for i in range(20):
            await store.put([stored(f"w{n}-{i}", seq=n * 100 + i)])
            await store.add_records([(f"w{n}-{i}", 0, "Information", "x", "t")])

    await asyncio.gather(*(writer(n) for n in range(50)))
    assert store.count() == (1000, 1000)


async def test_a_cancelled_wait_does_not_stop_the_store(store: SqliteTaskStore) -> None:
    pending = [store.put([stored(f"c{i}", seq=i)]) for i in range(200)]
    for p in pending[100:]:
        p.cancel()  # type: ignore[attr-defined]
    await asyncio.gather(*pending[:100])
    await store.put([stored("after", seq=1000)])
    ids = {t.data.id for t in await store.load()}
    assert {f"c{i}" for i in range(100)} | {"after"} <= ids


async def test_closed_store_refuses_writes_and_close_is_idempotent(tmp_path: Path) -> None:
    s = open_store(tmp_path)
    await s.put([stored("a")])
    await s.close()
    await s.close()
    s.close_sync()
    with pytest.raises(StoreError, match="closed"):
        s.put([stored("b")])
    check = sqlite3.connect(tmp_path / STORE_FILE)
    assert check.execute("SELECT id FROM tasks").fetchall() == [("a",)]
    check.close()


# ---------------------------------------------------------------- the file: mode, schema, refusals, reset


def test_new_store_is_private_wal_full_and_versioned(tmp_path: Path) -> None:
    s = open_store(tmp_path)
    try:
        path = tmp_path / STORE_FILE
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert s._call(lambda c: c.execute("PRAGMA journal_mode").fetchone()[0]) == "wal"
        assert s._call(lambda c: c.execute("PRAGMA synchronous").fetchone()[0]) == 2  # FULL
        assert s._call(lambda c: c.execute("PRAGMA user_version").fetchone()[0]) == SCHEMA_VERSION == 3
    finally:
        s.close_sync()


def test_newer_schema_is_refused_and_left_untouched(tmp_path: Path) -> None:
    open_store(tmp_path).close_sync()
    path = tmp_path / STORE_FILE
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    before = sha(path)
    with pytest.raises(StoreError) as info:
        open_store(tmp_path)
    message = str(info.value)
    assert str(path) in message and "newer" in message and f"version {SCHEMA_VERSION + 1}" in message
    assert "left untouched" in message and "--reset-store" in message
    assert sha(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [STORE_FILE]  # no -wal/-shm, nothing moved


def test_garbage_file_is_refused_then_moved_aside_only_on_reset(tmp_path: Path) -> None:
    path = tmp_path / STORE_FILE
    garbage = os.urandom(8192)
    path.write_bytes(garbage)
    with pytest.raises(StoreError, match=r"cannot be read.*not a database.*--reset-store"):
        open_store(tmp_path)
    assert path.read_bytes() == garbage
    s = open_store(tmp_path, reset=True)
    try:
        assert s.moved_aside is not None and s.moved_aside.read_bytes() == garbage
        assert s.moved_aside.name.startswith(f"{STORE_FILE}.reset-") and s.moved_aside.name.endswith("Z")
        assert s.count() == (0, 0)
    finally:
        s.close_sync()


def test_corrupt_pages_are_refused(tmp_path: Path) -> None:
    s = open_store(tmp_path)
    asyncio.run(_put_one(s, "x"))
    s._call(
        lambda c: c.executemany(
            "INSERT INTO records VALUES ('x', ?, 's', ?, 't')", [(i, "m" * 200) for i in range(2000)]
        )
    )
    s.close_sync()
    path = tmp_path / STORE_FILE
    data = bytearray(path.read_bytes())
    assert len(data) > 16 * 4096
    data[8 * 4096 : 12 * 4096] = os.urandom(4 * 4096)  # wreck pages in the middle, keep the header
    path.write_bytes(bytes(data))
    before = sha(path)
    with pytest.raises(StoreError, match=r"refused and left untouched.*(corrupt|malformed)"):
        open_store(tmp_path)
    assert sha(path) == before


def test_foreign_sqlite_database_is_refused(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / STORE_FILE)
    conn.execute("CREATE TABLE mine (x)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="not a KrTasks task store"):
        open_store(tmp_path)


def test_reset_moves_a_healthy_store_with_its_wal(tmp_path: Path) -> None:
    s = open_store(tmp_path)
    s._call(lambda c: c.execute("PRAGMA wal_autocheckpoint = 0"))  # keep the data in the -wal file
    asyncio.run(_put_one(s))
    kept = s._call(lambda c: c.execute("SELECT count(*) FROM tasks").fetchone()[0])
    assert kept == 1 and (tmp_path / f"{STORE_FILE}-wal").stat().st_size > 0
    # Moving the files aside while open would be unusual; simulate a killed daemon by copying them.
    copies = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    s.close_sync()
    for name, data in copies.items():
        (tmp_path / name).write_bytes(data)
    fresh = open_store(tmp_path, reset=True)
    try:
        assert fresh.count() == (0, 0)
        aside = fresh.moved_aside
        assert aside is not None
        conn = sqlite3.connect(aside)  # the moved file and its -wal still hold the task
        assert conn.execute("SELECT id FROM tasks").fetchall() == [("a",)]
        conn.close()
    finally:
        fresh.close_sync()


async def _put_one(s: SqliteTaskStore, task_id: str = "a") -> None:
    await s.put([stored(task_id)])


def test_older_schema_is_migrated_in_place(tmp_path: Path) -> None:
    s = open_store(tmp_path)
    asyncio.run(_put_one(s))
    s.close_sync()
    v2 = [*MIGRATIONS, ["ALTER TABLE tasks ADD COLUMN owner TEXT NOT NULL DEFAULT 'nobody'"]]
    s2 = SqliteTaskStore(tmp_path / STORE_FILE, migrations=v2)
    try:
        assert s2._call(lambda c: c.execute("PRAGMA user_version").fetchone()[0]) == SCHEMA_VERSION + 1
        assert s2._call(lambda c: c.execute("SELECT id, owner FROM tasks").fetchall()) == [("a", "nobody")]
    finally:
        s2.close_sync()
    # The current code now sees a newer file and refuses it.
    with pytest.raises(StoreError, match="newer"):
        open_store(tmp_path)


def test_a_first_version_store_gains_the_worker_columns(tmp_path: Path) -> None:
    # A store written before worker processes existed: its tasks ran in the daemon's threads.
    first = SqliteTaskStore(tmp_path / STORE_FILE, migrations=MIGRATIONS[:1])
    first._call(
        lambda c: c.execute(
            "INSERT INTO tasks (id, seq, name, description, language, code, arguments, timeout_seconds, parent_id, "
            "extra_imports, extra_refs, state, created_at, started_at, completed_at, progress, error, output) VALUES "
            "('old', 1, 'Task old', '', 'PowerShell', '1', '{}', NULL, '', '[]', '[]', 'Completed', "
            '\'2026-11-29T10:00:00.000000Z\', NULL, NULL, \'{"PercentComplete": 100, "StatusMessage": "Completed"}\', '
            "NULL, '[1]')"
        )
    )
    first.close_sync()
    s = open_store(tmp_path)
    try:
        (task,) = asyncio.run(s.load())
        assert (task.data.id, task.data.isolation, task.data.environment, task.data.max_memory_mb) == (
            "old",
            "thread",
            {},
            None,
        )
        assert task.data.output == [1] and task.data.progress.status_message == "Completed"
        assert task.data.reuse_runspace is False  # 2 → 3: runspace reuse, off for what ran before
    finally:
        s.close_sync()


def test_failed_migration_is_rolled_back(tmp_path: Path) -> None:
    open_store(tmp_path).close_sync()
    broken = [*MIGRATIONS, ["ALTER TABLE tasks ADD COLUMN fine TEXT", "ALTER TABLE nope ADD COLUMN x TEXT"]]
    step = rf"migration from schema version {SCHEMA_VERSION} to {SCHEMA_VERSION + 1} failed.*rolled back"
    with pytest.raises(StoreError, match=step):
        SqliteTaskStore(tmp_path / STORE_FILE, migrations=broken)
    conn = sqlite3.connect(tmp_path / STORE_FILE)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert "fine" not in [r[1] for r in conn.execute("PRAGMA table_info(tasks)")]
    conn.close()


def test_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot be opened"):
        open_store(tmp_path / "absent")


# ---------------------------------------------------------------- crash safety of the store itself


def test_acknowledged_writes_survive_kill_9(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import asyncio, os, signal, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_store import stored
        from krtasks.store import open_store

        async def main():
            s = open_store({str(tmp_path)!r})
            for i in range(200):
                await s.put([stored(f"t{{i}}", seq=i)])
                await s.add_records([(f"t{{i}}", 0, "Information", "x", "t")])
            print("acknowledged", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)

        asyncio.run(main())
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == -9 and proc.stdout.strip() == "acknowledged", proc.stderr
    assert (tmp_path / f"{STORE_FILE}-wal").exists()  # not checkpointed: recovery must replay the WAL
    s = open_store(tmp_path)
    try:
        assert s.count() == (200, 200)
    finally:
        s.close_sync()


async def test_large_writes_do_not_block_the_event_loop(
    store: SqliteTaskStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The property: rows are encoded and committed on the store's thread, never on the event loop's. Checked
    # by where encoding ran (deterministic), and by the loop ticking through seconds of store work.
    from krtasks.store import sqlite as sqlite_module

    encoding_threads: set[str] = set()
    encode = sqlite_module.encode_row  # type: ignore[attr-defined]  # the name the store calls

    def spy(task: Any) -> Any:
        encoding_threads.add(threading.current_thread().name)
        return encode(task)

    monkeypatch.setattr(sqlite_module, "encode_row", spy)
    ticks = 0
    stop = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not stop.is_set():
            await asyncio.sleep(0.005)
            ticks += 1

    # Built before the ticker starts: building it is the test's own work on the loop, not the store's.
    big = [stored(f"big{i}", seq=i, output=[{"k": "v" * 100, "n": n} for n in range(200)]) for i in range(1000)]
    records = [[(f"big{i}", k, "Information", "m" * 80, "t") for k in range(100)] for i in range(1000)]
    tick = asyncio.create_task(ticker())
    await asyncio.sleep(0.05)
    before = ticks
    writes = [store.put(big[i : i + 100]) for i in range(0, 1000, 100)]
    writes += [store.add_records(batch) for batch in records]
    await asyncio.gather(*writes)
    during = ticks - before
    stop.set()
    await tick
    assert store.count() == (1000, 100_000)
    assert encoding_threads and threading.current_thread().name not in encoding_threads, encoding_threads
    assert during >= 20, during  # the loop went on while the store thread worked
