"""REST API v1 of a real ``krtasks serve`` (token auth) over verified HTTPS: routes, errors, events, metrics."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from daemon_fixtures import Daemon, sse_events, start_daemon, wait_until_finished
from krtasks.web import routes_api
from krtasks.web.openapi import openapi_document

PROBLEM = "application/problem+json"
MAX_RUNSPACES = 3


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    d = start_daemon(tmp_path_factory.mktemp("api"), "--max-runspaces", str(MAX_RUNSPACES), "--stop-grace", "2")
    yield d
    d.close()


@pytest.fixture(scope="module")
def api(daemon: Daemon) -> requests.Session:
    return daemon.session()


@pytest.fixture
def url(daemon: Daemon) -> str:
    return daemon.url + "/api/v1"


def create(api: requests.Session, url: str, **body: Any) -> dict[str, Any]:
    r = api.post(f"{url}/tasks", json=body, timeout=30)
    assert r.status_code == 201, r.text
    record: dict[str, Any] = r.json()
    return record


def assert_problem(r: requests.Response, status: int, field: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"].startswith(PROBLEM)
    body: dict[str, Any] = r.json()
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status and body["type"].startswith("urn:krtasks:problem:")
    assert "Traceback" not in r.text
    if field is not None:
        assert body["field"] == field, body
        assert field in body["detail"]
    return body


# --------------------------------------------------------------------------------------------------- tasks
# (Routes, problems and auth that need no real code are tested in-process: tests/python/unit/test_core_routes.py.)


def test_create_run_and_read_result(api: requests.Session, url: str) -> None:
    r = api.post(
        f"{url}/tasks",
        json={
            "Code": "param($n) Write-Warning 'careful'; 1..$n",
            "Arguments": {"n": 3},
            "Name": "counting",
            "Description": "counts",
            "AutoStart": True,
        },
        timeout=30,
    )
    assert r.status_code == 201
    record = r.json()
    assert r.headers["Location"] == f"/api/v1/tasks/{record['Id']}"
    assert record["Name"] == "counting" and record["Description"] == "counts"
    assert record["Language"] == "PowerShell" and record["State"] in ("Running", "Completed")
    done = wait_until_finished(api, url.removesuffix("/api/v1"), record["Id"])
    assert done["State"] == "Completed" and done["Error"] is None
    result = api.get(f"{url}/tasks/{record['Id']}/result", timeout=10).json()
    assert result == {
        "Id": record["Id"],
        "CreatedAt": record["CreatedAt"],
        "State": "Completed",
        "Output": [1, 2, 3],
        "Error": None,
    }
    streams = api.get(f"{url}/tasks/{record['Id']}/streams", timeout=10).json()
    assert [(s["Stream"], s["Message"]) for s in streams["Records"]] == [("Warning", "careful")]
    assert streams["Next"] == 1
    assert api.get(f"{url}/tasks/{record['Id']}/streams?since=1", timeout=10).json() == {
        "Id": record["Id"],
        "CreatedAt": record["CreatedAt"],
        "Records": [],
        "Next": 1,
    }


def test_csharp_and_vb(api: requests.Session, url: str) -> None:
    cs = create(api, url, Language="CSharp", Code="return x * 2;", Arguments={"x": 21}, AutoStart=True)
    vb = create(api, url, Language="vb", Code='Return "vb:" & name', Arguments={"name": "ok"}, AutoStart=True)
    base = url.removesuffix("/api/v1")
    assert wait_until_finished(api, base, cs["Id"])["State"] == "Completed"
    assert wait_until_finished(api, base, vb["Id"])["State"] == "Completed"
    assert api.get(f"{url}/tasks/{cs['Id']}/result", timeout=10).json()["Output"] == 42
    assert api.get(f"{url}/tasks/{vb['Id']}/result", timeout=10).json()["Output"] == "vb:ok"


def test_failed_task_reports_its_error(api: requests.Session, url: str) -> None:
    record = create(api, url, Code="throw 'boom'", AutoStart=True)
    done = wait_until_finished(api, url.removesuffix("/api/v1"), record["Id"])
    assert done["State"] == "Failed" and "boom" in done["Error"]["Message"]
    result = api.get(f"{url}/tasks/{record['Id']}/result", timeout=10).json()
    assert "boom" in result["Error"]["Message"]


def test_wait_returns_current_record_after_timeout(api: requests.Session, url: str) -> None:
    record = create(api, url, Code="Start-Sleep -Seconds 30", AutoStart=True)
    started = time.monotonic()
    r = api.get(f"{url}/tasks/{record['Id']}/wait?timeout=0.5", timeout=10)
    assert r.status_code == 200 and r.json()["State"] == "Running"
    assert 0.4 < time.monotonic() - started < 3
    assert_problem(api.get(f"{url}/tasks/{record['Id']}/wait?Timeout=soon", timeout=10), 400, "Timeout")
    api.post(f"{url}/tasks/{record['Id']}/cancel", timeout=10)


# --------------------------------------------------------------------------------------------------- errors


def test_compile_error_is_422_with_diagnostics(api: requests.Session, url: str) -> None:
    r = api.post(f"{url}/tasks", json={"Language": "CSharp", "Code": "var x = 1;\nreturn y;"}, timeout=30)
    body = assert_problem(r, 422)
    diag = body["diagnostics"]
    assert diag and diag[0]["Id"] == "CS0103" and diag[0]["Line"] == 2
    assert_problem(api.post(f"{url}/tasks", json={"Code": "if ("}, timeout=30), 422)


# --------------------------------------------------------------------------------------------------- events


def test_events_deliver_progress_before_final_state(api: requests.Session, url: str) -> None:
    code = (
        "foreach ($i in 1..3) { $TaskProgress.PercentComplete = $i * 30; "
        '$TaskProgress.StatusMessage = "step $i"; Write-Information "info $i"; Start-Sleep -Milliseconds 300 }'
    )
    record = create(api, url, Code=code)
    with api.get(f"{url}/tasks/{record['Id']}/events", stream=True, timeout=30) as r:
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/event-stream")
        api.post(f"{url}/tasks/{record['Id']}/start", timeout=10)
        events = list(sse_events(r))  # the stream ends by itself after the final state
    kinds = [k for k, _ in events]
    assert kinds[0] == "state" and events[0][1]["State"] == "NotStarted"
    assert kinds[-1] == "state" and events[-1][1]["State"] == "Completed"
    progress = [d["Progress"]["StatusMessage"] for k, d in events if k == "progress"]
    assert any(p.startswith("step ") for p in progress) and kinds.index("progress") < len(kinds) - 1
    assert [d["Message"] for k, d in events if k == "stream"] == ["info 1", "info 2", "info 3"]
    states = [d["State"] for k, d in events if k == "state"]
    assert "Running" in states


def test_events_reconnect_to_finished_task_is_204(api: requests.Session, url: str) -> None:
    record = create(api, url, Code="1", AutoStart=True)
    wait_until_finished(api, url.removesuffix("/api/v1"), record["Id"])
    with api.get(f"{url}/tasks/{record['Id']}/events", stream=True, timeout=10) as r:
        assert [d["State"] for _, d in sse_events(r)] == ["Completed"]
    r = api.get(f"{url}/tasks/{record['Id']}/events", headers={"Last-Event-ID": "3"}, timeout=10)
    assert r.status_code == 204


def test_server_wide_events_follow_every_task(api: requests.Session, url: str) -> None:
    code = "foreach ($i in 1..3) { $TaskProgress.PercentComplete = $i * 30; Start-Sleep -Milliseconds 250 }"
    with api.get(f"{url}/events", stream=True, timeout=30) as r:
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/event-stream")
        snapshot = api.get(f"{url}/overview", timeout=10).json()
        record = create(api, url, Code=code, AutoStart=True, Name="followed")
        seen = []
        for kind, data in sse_events(r):
            if data["Id"] == record["Id"]:
                seen.append((kind, data))
                if kind == "state" and data["State"] == "Completed":
                    break
    kinds = [k for k, _ in seen]
    assert kinds[0] == "created" and seen[0][1]["Name"] == "followed"
    assert [d["PreviousState"] for k, d in seen if k == "state"] == ["NotStarted", "Running"]
    assert [d["Progress"]["PercentComplete"] for k, d in seen if k == "progress"][-1] == 100
    assert any(k == "progress" and 0 < d["Progress"]["PercentComplete"] < 100 for k, d in seen)
    after = api.get(f"{url}/overview", timeout=10).json()
    assert after["EventSeq"] > snapshot["EventSeq"] and after["Counts"]["Completed"] >= 1
    assert after["Isolation"] == "process" and after["Workers"] is not None and after["StoreBytes"] > 0


def test_definition_and_sorted_listing_of_real_tasks(api: requests.Session, url: str) -> None:
    short = create(api, url, Language="CSharp", Code="return n;", Arguments={"n": 2}, Name="dur-short", AutoStart=True)
    long = create(api, url, Code="Start-Sleep -Milliseconds 600", Name="dur-long", AutoStart=True)
    for t in (short, long):
        wait_until_finished(api, url.removesuffix("/api/v1"), t["Id"])
    definition = api.get(f"{url}/tasks/{short['Id']}/definition", timeout=10).json()
    assert (definition["Language"], definition["Code"], definition["Arguments"]) == ("CSharp", "return n;", {"n": 2})
    params: dict[str, str | int] = {"Name": "dur-*", "Sort": "duration", "Limit": 1}
    r = api.get(f"{url}/tasks", params=params, timeout=10)
    assert [t["Id"] for t in r.json()] == [long["Id"]] and r.headers["X-Total-Count"] == "2"
    r = api.get(f"{url}/tasks", params={"Name": "dur-*", "Sort": "duration", "Cursor": r.headers["X-Next-Cursor"]})
    assert [t["Id"] for t in r.json()] == [short["Id"]] and "Link" not in r.headers


# --------------------------------------------------------------------------------------------------- responsiveness


def test_slow_tasks_do_not_slow_other_requests(api: requests.Session, url: str) -> None:
    busy = [
        create(api, url, Language="CSharp", Code="System.Threading.Thread.Sleep(4000); return 1;", AutoStart=True),
        create(api, url, Code="$end = (Get-Date).AddSeconds(4); while ((Get-Date) -lt $end) { }", AutoStart=True),
    ]
    try:
        time.sleep(0.3)
        timings = []
        for _ in range(10):
            started = time.monotonic()
            assert api.get(f"{url}/tasks", timeout=10).status_code == 200
            create(api, url, Code="1")
            timings.append(time.monotonic() - started)
        assert max(timings) < 2.0, timings  # the busy tasks take 4 s each
    finally:
        for t in busy:
            api.delete(f"{url}/tasks/{t['Id']}?Force=true", timeout=30)


def test_many_concurrent_waits(api: requests.Session, daemon: Daemon, url: str) -> None:
    record = create(api, url, Code="Start-Sleep -Milliseconds 800; 'done'", AutoStart=True)
    results: list[str] = []

    def waiter() -> None:
        with daemon.session() as s:
            results.append(s.get(f"{url}/tasks/{record['Id']}/wait?Timeout=20", timeout=30).json()["State"])

    threads = [threading.Thread(target=waiter) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == ["Completed"] * 20


# --------------------------------------------------------------------------------------------------- openapi, metrics


def _doc_routes(doc: dict[str, Any]) -> set[tuple[str, str]]:
    methods = {"get", "post", "put", "patch", "delete"}
    return {(m.upper(), p) for p, item in doc["paths"].items() for m in item if m in methods}


def test_openapi_matches_the_registered_routes(api: requests.Session, url: str) -> None:
    served = api.get(f"{url}/openapi.json", timeout=10).json()
    assert served == openapi_document()
    assert served["openapi"].startswith("3.1")
    registered = {(r.method, r.path) for r in routes_api.routes}  # type: ignore[attr-defined]
    assert _doc_routes(served) == registered


def test_every_openapi_route_answers(api: requests.Session, daemon: Daemon, url: str) -> None:
    doc = openapi_document()
    task = create(api, url, Code="'answer'", AutoStart=True)
    wait_until_finished(api, daemon.url, task["Id"])
    bodies = {"createTask": {"Code": "1"}, "renameTask": {"Name": "renamed"}}
    for method, path in sorted(_doc_routes(doc), key=lambda mp: mp[0] == "DELETE"):  # delete last
        op = doc["paths"][path][method.lower()]
        concrete = daemon.url + path.replace("{id}", task["Id"])
        kwargs: dict[str, Any] = {"timeout": 30}
        if op["operationId"] in bodies:
            kwargs["json"] = bodies[op["operationId"]]
        if op["operationId"] == "waitTask":
            kwargs["params"] = {"Timeout": 1}
        # An event stream may never end (the server-wide one does not): read its status and headers only.
        kwargs["stream"] = "text/event-stream" in op["responses"].get("200", {}).get("content", {})
        r = api.request(method, concrete, **kwargs)
        documented = {int(code) for code in op["responses"]}
        assert r.status_code in documented, (method, path, r.status_code, r.text[:300])
        assert r.status_code < 400 or op["operationId"] in ("startTask", "cancelTask"), (method, path, r.text)
        r.close()


def test_metrics(api: requests.Session, daemon: Daemon) -> None:
    r = api.get(f"{daemon.url}/metrics", timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain")
    text = r.text
    for name in (
        'krtasks_tasks{state="Completed"}',
        "krtasks_queue_length",
        "krtasks_runs_total",
        "krtasks_run_duration_seconds_bucket",
        "krtasks_abandoned_total",
    ):
        assert name in text, name
