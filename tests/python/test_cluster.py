"""Several daemons over one PostgreSQL store (issue 15): real daemons on loopback ports, a real server.

The shared cluster (3 nodes, started at once on an empty database) serves the tests that leave every node
running; the tests that kill or pause a node start their own two-node cluster. Leases are short
(``--lease``) so expiry is observable in seconds.
"""

from __future__ import annotations

import concurrent.futures
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from daemon_fixtures import Daemon, sse_events, start_daemon, wait_until_finished
from krtasks.store.postgres_schema import SCHEMA_VERSION
from pg_fixtures import PgServer

pytest_plugins = ["pg_fixtures"]

FINISHED = ("Completed", "Failed", "Stopped")


def node_args(dsn: str, token: Path, lease: str, *extra: str) -> list[str]:
    return ["--store", dsn, "--token-file", str(token), "--lease", lease, "--stop-grace", "2", *extra]


def start_nodes(work: Path, count: int, args: list[str]) -> list[Daemon]:
    """Start ``count`` daemons at once (they migrate the empty database concurrently)."""
    with concurrent.futures.ThreadPoolExecutor(count) as pool:
        futures = [pool.submit(start_daemon, work / f"node{i}", *args) for i in range(count)]
        return [f.result() for f in futures]


def api(d: Daemon) -> str:
    return d.url + "/api/v1"


def create(d: Daemon, s: requests.Session, **body: Any) -> dict[str, Any]:
    r = s.post(f"{api(d)}/tasks", json=body, timeout=60)
    assert r.status_code == 201, r.text
    record: dict[str, Any] = r.json()
    return record


def record(d: Daemon, s: requests.Session, task_id: str) -> dict[str, Any]:
    r = s.get(f"{api(d)}/tasks/{task_id}", timeout=30)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def wait_for(what: str, check: Any, timeout: float, step: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what} not within {timeout} s"
        time.sleep(step)


def node_of(nodes: list[Daemon], node_id: str) -> Daemon:
    by_id = {d.state_dir.joinpath("node-id").read_text().strip(): d for d in nodes}
    return by_id[node_id]


def running_on(d: Daemon, s: requests.Session, task_id: str) -> str:
    rec = wait_for("running", lambda: (r := record(d, s, task_id))["State"] == "Running" and r, 60)
    node: str = rec["Node"]
    return node


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, pg_server: PgServer) -> Iterator[tuple[list[Daemon], str]]:
    work = tmp_path_factory.mktemp("cluster")
    dsn = pg_server.new_database()
    args = node_args(dsn, work / "token", "10s", "--isolation", "thread", "--max-runspaces", "4")
    nodes = start_nodes(work, 3, args)
    try:
        yield nodes, dsn
    finally:
        for d in nodes:
            d.close()


# ---------------------------------------------------------------------------------------- the shared cluster


def test_nodes_started_at_once_share_one_schema(cluster: tuple[list[Daemon], str]) -> None:
    nodes, dsn = cluster
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT version FROM krtasks_schema").fetchall() == [(SCHEMA_VERSION,)]
        assert conn.execute("SELECT count(*) FROM krtasks_nodes").fetchone() == (3,)
    listed = nodes[0].session().get(f"{api(nodes[0])}/nodes", timeout=30).json()
    assert sorted(n["Id"] for n in listed) == sorted(d.state_dir.joinpath("node-id").read_text().strip() for d in nodes)
    assert all(n["Slots"] == 4 and n["HeartbeatAt"] >= n["StartedAt"] for n in listed)
    metrics = nodes[1].session().get(f"{nodes[1].url}/metrics", timeout=30).text
    assert "krtasks_node_claims_total{node=" in metrics


def test_1000_tasks_created_round_robin_run_exactly_once(
    cluster: tuple[list[Daemon], str], tmp_path: Path, record_property: Any
) -> None:
    nodes, _ = cluster
    marks = tmp_path / "runs"
    marks.mkdir()
    count = int(os.environ.get("KRTASKS_CLUSTER_TASKS", "1000"))
    code = "param($Dir, $N) [IO.File]::WriteAllText((Join-Path $Dir \"$N-$([guid]::NewGuid())\"), ''); $N"
    sessions = [d.session() for d in nodes]

    def make(i: int) -> str:
        d = nodes[i % 3]
        return str(create(d, sessions[i % 3], Code=code, Arguments={"Dir": str(marks), "N": i}, AutoStart=True)["Id"])

    began = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        ids = list(pool.map(make, range(count)))
    created = time.monotonic() - began

    def finish(i: int) -> dict[str, Any]:
        return wait_until_finished(sessions[(i + 1) % 3], nodes[(i + 1) % 3].url, ids[i], timeout=180)

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        finals = list(pool.map(finish, range(count)))
    took = time.monotonic() - began
    record_property("seconds_1000", took)
    print(f"\n1000 tasks over 3 nodes: created in {created:.1f} s, all finished after {took:.1f} s")
    assert [f["State"] for f in finals] == ["Completed"] * count, [
        (f["Error"], f["Node"]) for f in finals if f["State"] != "Completed"
    ][:3]
    runs: dict[int, int] = {}
    for p in marks.iterdir():
        n = int(p.name.split("-", 1)[0])
        runs[n] = runs.get(n, 0) + 1
    assert runs == dict.fromkeys(range(count), 1)
    by_node: dict[str, int] = {}
    for f in finals:
        by_node[f["Node"]] = by_node.get(f["Node"], 0) + 1
    assert len(by_node) == 3, by_node  # every node took a share
    result = sessions[2].get(f"{api(nodes[2])}/tasks/{ids[7]}/result", timeout=30).json()
    assert result["Output"] == [7]


