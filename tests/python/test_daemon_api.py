"""REST API v1 of a real ``krtasks serve`` (token auth) over verified HTTPS: routes, errors, events, metrics."""

from __future__ import annotations

import re
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


# --------------------------------------------------------------------------------------------------- auth

def test_health_needs_no_token(daemon: Daemon, url: str) -> None:
    anonymous = daemon.session(auth=False)
    r = anonymous.get(f"{url}/health", timeout=10)
    assert r.status_code == 200
    body = r.json()
    assert body["Status"] == "Healthy" and re.fullmatch(r"\d+\.\d+\.\d+.*", body["Version"])


@pytest.mark.parametrize("path", ["/api/v1/tasks", "/api/v1/openapi.json", "/metrics", "/api/v1/tasks/x/result"])
def test_401_without_token(daemon: Daemon, path: str) -> None:
    r = daemon.session(auth=False).get(daemon.url + path, timeout=10)
    assert_problem(r, 401)
    assert r.headers["WWW-Authenticate"] == 'Bearer realm="krtasks"'


def test_401_with_wrong_token(daemon: Daemon, url: str) -> None:
    s = daemon.session(auth=False)
    assert daemon.token is not None and len(daemon.token) >= 43  # 32 bytes, URL-safe base64
    wrong = daemon.token[:-1] + ("A" if daemon.token[-1] != "A" else "B")
    r = s.get(f"{url}/tasks", headers={"Authorization": f"Bearer {wrong}"}, timeout=10)
    assert_problem(r, 401)
    assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]
    r = s.get(f"{url}/tasks", headers={"Authorization": f"Basic {daemon.token}"}, timeout=10)
    assert_problem(r, 401)
    assert r.headers["WWW-Authenticate"].startswith("Bearer ")
    r = s.post(f"{url}/tasks", json={"Code": "1"}, headers={"Authorization": f"Bearer {wrong}"}, timeout=10)
    assert_problem(r, 401)
    r = s.get(f"{url}/tasks", headers={"Authorization": f"bearer {daemon.token}"}, timeout=10)
    assert r.status_code == 200  # the scheme is case-insensitive (RFC 9110 §11.1)


# --------------------------------------------------------------------------------------------------- tasks

def test_create_run_and_read_result(api: requests.Session, url: str) -> None:
    r = api.post(f"{url}/tasks", json={"Code": "param($n) Write-Warning 'careful'; 1..$n", "Arguments": {"n": 3},
                                       "Name": "counting", "Description": "counts", "AutoStart": True}, timeout=30)
    assert r.status_code == 201
    record = r.json()
    assert r.headers["Location"] == f"/api/v1/tasks/{record['Id']}"
    assert record["Name"] == "counting" and record["Description"] == "counts"
    assert record["Language"] == "PowerShell" and record["State"] in ("Running", "Completed")
    done = wait_until_finished(api, url.removesuffix("/api/v1"), record["Id"])
    assert done["State"] == "Completed" and done["Error"] is None
    result = api.get(f"{url}/tasks/{record['Id']}/result", timeout=10).json()
    assert result == {"Id": record["Id"], "CreatedAt": record["CreatedAt"], "State": "Completed",
                      "Output": [1, 2, 3], "Error": None}
    streams = api.get(f"{url}/tasks/{record['Id']}/streams", timeout=10).json()
    assert [(s["Stream"], s["Message"]) for s in streams["Records"]] == [("Warning", "careful")]
    assert streams["Next"] == 1
    assert api.get(f"{url}/tasks/{record['Id']}/streams?since=1", timeout=10).json() == {
        "Id": record["Id"], "CreatedAt": record["CreatedAt"], "Records": [], "Next": 1}


def test_csharp_and_vb(api: requests.Session, url: str) -> None:
    cs = create(api, url, Language="CSharp", Code="return x * 2;", Arguments={"x": 21}, AutoStart=True)
    vb = create(api, url, Language="vb", Code="Return \"vb:\" & name", Arguments={"name": "ok"}, AutoStart=True)
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


