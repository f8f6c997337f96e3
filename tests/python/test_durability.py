"""Durable tasks (issue 6): a real daemon killed with SIGKILL or stopped cleanly and started again, the store
under concurrent API load, 10 000 stored tasks at start, refused stores; retention and write-through at
the TaskService level with the real engines and an injectable clock."""

from __future__ import annotations

import asyncio
import hashlib
import re
import signal
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from daemon_fixtures import Daemon, start_daemon, wait_until_finished
from engine_views import compile_cache
from krtasks.core.service import TaskService
from krtasks.models import Language, Progress, ServiceConfig, TaskData, TaskSpec, TaskState
from krtasks.runtime import RuntimeInfo
from krtasks.store import SCHEMA_VERSION, STORE_FILE, SqliteTaskStore, open_store
from krtasks.store.postgres import PostgresTaskStore, open_postgres_store
from pg_fixtures import PgServer

pytest_plugins = ["pg_fixtures"]

FINISHED = ("Completed", "Failed", "Stopped")


# ---------------------------------------------------------------------------------------- helpers (daemon)


def api_url(d: Daemon) -> str:
    return d.url + "/api/v1"


def create(s: requests.Session, d: Daemon, **body: Any) -> dict[str, Any]:
    r = s.post(f"{api_url(d)}/tasks", json=body, timeout=60)
    assert r.status_code == 201, r.text
    record: dict[str, Any] = r.json()
    return record