def test_cancel_on_one_node_stops_a_task_running_on_another_within_a_second(
    cluster: tuple[list[Daemon], str],
) -> None:
    nodes, _ = cluster
    s = [d.session() for d in nodes]
    task = create(nodes[0], s[0], Code="Start-Sleep -Seconds 60", AutoStart=True)
    runner = node_of(nodes, running_on(nodes[0], s[0], task["Id"]))
    other = next(d for d in nodes if d is not runner)
    so = other.session()
    began = time.monotonic()
    r = so.post(f"{api(other)}/tasks/{task['Id']}/cancel", timeout=30)
    assert r.status_code == 202, r.text
    final = wait_for("Stopped", lambda: (x := record(other, so, task["Id"]))["State"] == "Stopped" and x, 1.0)
    print(f"\ncancelled across nodes in {time.monotonic() - began:.3f} s")
    assert final["Progress"]["StatusMessage"] == "Cancelled"
    assert record(runner, runner.session(), task["Id"])["State"] == "Stopped"


def test_events_on_one_node_follow_a_task_running_on_another(cluster: tuple[list[Daemon], str]) -> None:
    nodes, _ = cluster
    s = nodes[1].session()
    code = (
        "foreach ($i in 1..4) { Write-Progress -Activity work -PercentComplete ($i * 20); "
        'Write-Warning "step $i"; Start-Sleep -Milliseconds 700 }; "done"'
    )
    task = create(nodes[1], s, Code=code, AutoStart=True)
    runner = node_of(nodes, running_on(nodes[1], s, task["Id"]))
    watcher = next(d for d in nodes if d is not runner)
    sw = watcher.session()
    kinds: list[tuple[str, Any]] = []
    with sw.get(f"{api(watcher)}/tasks/{task['Id']}/events", stream=True, timeout=60) as resp:
        assert resp.status_code == 200
        for kind, data in sse_events(resp):
            kinds.append((kind, data))
    percents = [d["Progress"]["PercentComplete"] for k, d in kinds if k == "progress"]
    warnings = [d["Message"] for k, d in kinds if k == "stream"]
    assert any(0 < p < 100 for p in percents), kinds
    assert warnings == ["step 1", "step 2", "step 3", "step 4"]
    assert kinds[-1][0] == "state" and kinds[-1][1]["State"] == "Completed"
    assert kinds[-1][1]["Node"] == runner.state_dir.joinpath("node-id").read_text().strip()
    waited = sw.get(f"{api(watcher)}/tasks/{task['Id']}/wait", timeout=30).json()
    assert waited["State"] == "Completed"


def test_claims_and_cancels_work_when_the_notification_connections_are_killed(
    cluster: tuple[list[Daemon], str],
) -> None:
    nodes, dsn = cluster
    s = nodes[0].session()
    waiting = create(nodes[0], s, Code="'ran'")
    running = create(nodes[0], s, Code="Start-Sleep -Seconds 60", AutoStart=True)
    runner = node_of(nodes, running_on(nodes[0], s, running["Id"]))
    other = next(d for d in nodes if d is not runner)
    with psycopg.connect(dsn, autocommit=True) as conn:
        killed = conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name LIKE 'krtasks % listen'"
        ).fetchone()
        assert killed == (3,)
        began = time.monotonic()
        # Queued from outside: only a poll can notice it now.
        conn.execute(
            "UPDATE krtasks_tasks SET state = 'Queued', queued_at = now() WHERE key = %s", (waiting["Id"].lower(),)
        )
        r = other.session().post(f"{api(other)}/tasks/{running['Id']}/cancel", timeout=30)
        assert r.status_code == 202
        wait_for("claimed", lambda: record(nodes[1], nodes[1].session(), waiting["Id"])["State"] == "Completed", 2.0)
        wait_for("cancelled", lambda: record(runner, runner.session(), running["Id"])["State"] == "Stopped", 2.0)
        print(f"\nclaim and cancel without notifications in {time.monotonic() - began:.2f} s")

        def listening() -> bool:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'krtasks % listen'"
            ).fetchone()
            return row == (3,)

        wait_for("listening again", listening, 10)


# ---------------------------------------------------------------------------------------- losing a node