def test_start_cancel_and_their_conflicts(api: requests.Session, url: str) -> None:
    record = create(api, url, Code="Start-Sleep -Seconds 30")
    assert record["State"] == "NotStarted"
    task = f"{url}/tasks/{record['Id']}"
    assert_problem(api.get(f"{task}/result", timeout=10), 409)
    r = api.post(f"{task}/start", timeout=10)
    assert r.status_code == 202 and r.json()["State"] in ("Running", "Queued")
    assert_problem(api.post(f"{task}/start", timeout=10), 409)
    assert_problem(api.get(f"{task}/result", timeout=10), 409)  # not finished yet
    r = api.post(f"{task}/cancel", timeout=10)
    assert r.status_code == 202 and r.json()["State"] in ("Stopping", "Stopped")
    done = wait_until_finished(api, url.removesuffix("/api/v1"), record["Id"])
    assert done["State"] == "Stopped"
    assert_problem(api.post(f"{task}/cancel", timeout=10), 409)


def test_wait_returns_current_record_after_timeout(api: requests.Session, url: str) -> None:
    record = create(api, url, Code="Start-Sleep -Seconds 30", AutoStart=True)
    started = time.monotonic()
    r = api.get(f"{url}/tasks/{record['Id']}/wait?timeout=0.5", timeout=10)
    assert r.status_code == 200 and r.json()["State"] == "Running"
    assert 0.4 < time.monotonic() - started < 3
    assert_problem(api.get(f"{url}/tasks/{record['Id']}/wait?Timeout=soon", timeout=10), 400, "Timeout")
    api.post(f"{url}/tasks/{record['Id']}/cancel", timeout=10)


def test_get_patch_delete(api: requests.Session, url: str) -> None:
    record = create(api, url, Code="'x'", Id="My-Task-1")
    task = f"{url}/tasks/my-task-1"  # ids are case-insensitive
    assert api.get(task, timeout=10).json()["Id"] == "My-Task-1"
    r = api.patch(task, json={"Name": "renamed", "Description": "new"}, timeout=10)
    assert r.status_code == 200 and (r.json()["Name"], r.json()["Description"]) == ("renamed", "new")
    assert_problem(api.patch(task, json={"Name": "  "}, timeout=10), 400, "Name")
    assert_problem(api.patch(task, json={}, timeout=10), 400, "Name")
    assert_problem(api.post(f"{url}/tasks", json={"Code": "1", "Id": "my-task-1"}, timeout=10), 409)
    r = api.delete(task, timeout=10)
    assert r.status_code == 204 and r.content == b""
    assert_problem(api.get(task, timeout=10), 404)
    assert_problem(api.delete(task, timeout=10), 404)
    assert record["Id"] == "My-Task-1"


def test_delete_running_needs_force(api: requests.Session, url: str) -> None:
    parent = create(api, url, Code="'parent'")
    child = create(api, url, Code="Start-Sleep -Seconds 30", ParentId=parent["Id"], AutoStart=True)
    assert api.get(f"{url}/tasks/{parent['Id']}", timeout=10).json()["ChildrenId"] == [child["Id"]]
    assert_problem(api.delete(f"{url}/tasks/{child['Id']}", timeout=10), 409)
    assert_problem(api.delete(f"{url}/tasks/{parent['Id']}", timeout=10), 409)  # a child still runs
    assert_problem(api.delete(f"{url}/tasks/{parent['Id']}?Force=maybe", timeout=10), 400, "Force")
    r = api.delete(f"{url}/tasks/{parent['Id']}?force=TRUE", timeout=30)
    assert r.status_code == 204
    assert_problem(api.get(f"{url}/tasks/{child['Id']}", timeout=10), 404)