def get(s: requests.Session, d: Daemon, path: str) -> Any:
    r = s.get(f"{api_url(d)}{path}", timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def snapshot(s: requests.Session, d: Daemon, task_id: str) -> dict[str, Any]:
    """Everything the API shows of one task: record, result (when finished) and all stream records."""
    record = get(s, d, f"/tasks/{task_id}")
    result = get(s, d, f"/tasks/{task_id}/result") if record["State"] in FINISHED else None
    records: list[dict[str, Any]] = []
    since = 0
    while True:
        page = get(s, d, f"/tasks/{task_id}/streams?since={since}")
        records.extend(page["Records"])
        if not page["Records"]:
            break
        since = page["Next"]
    return {"record": record, "result": result, "streams": records}


def wait_state(s: requests.Session, d: Daemon, task_id: str, state: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        record: dict[str, Any] = get(s, d, f"/tasks/{task_id}")
        if record["State"] == state:
            return record
        assert time.monotonic() < deadline, f"{task_id} is {record['State']}, not {state}"
        time.sleep(0.05)


def kill_9(d: Daemon) -> None:
    for sess in d.sessions:
        sess.close()
    d.proc.send_signal(signal.SIGKILL)
    assert d.proc.wait(timeout=30) == -signal.SIGKILL


def restart(d: Daemon, work: Path, *args: str) -> Daemon:
    return start_daemon(work, *args, state_dir=d.state_dir)


@dataclass
class Backend:
    """The store a daemon test runs on: the state dir's SQLite file, or a fresh PostgreSQL database."""

    name: str
    dsn: str | None = None

    @property
    def args(self) -> tuple[str, ...]:
        return () if self.dsn is None else ("--store", self.dsn)

    def records(self, d: Daemon, task_id: str) -> int:
        """Stream records of a task committed now (another connection, as a restart would read them)."""
        if self.dsn is None:
            return stored_records(d.state_dir / STORE_FILE, task_id)
        with psycopg.connect(self.dsn) as conn:
            row = conn.execute("SELECT count(*) FROM krtasks_records WHERE key = %s", (task_id.lower(),)).fetchone()
            return int(row[0]) if row else 0

    def set_code(self, d: Daemon, task_id: str, code: str) -> None:
        """Change a stored task's code behind the daemon's back."""
        if self.dsn is None:
            db = sqlite3.connect(d.state_dir / STORE_FILE)
            db.execute("UPDATE tasks SET code = ? WHERE id = ?", (code, task_id))
            db.commit()
            db.close()
        else:
            with psycopg.connect(self.dsn, autocommit=True) as conn:
                conn.execute("UPDATE krtasks_tasks SET code = %s WHERE key = %s", (code, task_id.lower()))


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> Backend:
    if request.param == "sqlite":
        return Backend("sqlite")
    server: PgServer = request.getfixturevalue("pg_server")
    return Backend("postgresql", server.new_database())


def stored_records(path: Path, task_id: str) -> int:
    """How many stream records of a task are committed (read by another connection, as a restart would)."""
    db = sqlite3.connect(path)
    try:
        count: int = db.execute("SELECT count(*) FROM records WHERE task_id = ?", (task_id,)).fetchone()[0]
        return count
    finally:
        db.close()


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def daemons() -> Iterator[list[Daemon]]:
    """Daemons a test started; whatever still runs at the end is stopped."""
    started: list[Daemon] = []
    yield started
    for d in started:
        d.close()


# ---------------------------------------------------------------------------------------- kill -9


def test_kill_9_then_restart(tmp_path: Path, daemons: list[Daemon], backend: Backend) -> None:
    d = start_daemon(tmp_path, "--max-runspaces", "3", "--stop-grace", "120", *backend.args)
    daemons.append(d)
    s = d.session()
    # Finished: output, stream records and an error in one task; plus a C# task with output only.
    failed = create(
        s,
        d,
        Id="Finished-Failed",
        Name="fails",
        Description="output then error",
        AutoStart=True,
        Code="Write-Warning 'careful ✓'; Write-Verbose 'v' -Verbose; 1, 'two', @{k = 3}; throw 'boom'",
    )
    done_cs = create(
        s,
        d,
        Id="finished-cs",
        Language="CSharp",
        Code='Console.WriteLine("out"); return n * 2;',
        Arguments={"n": 21},
        AutoStart=True,
    )
    for task_id in (failed["Id"], done_cs["Id"]):
        wait_until_finished(s, d.url, task_id)
    renamed = s.patch(f"{api_url(d)}/tasks/finished-cs", json={"Name": "renamed"}, timeout=30)
    assert renamed.status_code == 200
    # NotStarted: C# (recompiled at start), PowerShell, and a C# one whose code the test breaks while the
    # daemon is down (what a removed reference or a Roslyn upgrade would do).
    waiting_cs = create(
        s, d, Id="waiting-cs", Language="CSharp", Code='return greeting + "!";', Arguments={"greeting": "hello"}
    )
    waiting_ps = create(s, d, Id="waiting-ps", Code="param($x) $x * 3", Arguments={"x": 5})
    breaks = create(s, d, Id="breaks", Language="CSharp", Code="return 1;")
    # Running, Stopping and Queued when the daemon dies.
    running = create(
        s, d, Id="running", AutoStart=True, Code="Write-Warning 'before the kill'; Start-Sleep -Seconds 120"
    )
    stopping = create(
        s, d, Id="stopping", Language="CSharp", AutoStart=True, Code="System.Threading.Thread.Sleep(120000); return 1;"
    )  # ignores its cancellation token
    wait_state(s, d, running["Id"], "Running")
    wait_state(s, d, stopping["Id"], "Running")
    assert s.post(f"{api_url(d)}/tasks/stopping/cancel", timeout=30).json()["State"] == "Stopping"
    filler = create(s, d, Code="Start-Sleep -Seconds 120", AutoStart=True)
    queued = create(s, d, Id="queued", Code="'never ran'", AutoStart=True)
    assert get(s, d, "/tasks/queued")["State"] == "Queued"
    deadline = time.monotonic() + 30  # a running task's records are written in batches (every 0.5 s)
    while backend.records(d, "running") < 1:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    finished_before = {t: snapshot(s, d, t) for t in (failed["Id"], done_cs["Id"])}
    waiting_before = {t["Id"]: snapshot(s, d, t["Id"]) for t in (waiting_cs, waiting_ps, breaks)}
    running_before = snapshot(s, d, "running")
    assert finished_before["Finished-Failed"]["result"]["Output"] == [1, "two", {"k": 3}]
    assert "boom" in finished_before["Finished-Failed"]["result"]["Error"]["Message"]

    kill_9(d)
    backend.set_code(d, "breaks", "return undefinedThing;")

    d2 = restart(d, tmp_path, *backend.args)
    daemons.append(d2)
    s2 = d2.session()
    # Finished tasks come back exactly: record, result and streams.
    for task_id, before in finished_before.items():
        assert snapshot(s2, d2, task_id) == before
    assert finished_before["finished-cs"]["record"]["Name"] == "renamed"
    # NotStarted ones are NotStarted, and run.
    for task_id in ("waiting-cs", "waiting-ps"):
        assert snapshot(s2, d2, task_id) == waiting_before[task_id]
        assert s2.post(f"{api_url(d2)}/tasks/{task_id}/start", timeout=30).status_code == 202
    assert wait_until_finished(s2, d2.url, "waiting-cs")["State"] == "Completed"
    assert get(s2, d2, "/tasks/waiting-cs/result")["Output"] == "hello!"
    assert wait_until_finished(s2, d2.url, "waiting-ps")["State"] == "Completed"
    assert get(s2, d2, "/tasks/waiting-ps/result")["Output"] == [15]
    # One that no longer compiles is Failed with the diagnostics.
    broken = get(s2, d2, "/tasks/breaks")
    assert broken["State"] == "Failed" and broken["Error"]["Type"] == "CompileError"
    assert "no longer compiles" in broken["Error"]["Message"] and "CS0103" in broken["Error"]["Message"]
    assert "undefinedThing" in broken["Error"]["Message"] and broken["Error"]["Line"] == 1
    assert broken["CompletedAt"] is not None
    # Cut-off runs are Failed/Interrupted, never left running; what they had written is kept. A shared
    # store's queue is the cluster's: its Queued task waits for a node, and runs once one is back.
    cut_off = [("running", "Running"), ("stopping", "Stopping"), (filler["Id"], "Running")]
    if backend.dsn is None:
        cut_off.append((queued["Id"], "Queued"))
    else:
        assert wait_until_finished(s2, d2.url, queued["Id"])["State"] == "Completed"
    for task_id, was in cut_off:
        record = get(s2, d2, f"/tasks/{task_id}")
        assert record["State"] == "Failed", record
        assert record["Error"]["Type"] == "Interrupted"
        assert "daemon restarted" in record["Error"]["Message"] and was in record["Error"]["Message"]
        assert record["Progress"]["PercentComplete"] == 100 and record["CompletedAt"] is not None
        assert get(s2, d2, f"/tasks/{task_id}/result")["Error"]["Type"] == "Interrupted"
    assert snapshot(s2, d2, "running")["streams"] == running_before["streams"] != []
    # Those decisions are durable too: a second kill changes nothing.
    after_first = {t["Id"]: snapshot(s2, d2, t["Id"]) for t in get(s2, d2, "/tasks")}
    kill_9(d2)
    d3 = restart(d2, tmp_path, *backend.args)
    daemons.append(d3)
    s3 = d3.session()
    assert {t["Id"]: snapshot(s3, d3, t["Id"]) for t in get(s3, d3, "/tasks")} == after_first


# ---------------------------------------------------------------------------------------- clean stop


def test_clean_stop_and_start_keeps_everything(tmp_path: Path, daemons: list[Daemon], backend: Backend) -> None:
    d = start_daemon(tmp_path, "--stop-grace", "5", *backend.args)
    daemons.append(d)
    s = d.session()
    parent = create(s, d, Id="parent", Code="'p'", AutoStart=True)
    child = create(
        s,
        d,
        Id="child",
        Code="Write-Information 'i' -InformationAction Continue; 'c'",
        ParentId="parent",
        AutoStart=True,
    )
    vb = create(s, d, Language="VBNet", Code='Return "vb"', AutoStart=True, TimeoutSeconds=30)
    for t in (parent, child, vb):
        wait_until_finished(s, d.url, t["Id"])
    create(s, d, Id="not-started", Language="CSharp", Code="return 7;", Description="later")
    gone = create(s, d, Id="gone", Code="1")
    assert s.delete(f"{api_url(d)}/tasks/gone", timeout=30).status_code == 204
    s.patch(f"{api_url(d)}/tasks/parent", json={"Description": "described"}, timeout=30)
    long = create(s, d, Id="long", Code="Start-Sleep -Seconds 60", AutoStart=True)
    wait_state(s, d, long["Id"], "Running")
    assert d.signal(signal.SIGTERM) == 0  # a clean stop cancels running tasks: they end Stopped
    d2 = restart(d, tmp_path, *backend.args)
    daemons.append(d2)
    s2 = d2.session()
    ids = [t["Id"] for t in get(s2, d2, "/tasks")]
    assert sorted(ids) == sorted(["parent", "child", vb["Id"], "not-started", "long"]) and gone["Id"] not in ids
    assert get(s2, d2, "/tasks/parent")["ChildrenId"] == ["child"]
    assert get(s2, d2, "/tasks/parent")["Description"] == "described"
    assert get(s2, d2, "/tasks/long")["State"] == "Stopped"
    assert get(s2, d2, "/tasks/not-started")["State"] == "NotStarted"
    before = {i: snapshot(s2, d2, i) for i in ids}
    assert before["child"]["streams"][0]["Message"] == "i" and before[vb["Id"]]["result"]["Output"] == "vb"
    assert d2.signal(signal.SIGTERM) == 0
    d3 = restart(d2, tmp_path, *backend.args)
    daemons.append(d3)
    s3 = d3.session()
    assert {i: snapshot(s3, d3, i) for i in ids} == before
    assert [t["Id"] for t in get(s3, d3, "/tasks")] == ids  # same order (newest first)


# ---------------------------------------------------------------------------------------- load


def test_concurrent_api_load_while_streams_are_written_loses_no_record(
    tmp_path: Path, daemons: list[Daemon], backend: Backend
) -> None:
    d = start_daemon(tmp_path, "--max-runspaces", "4", *backend.args)
    daemons.append(d)
    s = d.session()
    per_task = 3000
    code = (
        f'foreach ($i in 1..{per_task}) {{ Write-Warning "w$i"; '
        "if ($i % 300 -eq 0) { Start-Sleep -Milliseconds 100 } }"
    )
    writers = [create(s, d, AutoStart=True, Code=code) for _ in range(4)]
    stop = threading.Event()
    created: list[str] = []
    errors: list[str] = []
    lock = threading.Lock()

    def hammer(n: int) -> None:
        sess = d.session()
        i = 0
        deadline = time.monotonic() + 60
        while not stop.is_set() and time.monotonic() < deadline and i < 400:
            i += 1
            try:
                r = sess.post(f"{api_url(d)}/tasks", json={"Code": "1", "Name": f"h{n}-{i}"}, timeout=30)
                if r.status_code != 201:
                    errors.append(r.text)
                    continue
                task_id = r.json()["Id"]
                r = sess.patch(f"{api_url(d)}/tasks/{task_id}", json={"Description": f"d{n}-{i}"}, timeout=30)
                sess.get(f"{api_url(d)}/tasks/{writers[i % 4]['Id']}/streams?since={i * 7}", timeout=30)
                if r.status_code != 200:
                    errors.append(r.text)
                with lock:
                    created.append(task_id)
            except requests.RequestException as exc:
                errors.append(repr(exc))

    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for w in writers:
        assert wait_until_finished(s, d.url, w["Id"], timeout=120)["State"] == "Completed"
    stop.set()
    for t in threads:
        t.join(timeout=90)
    assert not errors, errors[:3]
    assert len(created) > 30
    expected = [f"w{i}" for i in range(1, per_task + 1)]
    for w in writers:
        assert [r["Message"] for r in snapshot(s, d, w["Id"])["streams"]] == expected
    kill_9(d)  # everything above was acknowledged: all of it must be back
    d2 = restart(d, tmp_path, *backend.args)
    daemons.append(d2)
    s2 = d2.session()
    for w in writers:
        streams = snapshot(s2, d2, w["Id"])["streams"]
        assert [r["Message"] for r in streams] == expected and [r["Index"] for r in streams] == list(range(per_task))
    listed = {t["Id"]: t for t in get(s2, d2, "/tasks")}
    assert set(created) <= set(listed)
    assert all(re.fullmatch(r"d\d+-\d+", listed[c]["Description"]) for c in created)


# ---------------------------------------------------------------------------------------- 10 000 at start


def _finished(i: int, now: datetime) -> TaskData:
    at = now - timedelta(seconds=10_000 - i)
    return TaskData(
        id=f"t{i:05d}",
        name=f"Task {i}",
        description="bulk",
        language=Language.POWERSHELL,
        code=f"Write-Warning 'w{i}'; {i}",
        arguments={"n": i},
        timeout_seconds=None,
        parent_id="",
        extra_imports=[],
        extra_refs=[],
        created_at=at,
        seq=i + 1,
        state=TaskState.COMPLETED,
        started_at=at,
        completed_at=at + timedelta(milliseconds=20),
        progress=Progress(100, "Completed"),
        error=None,
        output=[i, {"Name": f"item {i}", "Values": list(range(10))}],
    )


def test_10000_finished_tasks_load_at_start(
    tmp_path: Path, daemons: list[Daemon], record_property: Any, backend: Backend
) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    store: SqliteTaskStore | PostgresTaskStore = (
        open_store(state) if backend.dsn is None else open_postgres_store(backend.dsn)
    )
    now = datetime.now(UTC)

    async def fill() -> None:
        tasks = [_finished(i, now) for i in range(10_000)]
        await store.put(tasks)
        await store.add_records(
            [
                (t.id, k, "Warning", f"record {k} of {t.id}", "2026-11-29T10:00:00.0000000Z")
                for t in tasks
                for k in range(3)
            ]
        )
        if isinstance(store, PostgresTaskStore):
            await store.close()

    asyncio.run(fill())
    if isinstance(store, SqliteTaskStore):
        assert store.count() == (10_000, 30_000)
        store.close_sync()
    began = time.monotonic()
    d = start_daemon(tmp_path, "--log-level", "info", *backend.args, state_dir=state)
    ready = time.monotonic() - began
    daemons.append(d)
    match = re.search(r"restored 10000 tasks from the store in (\d+\.\d+) s", d.stderr())
    assert match, d.stderr()
    load = float(match.group(1))
    record_property("load_seconds", load)
    record_property("ready_seconds", ready)
    print(f"\n10 000 finished tasks ({backend.name}): restored in {load:.2f} s; daemon ready after {ready:.2f} s")
    assert load < 5.0
    s = d.session()
    r = s.get(f"{api_url(d)}/tasks", params={"Limit": 1}, timeout=60)
    assert r.headers["X-Total-Count"] == "10000"
    assert get(s, d, "/tasks/t04321/result")["Output"] == [4321, {"Name": "item 4321", "Values": list(range(10))}]
    assert len(get(s, d, "/tasks/t00007/streams")["Records"]) == 3


# ---------------------------------------------------------------------------------------- refused stores


def test_newer_or_corrupt_store_is_refused_until_reset(tmp_path: Path, daemons: list[Daemon]) -> None:
    d = start_daemon(tmp_path)
    daemons.append(d)
    create(d.session(), d, Id="kept", Code="1")
    assert d.signal(signal.SIGTERM) == 0
    path = d.state_dir / STORE_FILE
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    before = sha(path)
    with pytest.raises(RuntimeError) as info:
        restart(d, tmp_path)
    message = str(info.value)
    assert "exited with 1" in message and str(path) in message
    assert f"schema version {SCHEMA_VERSION + 1} is newer" in message and "--reset-store" in message
    assert "Traceback" not in message
    assert sha(path) == before and not path.with_name(f"{STORE_FILE}-wal").exists()
    # A file that is not a database at all is refused the same way.
    garbage = b"\x00not sqlite\xff" * 1000
    path.write_bytes(garbage)
    with pytest.raises(RuntimeError, match=r"cannot be read.*--reset-store"):
        restart(d, tmp_path)
    assert path.read_bytes() == garbage
    # --reset-store moves it aside and starts empty.
    d2 = restart(d, tmp_path, "--reset-store")
    daemons.append(d2)
    assert get(d2.session(), d2, "/tasks") == []
    moved = [p for p in d2.state_dir.iterdir() if p.name.startswith(f"{STORE_FILE}.reset-")]
    assert len(moved) == 1 and moved[0].read_bytes() == garbage
    assert "moved to" in d2.stderr()


def test_newer_shared_schema_is_refused(tmp_path: Path, pg_dsn: str) -> None:
    from krtasks.store import postgres_schema

    open_postgres_store(pg_dsn)
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("UPDATE krtasks_schema SET version = %s", (postgres_schema.SCHEMA_VERSION + 1,))
    with pytest.raises(RuntimeError) as info:
        start_daemon(tmp_path, "--store", pg_dsn)
    message = str(info.value)
    assert "exited with 1" in message and f"schema version {postgres_schema.SCHEMA_VERSION + 1} is newer" in message
    assert "Traceback" not in message and "dbname=" in message
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT version FROM krtasks_schema").fetchone() == (postgres_schema.SCHEMA_VERSION + 1,)


def test_records_written_outside_a_run_are_counted_in_the_shared_store(pg_dsn: str) -> None:
    # A node takes a row's records_count as the number of durable records (fewer than it holds: a lost run's,
    # cut); seeded or tool-written records must be counted too, or a later rename would cut them on a node.
    store = open_postgres_store(pg_dsn)
    now = datetime.now(UTC)

    async def fill() -> None:
        await store.put([_finished(1, now), _finished(2, now)], [("t00001", 0, "Warning", "a", "2026-01-01T00:00:00Z")])
        await store.add_records([("T00001", k, "Warning", f"r{k}", "2026-01-01T00:00:00Z") for k in (1, 2)])
        await store.close()

    asyncio.run(fill())
    with psycopg.connect(pg_dsn) as conn:
        counts = conn.execute("SELECT key, records_count FROM krtasks_tasks ORDER BY key").fetchall()
    assert counts == [("t00001", 3), ("t00002", 0)]


def test_duration_options_are_checked(tmp_path: Path) -> None:
    from daemon_fixtures import run_cli

    r = run_cli("serve", "--state-dir", str(tmp_path / "s"), "--retention", "soon")
    assert r.returncode == 2 and "'soon' is not a duration" in r.stderr
    r = run_cli("serve", "--state-dir", str(tmp_path / "s"), "--max-finished", "-1")
    assert r.returncode == 2 and "--max-finished" in r.stderr


# ---------------------------------------------------------------------------------------- in-process service


@dataclass
class Clock:
    """A settable UTC clock for the service (retention measures age with it)."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteTaskStore]:
    s = open_store(tmp_path)
    yield s
    await s.close()


async def open_service(
    runtime: RuntimeInfo, store: SqliteTaskStore | None, clock: Clock | None = None, **config: Any
) -> TaskService:
    cfg = ServiceConfig(max_runspaces=2, stop_grace_seconds=1.0, **config)
    svc = TaskService(cfg, clock=clock or (lambda: datetime.now(UTC)), store=store)
    await svc.open()
    return svc


def stored_row(path: Path, task_id: str) -> tuple[Any, ...] | None:
    """Read a task's row through a separate connection: what a crash right now would leave."""
    db = sqlite3.connect(path)
    try:
        row: tuple[Any, ...] | None = db.execute(
            "SELECT state, name, description, output FROM tasks WHERE id = ?", (task_id,)
        ).fetchone()
        return row
    finally:
        db.close()


async def test_changes_are_durable_when_the_service_returns(runtime: RuntimeInfo, store: SqliteTaskStore) -> None:
    svc = await open_service(runtime, store)
    try:
        await svc.create(TaskSpec(code="Start-Sleep -Seconds 30", id="a"))
        assert stored_row(store.path, "a") == ("NotStarted", "Task a", "", "null")
        await svc.rename("a", name="renamed", description="d")
        assert stored_row(store.path, "a") == ("NotStarted", "renamed", "d", "null")
        await svc.start("a")
        assert stored_row(store.path, "a")[0] == "Running"  # type: ignore[index]
        await svc.cancel("a")
        assert stored_row(store.path, "a")[0] in ("Stopping", "Stopped")  # type: ignore[index]
        assert (await svc.wait("a", 10))["State"] == "Stopped"
        assert stored_row(store.path, "a")[0] == "Stopped"  # type: ignore[index]
        await svc.create(TaskSpec(code="return 6 * 7;", language=Language.CSHARP, id="b", auto_start=True))
        assert (await svc.wait("b", 30))["State"] == "Completed"
        assert stored_row(store.path, "b")[::3] == ("Completed", "42")  # type: ignore[index]
        assert await svc.remove("a")
        assert stored_row(store.path, "a") is None
    finally:
        await svc.close()


async def test_stream_records_are_written_in_batches(runtime: RuntimeInfo, tmp_path: Path) -> None:
    class CountingStore(SqliteTaskStore):
        batches = 0

        def put(self, tasks: Any, records: Any = ()) -> Any:
            CountingStore.batches += bool(records)
            return super().put(tasks, records)

        def add_records(self, records: Any) -> Any:
            CountingStore.batches += 1
            return super().add_records(records)

    store = CountingStore(tmp_path / STORE_FILE)
    svc = await open_service(runtime, store)
    try:
        await svc.create(TaskSpec(code='1..2000 | ForEach-Object { Write-Warning "w$_" }', id="many", auto_start=True))
        assert (await svc.wait("many", 60))["State"] == "Completed"
        assert store.count() == (1, 2000)
        assert 1 <= CountingStore.batches <= 40, CountingStore.batches  # batches, not one write per line
    finally:
        await svc.close()
        await store.close()


async def test_retention_by_age(runtime: RuntimeInfo, store: SqliteTaskStore) -> None:
    clock = Clock(datetime(2026, 1, 1, tzinfo=UTC))
    svc = await open_service(runtime, store, clock, retention_seconds=3600, max_finished=0, compile_cache_size=0)
    try:
        for i in range(3):
            await svc.create(TaskSpec(code=f"return {i};", language=Language.CSHARP, id=f"old{i}", auto_start=True))
            await svc.wait(f"old{i}", 30)
        assert compile_cache(svc) == (0, 0)  # a finished task releases its script (cache size 0: unloaded at once)
        clock.advance(1800)
        await svc.create(TaskSpec(code="'young'", id="young", auto_start=True))
        await svc.wait("young", 30)
        await svc.create(TaskSpec(code="'waits'", id="waiting"))
        assert await svc.sweep() == 0
        clock.advance(1800)  # the old ones completed an hour ago now
        assert await svc.sweep() == 3
        assert sorted(t["Id"] for t in svc.list()) == ["waiting", "young"]
        assert compile_cache(svc)[0] == 0
        assert store.count()[0] == 2
        clock.advance(1800)
        assert await svc.sweep() == 1 and [t["Id"] for t in svc.list()] == ["waiting"]  # NotStarted stays
    finally:
        await svc.close()


async def test_retention_by_count_oldest_first(runtime: RuntimeInfo, store: SqliteTaskStore) -> None:
    clock = Clock(datetime(2026, 1, 1, tzinfo=UTC))
    svc = await open_service(runtime, store, clock, retention_seconds=0, max_finished=3)
    try:
        for i in range(5):
            await svc.create(TaskSpec(code=f"{i}", id=f"f{i}", auto_start=True))
            await svc.wait(f"f{i}", 30)
            clock.advance(10)
        await svc.create(TaskSpec(code="Start-Sleep -Seconds 30", id="running", auto_start=True))
        await svc.create(TaskSpec(code="1", id="idle"))
        assert await svc.sweep() == 2
        assert sorted(t["Id"] for t in svc.list()) == ["f2", "f3", "f4", "idle", "running"]
        assert {t.data.id for t in await store.load()} == {"f2", "f3", "f4", "idle", "running"}
        assert await svc.sweep() == 0
    finally:
        await svc.close()


async def test_retention_keeps_a_subtree_until_all_of_it_is_finished(
    runtime: RuntimeInfo, store: SqliteTaskStore
) -> None:
    clock = Clock(datetime(2026, 1, 1, tzinfo=UTC))
    svc = await open_service(runtime, store, clock, retention_seconds=60, max_finished=0)
    try:
        await svc.create(TaskSpec(code="'p'", id="parent", auto_start=True))
        await svc.wait("parent", 30)
        await svc.create(TaskSpec(code="'c'", id="child", parent_id="parent"))
        clock.advance(120)
        assert await svc.sweep() == 0  # the child has not run yet
        await svc.start("child")
        await svc.wait("child", 30)
        clock.advance(30)
        assert await svc.sweep() == 0  # the child finished only 30 s ago
        clock.advance(60)
        assert await svc.sweep() == 1 and svc.list() == [] and store.count() == (0, 0)
    finally:
        await svc.close()


async def test_retention_applies_at_open_to_what_was_stored(runtime: RuntimeInfo, store: SqliteTaskStore) -> None:
    now = datetime.now(UTC)
    await store.put(
        [_finished(i, now - timedelta(days=2)) for i in range(5)] + [_finished(i, now) for i in range(5, 10)]
    )
    svc = await open_service(runtime, store, retention_seconds=86_400, max_finished=4)
    try:
        deadline = time.monotonic() + 10
        while len(svc.list()) > 4:  # the first sweep runs as soon as the service is open
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        assert sorted(t["Id"] for t in svc.list()) == ["t00006", "t00007", "t00008", "t00009"]
        assert store.count()[0] == 4
    finally:
        await svc.close()


async def test_restore_without_the_daemon(runtime: RuntimeInfo, store: SqliteTaskStore) -> None:
    now = datetime.now(UTC)
    base = _finished(0, now)
    await store.put(
        [
            replace(
                base,
                id="vb-ok",
                seq=1,
                state=TaskState.NOT_STARTED,
                language=Language.VBNET,
                code="Return n + 1",
                arguments={"n": 1},
                completed_at=None,
                started_at=None,
                output=None,
            ),
            replace(
                base,
                id="vb-broken",
                seq=2,
                state=TaskState.NOT_STARTED,
                language=Language.VBNET,
                code="Return nope",
                completed_at=None,
                started_at=None,
                output=None,
            ),
            replace(
                base,
                id="ps-broken",
                seq=3,
                state=TaskState.NOT_STARTED,
                code="if (",
                completed_at=None,
                started_at=None,
                output=None,
            ),
            replace(base, id="stopping", seq=4, state=TaskState.STOPPING, completed_at=None, output=None),
        ]
    )
    svc = await open_service(runtime, store)
    try:
        assert svc.get("vb-ok")["State"] == "NotStarted"
        await svc.start("vb-ok")
        assert (await svc.wait("vb-ok", 30))["State"] == "Completed" and svc.result("vb-ok")["Output"] == 2
        for task_id, code in (("vb-broken", "BC30451"), ("ps-broken", "")):
            record = svc.get(task_id)
            error = record["Error"]
            assert record["State"] == "Failed" and error is not None and error["Type"] == "CompileError", record
            assert code in error["Message"] and "no longer compiles" in error["Message"]
        error = svc.get("stopping")["Error"]
        assert error is not None and error["Type"] == "Interrupted" and "Stopping" in error["Message"]
        assert (await svc.wait("stopping", 1))["State"] == "Failed"  # finished tasks do not block waiters
        # The seq counter continues: a new task lists as the newest.
        await svc.create(TaskSpec(code="1", id="new"))
        assert svc.list()[0]["Id"] == "new"
    finally:
        await svc.close()
    states = {t.data.id: t.data.state for t in await store.load()}
    assert states == {
        "vb-ok": TaskState.COMPLETED,
        "vb-broken": TaskState.FAILED,
        "ps-broken": TaskState.FAILED,
        "stopping": TaskState.FAILED,
        "new": TaskState.NOT_STARTED,
    }