def test_a_killed_node_has_its_runs_interrupted_after_its_lease_and_not_before(
    tmp_path: Path, pg_server: PgServer
) -> None:
    dsn = pg_server.new_database()
    # 3 slots a node: 5 tasks cannot all go to one node (a clean-clone run saw the victim claim all five of
    # them with 8 slots, leaving the survivor nothing to finish).
    args = node_args(dsn, tmp_path / "token", "3s", "--isolation", "thread", "--max-runspaces", "3")
    nodes = start_nodes(tmp_path, 2, args)
    try:
        victim, survivor = nodes
        sv, ss = victim.session(), survivor.session()
        victim_id = victim.state_dir.joinpath("node-id").read_text().strip()
        # Whichever node claims a task runs it: sort them by the node that did.
        tasks = [create(d, sd, Code="Start-Sleep -Seconds 4; 'fine'", AutoStart=True) for d, sd in [(victim, sv)] * 3]
        tasks += [create(survivor, ss, Code="Start-Sleep -Seconds 4; 'fine'", AutoStart=True) for _ in range(2)]
        placed = {t["Id"]: running_on(survivor, ss, t["Id"]) for t in tasks}
        doomed = [i for i, n in placed.items() if n == victim_id]
        fine = [i for i, n in placed.items() if n != victim_id]
        assert doomed and fine, placed
        victim.proc.send_signal(signal.SIGKILL)
        victim.proc.wait(timeout=30)
        killed_at = time.monotonic()
        time.sleep(1.0)  # the lease (3 s, renewed every 1 s) cannot have expired yet
        assert [record(survivor, ss, i)["State"] for i in doomed] == ["Running"] * len(doomed)

        def interrupted() -> bool:
            return all(record(survivor, ss, i)["State"] == "Failed" for i in doomed)

        wait_for("interrupted", interrupted, 6.0)
        print(f"\nrescued {time.monotonic() - killed_at:.2f} s after the kill (lease 3 s)")
        for i in doomed:
            rec = record(survivor, ss, i)
            assert rec["Error"]["Type"] == "Interrupted" and f"'{victim_id}'" in rec["Error"]["Message"]
            assert rec["Progress"]["StatusMessage"] == "Interrupted"
        for i in fine:
            assert wait_until_finished(ss, survivor.url, i)["State"] == "Completed"
    finally:
        for d in nodes:
            d.close()


def test_a_paused_node_past_its_lease_cannot_finish_its_task(tmp_path: Path, pg_server: PgServer) -> None:
    dsn = pg_server.new_database()
    args = node_args(dsn, tmp_path / "token", "2s", "--isolation", "process", "--min-workers", "1")
    nodes = start_nodes(tmp_path, 2, args)
    try:
        first = nodes[0]
        s0 = first.session()
        task = create(first, s0, Code="Write-Warning 'before'; Start-Sleep -Seconds 5; Write-Warning 'after'; 'late'")
        s0.post(f"{api(first)}/tasks/{task['Id']}/start", timeout=30)
        # Whichever node claimed it (usually the one started on; the other may win the claim) is paused.
        paused_id = running_on(first, s0, task["Id"])
        paused = node_of(nodes, paused_id)
        other = next(d for d in nodes if d is not paused)
        sp, so = paused.session(), other.session()
        time.sleep(0.8)  # let 'before' be written
        paused.proc.send_signal(signal.SIGSTOP)
        try:
            wait_for("rescued", lambda: record(other, so, task["Id"])["State"] == "Failed", 8.0)
            time.sleep(5.0)  # the worker process (not paused) finishes the code meanwhile
        finally:
            paused.proc.send_signal(signal.SIGCONT)
        before = record(other, so, task["Id"])
        assert before["Error"]["Type"] == "Interrupted" and f"'{paused_id}'" in before["Error"]["Message"]
        wait_for(
            "the paused node noticed",
            lambda: "no longer holds its run" in paused.stderr() or "lease lost" in paused.stderr(),
            10.0,
        )
        time.sleep(1.5)
        for d, s in ((other, so), (paused, sp)):
            rec = record(d, s, task["Id"])
            assert rec["State"] == "Failed" and rec["Error"]["Type"] == "Interrupted", rec
            result = s.get(f"{api(d)}/tasks/{task['Id']}/result", timeout=30).json()
            assert result["Output"] is None
            streams = s.get(f"{api(d)}/tasks/{task['Id']}/streams", timeout=30).json()["Records"]
            assert "after" not in [r["Message"] for r in streams]
        with psycopg.connect(dsn) as conn:
            row = conn.execute(
                "SELECT state, output FROM krtasks_tasks WHERE key = %s", (task["Id"].lower(),)
            ).fetchone()
            assert row == ("Failed", "null")
        # The node goes on serving: it claims and runs new work.
        again = create(paused, sp, Code="'again'", AutoStart=True)
        assert wait_until_finished(sp, paused.url, again["Id"])["State"] == "Completed"
    finally:
        for d in nodes:
            d.close()