def test_list_filters_paging_and_total(api: requests.Session, url: str) -> None:
    tag = f"lst{int(time.time() * 1000)}"
    made = [create(api, url, Code="1", Name=f"{tag}-ps-{i}") for i in range(3)]
    made.append(create(api, url, Code="return 1;", Language="CSharp", Name=f"{tag}-cs"))
    r = api.get(f"{url}/tasks", params={"Name": f"{tag}-*"}, timeout=10)
    assert r.status_code == 200 and r.headers["X-Total-Count"] == "4"
    assert [t["Id"] for t in r.json()] == [t["Id"] for t in reversed(made)]  # newest first
    r = api.get(f"{url}/tasks", params={"name": f"{tag.upper()}-PS-?", "LANGUAGE": "powershell"}, timeout=10)
    assert len(r.json()) == 3
    r = api.get(f"{url}/tasks", params={"Name": f"{tag}-*", "Language": "CSharp", "state": "notstarted"}, timeout=10)
    assert [t["Id"] for t in r.json()] == [made[3]["Id"]]
    r = api.get(f"{url}/tasks", params={"Name": f"{tag}-*", "Limit": 2, "Offset": 1}, timeout=10)
    assert r.headers["X-Total-Count"] == "4" and [t["Id"] for t in r.json()] == [made[2]["Id"], made[1]["Id"]]
    r = api.get(f"{url}/tasks", params={"ParentId": made[0]["Id"]}, timeout=10)
    assert r.json() == [] and r.headers["X-Total-Count"] == "0"
    assert_problem(api.get(f"{url}/tasks?State=Sleeping", timeout=10), 400, "State")
    assert_problem(api.get(f"{url}/tasks?Language=cobol", timeout=10), 400, "Language")
    assert_problem(api.get(f"{url}/tasks?Limit=-1", timeout=10), 400, "Limit")
    assert_problem(api.get(f"{url}/tasks?Offset=x", timeout=10), 400, "Offset")


def test_queued_when_all_slots_are_busy(api: requests.Session, url: str) -> None:
    sleepers = [create(api, url, Code="Start-Sleep -Seconds 30") for _ in range(MAX_RUNSPACES + 1)]
    try:
        states = [api.post(f"{url}/tasks/{t['Id']}/start", timeout=10).json()["State"] for t in sleepers]
        assert states[-1] == "Queued" and states.count("Running") <= MAX_RUNSPACES
    finally:
        for t in sleepers:
            api.delete(f"{url}/tasks/{t['Id']}?Force=true", timeout=30)


# --------------------------------------------------------------------------------------------------- errors

def test_malformed_json_is_400(api: requests.Session, url: str) -> None:
    r = api.post(f"{url}/tasks", data=b'{"Code": ', headers={"Content-Type": "application/json"}, timeout=10)
    body = assert_problem(r, 400)
    assert "malformed JSON" in body["detail"]
    r = api.post(f"{url}/tasks", data=b"[1, 2]", headers={"Content-Type": "application/json"}, timeout=10)
    assert_problem(r, 400)
    r = api.post(f"{url}/tasks", data=b"", headers={"Content-Type": "application/json"}, timeout=10)
    assert_problem(r, 400)
    for number in (b"NaN", b"Infinity", b"1e400"):  # not JSON (RFC 8259), although Python's parser takes them
        r = api.post(f"{url}/tasks", data=b'{"Code": "1", "TimeoutSeconds": ' + number + b"}",
                     headers={"Content-Type": "application/json"}, timeout=10)
        assert_problem(r, 400, "body")


@pytest.mark.parametrize(("body", "field"), [
    ({}, "Code"),
    ({"Code": None}, "Code"),
    ({"Code": 5}, "Code"),
    ({"Code": "1", "Language": "Cobol"}, "Language"),
    ({"Code": "1", "AutoStart": "yes"}, "AutoStart"),
    ({"Code": "1", "TimeoutSeconds": -1}, "TimeoutSeconds"),
    ({"Code": "1", "Arguments": [1]}, "Arguments"),
    ({"Code": "1", "Arguments": {"1bad": 1}}, "Arguments"),
    ({"Code": "1", "ExtraImports": "System.Text"}, "ExtraImports"),
    ({"Code": "1", "Bogus": True}, "Bogus"),
    ({"Code": "1", "ParentId": "no-such-parent"}, "ParentId"),
    ({"Code": "1", "Id": "has\u0007bell"}, "Id"),
    ({"Code": "1", "Id": "x" * 129}, "Id"),
])
def test_invalid_field_is_400_naming_it(api: requests.Session, url: str, body: dict[str, Any], field: str) -> None:
    assert_problem(api.post(f"{url}/tasks", json=body, timeout=10), 400, field)


