"""Routes, problems and auth of the REST API, in-process (aiohttp's test client) on fake engines."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from unit.fakes import FakeClock, FakeEngines, Script
from unit.webclient import AUTH, TOKEN, create, open_client, problem


@pytest.fixture
async def client(engines: FakeEngines, clock: FakeClock) -> AsyncIterator[TestClient[Any, Any]]:
    engines.scripts["slow"] = Script(forever=True)
    async with open_client(engines, clock) as c:
        yield c


# --------------------------------------------------------------------------------------------------- auth


async def test_health_needs_no_token(client: TestClient[Any, Any]) -> None:
    r = await client.get("/api/v1/health")
    assert r.status == 200
    body = await r.json()
    assert body["Status"] == "Healthy" and re.fullmatch(r"\d+\.\d+\.\d+.*", body["Version"])


@pytest.mark.parametrize("path", ["/api/v1/tasks", "/api/v1/openapi.json", "/metrics", "/api/v1/tasks/x/result"])
async def test_401_without_token(client: TestClient[Any, Any], path: str) -> None:
    r = await client.get(path)
    await problem(r, 401)
    assert r.headers["WWW-Authenticate"] == 'Bearer realm="krtasks"'


async def test_401_with_wrong_token(client: TestClient[Any, Any]) -> None:
    wrong = TOKEN[:-1] + "X"
    r = await client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {wrong}"})
    await problem(r, 401)
    assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]
    r = await client.get("/api/v1/tasks", headers={"Authorization": f"Basic {TOKEN}"})
    await problem(r, 401)
    assert r.headers["WWW-Authenticate"].startswith("Bearer ")
    await problem(
        await client.post("/api/v1/tasks", json={"Code": "1"}, headers={"Authorization": f"Bearer {wrong}"}), 401
    )
    r = await client.get("/api/v1/tasks", headers={"Authorization": f"bearer {TOKEN}"})
    assert r.status == 200  # the scheme is case-insensitive (RFC 9110 §11.1)


# --------------------------------------------------------------------------------------------------- tasks


async def test_start_cancel_and_their_conflicts(client: TestClient[Any, Any]) -> None:
    record = await create(client, Code="slow")
    assert record["State"] == "NotStarted"
    task = f"/api/v1/tasks/{record['Id']}"
    await problem(await client.get(f"{task}/result", headers=AUTH), 409)
    r = await client.post(f"{task}/start", headers=AUTH)
    assert r.status == 202 and (await r.json())["State"] in ("Running", "Queued")
    await problem(await client.post(f"{task}/start", headers=AUTH), 409)
    await problem(await client.get(f"{task}/result", headers=AUTH), 409)  # not finished yet
    r = await client.post(f"{task}/cancel", headers=AUTH)
    assert r.status == 202 and (await r.json())["State"] in ("Stopping", "Stopped")
    r = await client.get(f"{task}/wait", params={"Timeout": "5"}, headers=AUTH)
    assert (await r.json())["State"] == "Stopped"
    await problem(await client.post(f"{task}/cancel", headers=AUTH), 409)


async def test_get_patch_delete(client: TestClient[Any, Any]) -> None:
    record = await create(client, Code="'x'", Id="My-Task-1")
    task = "/api/v1/tasks/my-task-1"  # ids are case-insensitive
    assert (await (await client.get(task, headers=AUTH)).json())["Id"] == "My-Task-1"
    r = await client.patch(task, json={"Name": "renamed", "Description": "new"}, headers=AUTH)
    body = await r.json()
    assert r.status == 200 and (body["Name"], body["Description"]) == ("renamed", "new")
    await problem(await client.patch(task, json={"Name": "  "}, headers=AUTH), 400, "Name")
    await problem(await client.patch(task, json={}, headers=AUTH), 400, "Name")
    await problem(await client.post("/api/v1/tasks", json={"Code": "1", "Id": "my-task-1"}, headers=AUTH), 409)
    r = await client.delete(task, headers=AUTH)
    assert r.status == 204 and await r.read() == b""
    await problem(await client.get(task, headers=AUTH), 404)
    await problem(await client.delete(task, headers=AUTH), 404)
    assert record["Id"] == "My-Task-1"


async def test_delete_running_needs_force(client: TestClient[Any, Any]) -> None:
    parent = await create(client, Code="'parent'")
    child = await create(client, Code="slow", ParentId=parent["Id"], AutoStart=True)
    assert (await (await client.get(f"/api/v1/tasks/{parent['Id']}", headers=AUTH)).json())["ChildrenId"] == [
        child["Id"]
    ]
    await problem(await client.delete(f"/api/v1/tasks/{child['Id']}", headers=AUTH), 409)
    await problem(await client.delete(f"/api/v1/tasks/{parent['Id']}", headers=AUTH), 409)  # a child still runs
    await problem(await client.delete(f"/api/v1/tasks/{parent['Id']}?Force=maybe", headers=AUTH), 400, "Force")
    r = await client.delete(f"/api/v1/tasks/{parent['Id']}?force=TRUE", headers=AUTH)
    assert r.status == 204
    await problem(await client.get(f"/api/v1/tasks/{child['Id']}", headers=AUTH), 404)


async def test_list_filters_paging_and_total(client: TestClient[Any, Any]) -> None:
    made = [await create(client, Code="1", Name=f"lst-ps-{i}") for i in range(3)]
    made.append(await create(client, Code="return 1;", Language="CSharp", Name="lst-cs"))

    async def ids(**params: Any) -> tuple[list[str], str]:
        r = await client.get("/api/v1/tasks", params=params, headers=AUTH)
        assert r.status == 200
        return [t["Id"] for t in await r.json()], r.headers["X-Total-Count"]

    assert await ids(Name="lst-*") == ([t["Id"] for t in reversed(made)], "4")  # newest first
    assert len((await ids(name="LST-PS-?", LANGUAGE="powershell"))[0]) == 3
    assert (await ids(Name="lst-*", Language="CSharp", state="notstarted"))[0] == [made[3]["Id"]]
    assert await ids(Name="lst-*", Limit=2, Offset=1) == ([made[2]["Id"], made[1]["Id"]], "4")
    assert await ids(ParentId=made[0]["Id"]) == ([], "0")
    for query, field in (
        ("State=Sleeping", "State"),
        ("Language=cobol", "Language"),
        ("Limit=-1", "Limit"),
        ("Offset=x", "Offset"),
    ):
        await problem(await client.get(f"/api/v1/tasks?{query}", headers=AUTH), 400, field)


async def test_queued_when_all_slots_are_busy(client: TestClient[Any, Any]) -> None:
    sleepers = [await create(client, Code="slow") for _ in range(3)]
    states = [
        (await (await client.post(f"/api/v1/tasks/{t['Id']}/start", headers=AUTH)).json())["State"] for t in sleepers
    ]
    assert states == ["Running", "Running", "Queued"]


async def test_wait_timeout_and_bad_timeout(client: TestClient[Any, Any]) -> None:
    record = await create(client, Code="slow", AutoStart=True)
    r = await client.get(f"/api/v1/tasks/{record['Id']}/wait", params={"timeout": "0.05"}, headers=AUTH)
    assert r.status == 200 and (await r.json())["State"] == "Running"
    await problem(await client.get(f"/api/v1/tasks/{record['Id']}/wait?Timeout=soon", headers=AUTH), 400, "Timeout")


# --------------------------------------------------------------------------------------------------- errors


async def test_malformed_json_is_400(client: TestClient[Any, Any]) -> None:
    json_type = {**AUTH, "Content-Type": "application/json"}
    body = await problem(await client.post("/api/v1/tasks", data=b'{"Code": ', headers=json_type), 400)
    assert "malformed JSON" in body["detail"]
    await problem(await client.post("/api/v1/tasks", data=b"[1, 2]", headers=json_type), 400)
    await problem(await client.post("/api/v1/tasks", data=b"", headers=json_type), 400)
    for number in (b"NaN", b"Infinity", b"1e400"):  # not JSON (RFC 8259), although Python's parser takes them
        r = await client.post(
            "/api/v1/tasks", data=b'{"Code": "1", "TimeoutSeconds": ' + number + b"}", headers=json_type
        )
        await problem(r, 400, "body")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "Code"),
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
    ],
)
async def test_invalid_field_is_400_naming_it(client: TestClient[Any, Any], body: dict[str, Any], field: str) -> None:
    await problem(await client.post("/api/v1/tasks", json=body, headers=AUTH), 400, field)


async def test_field_names_are_case_insensitive(client: TestClient[Any, Any]) -> None:
    r = await client.post("/api/v1/tasks", json={"code": "2", "language": "ps", "name": "lower"}, headers=AUTH)
    assert r.status == 201 and (await r.json())["Name"] == "lower"


async def test_not_json_is_415(client: TestClient[Any, Any]) -> None:
    await problem(await client.post("/api/v1/tasks", data="Code=1", headers=AUTH), 415)
    r = await client.post("/api/v1/tasks", data=b'{"Code": "1"}', headers={**AUTH, "Content-Type": "text/plain"})
    await problem(r, 415)


async def test_body_over_limit_is_413(client: TestClient[Any, Any]) -> None:
    await problem(await client.post("/api/v1/tasks", json={"Code": "#" + "x" * (64 * 1024)}, headers=AUTH), 413)


async def test_compile_error_is_422_with_diagnostics(client: TestClient[Any, Any], engines: FakeEngines) -> None:
    engines.scripts["broken"] = Script(
        compile_error=[{"Id": "CS0103", "Severity": "Error", "Message": "y?", "Line": 2, "Column": 8}]
    )
    body = await problem(
        await client.post("/api/v1/tasks", json={"Language": "CSharp", "Code": "broken"}, headers=AUTH), 422
    )
    assert body["diagnostics"][0]["Id"] == "CS0103" and body["diagnostics"][0]["Line"] == 2


async def test_unknown_route_and_method(client: TestClient[Any, Any]) -> None:
    await problem(await client.get("/api/v1/nothing-here", headers=AUTH), 404)
    await problem(await client.get("/tasks/list", headers=AUTH), 404)  # tutorial routes are off by default
    r = await client.put("/api/v1/tasks", json={}, headers=AUTH)
    await problem(r, 405)
    assert "POST" in r.headers["Allow"]


async def test_every_response_has_a_request_id(client: TestClient[Any, Any]) -> None:
    ids = {(await client.get("/api/v1/health")).headers["X-Request-Id"] for _ in range(3)}
    assert len(ids) == 3


async def test_events_of_unknown_task_is_404(client: TestClient[Any, Any]) -> None:
    await problem(await client.get(f"/api/v1/tasks/{'f' * 32}/events", headers=AUTH), 404)