def test_field_names_are_case_insensitive(api: requests.Session, url: str) -> None:
    r = api.post(f"{url}/tasks", json={"code": "2", "language": "ps", "name": "lower"}, timeout=10)
    assert r.status_code == 201 and r.json()["Name"] == "lower"


def test_not_json_is_415(api: requests.Session, url: str) -> None:
    assert_problem(api.post(f"{url}/tasks", data="Code=1", timeout=10), 415)
    r = api.post(f"{url}/tasks", data=b'{"Code": "1"}', headers={"Content-Type": "text/plain"}, timeout=10)
    assert_problem(r, 415)


def test_body_over_limit_is_413(api: requests.Session, url: str) -> None:
    r = api.post(f"{url}/tasks", json={"Code": "#" + "x" * (1024 * 1024)}, timeout=30)
    assert_problem(r, 413)


def test_compile_error_is_422_with_diagnostics(api: requests.Session, url: str) -> None:
    r = api.post(f"{url}/tasks", json={"Language": "CSharp", "Code": "var x = 1;\nreturn y;"}, timeout=30)
    body = assert_problem(r, 422)
    diag = body["diagnostics"]
    assert diag and diag[0]["Id"] == "CS0103" and diag[0]["Line"] == 2
    assert_problem(api.post(f"{url}/tasks", json={"Code": "if ("}, timeout=30), 422)


def test_unknown_route_and_method(api: requests.Session, daemon: Daemon, url: str) -> None:
    assert_problem(api.get(f"{url}/nothing-here", timeout=10), 404)
    assert_problem(api.get(f"{daemon.url}/tasks/list", timeout=10), 404)  # tutorial routes are off in serve
    r = api.put(f"{url}/tasks", json={}, timeout=10)
    assert_problem(r, 405)
    assert "POST" in r.headers["Allow"]


def test_every_response_has_a_request_id(api: requests.Session, url: str) -> None:
    ids = {api.get(f"{url}/health", timeout=10).headers["X-Request-Id"] for _ in range(3)}
    assert len(ids) == 3


# --------------------------------------------------------------------------------------------------- events

def test_events_deliver_progress_before_final_state(api: requests.Session, url: str) -> None:
    code = ("foreach ($i in 1..3) { $TaskProgress.PercentComplete = $i * 30; "
            "$TaskProgress.StatusMessage = \"step $i\"; Write-Information \"info $i\"; Start-Sleep -Milliseconds 300 }")
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


def test_events_of_unknown_task_is_404(api: requests.Session, url: str) -> None:
    assert_problem(api.get(f"{url}/tasks/{'f' * 32}/events", timeout=10), 404)


def test_events_reconnect_to_finished_task_is_204(api: requests.Session, url: str) -> None:
    record = create(api, url, Code="1", AutoStart=True)
    wait_until_finished(api, url.removesuffix("/api/v1"), record["Id"])
    with api.get(f"{url}/tasks/{record['Id']}/events", stream=True, timeout=10) as r:
        assert [d["State"] for _, d in sse_events(r)] == ["Completed"]
    r = api.get(f"{url}/tasks/{record['Id']}/events", headers={"Last-Event-ID": "3"}, timeout=10)
    assert r.status_code == 204


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
        r = api.request(method, concrete, **kwargs)
        documented = {int(code) for code in op["responses"]}
        assert r.status_code in documented, (method, path, r.status_code, r.text[:300])
        assert r.status_code < 400 or op["operationId"] in ("startTask", "cancelTask"), (method, path, r.text)


def test_metrics(api: requests.Session, daemon: Daemon) -> None:
    r = api.get(f"{daemon.url}/metrics", timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain")
    text = r.text
    for name in ("krtasks_tasks{state=\"Completed\"}", "krtasks_queue_length", "krtasks_runs_total",
                 "krtasks_run_duration_seconds_bucket", "krtasks_abandoned_total"):
        assert name in text, name
