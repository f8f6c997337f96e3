"""The API the dashboard uses, in-process on fake engines: listing (sort, range, keyset links), the
server-wide event stream, the overview, task definitions, and the OpenAPI document of them."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import jsonschema_rs
import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from krtasks.web import routes_api
from krtasks.web.openapi import openapi_document
from unit.fakes import FakeClock, FakeEngines, Script
from unit.http import AUTH, create, open_client, problem


@pytest.fixture
async def client(engines: FakeEngines, clock: FakeClock) -> AsyncIterator[TestClient[Any, Any]]:
    engines.scripts["slow"] = Script(forever=True)
    async with open_client(engines, clock) as c:
        yield c


async def listed(client: TestClient[Any, Any], url: str = "/api/v1/tasks", **params: Any) -> ClientResponse:
    r = await client.get(url, params=params or None, headers=AUTH)
    assert r.status == 200, await r.text()
    return r


async def ids(r: ClientResponse) -> list[str]:
    return [t["Id"] for t in await r.json()]


async def test_keyset_pages_follow_the_link_header(client: TestClient[Any, Any], clock: FakeClock) -> None:
    made = []
    for i in range(7):
        made.append((await create(client, Code="1", Name=f"k-{(i * 3) % 7}"))["Id"])
        clock.advance(1)
    await create(client, Code="1", Name="other")
    by_name = [i for _n, i in sorted((f"k-{(n * 3) % 7}", i) for n, i in enumerate(made))]
    seen: list[str] = []
    r = await listed(client, Name="k-*", Sort="Name", Order="asc", Limit=3)
    while True:
        assert r.headers["X-Total-Count"] == "7"
        seen += await ids(r)
        link = r.headers.get("Link")
        if link is None:
            assert "X-Next-Cursor" not in r.headers
            break
        match = re.fullmatch(r'<(/api/v1/tasks\?[^>]+)>; rel="next"', link)
        assert match, link
        assert f"Cursor={r.headers['X-Next-Cursor']}" in match.group(1) and "Name=k-*" in match.group(1)
        r = await listed(client, match.group(1))
    assert seen == by_name
    # Offset paging and the total are as before; a Link is offered from an offset page too.
    r = await listed(client, Offset=2, Limit=2)
    assert await ids(r) == list(reversed(made))[1:3] and r.headers["X-Total-Count"] == "8"
    assert "Offset" not in r.headers["Link"]


async def test_created_range_and_order(client: TestClient[Any, Any], clock: FakeClock) -> None:
    made = []
    for _ in range(4):
        made.append((await create(client, Code="1"))["Id"])
        clock.advance(60)  # created at 00:00, 00:01, 00:02, 00:03
    r = await listed(client, CreatedAfter="2026-01-01T00:01:00Z", CreatedBefore="2026-01-01T01:03:00+01:00")
    assert await ids(r) == [made[2], made[1]]
    r = await listed(client, CreatedAfter="2026-01-01T00:01:00.000000001z", Order="ASC")
    assert await ids(r) == [made[2], made[3]]
    r = await listed(client, CreatedBefore="2026-01-01 00:00:30")  # no offset: UTC
    assert await ids(r) == [made[0]]
    assert await ids(await listed(client, CreatedAfter="2026-01-01T00:00:60Z")) == made[:0:-1]  # leap second


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("Sort=size", "Sort"),
        ("Order=up", "Order"),
        ("CreatedAfter=yesterday", "CreatedAfter"),
        ("CreatedBefore=2026-13-01T00:00:00Z", "CreatedBefore"),
    ],
)
async def test_bad_listing_parameters_are_400(client: TestClient[Any, Any], query: str, field: str) -> None:
    await problem(await client.get(f"/api/v1/tasks?{query}", headers=AUTH), 400, field)


async def test_a_cursor_not_given_out_or_of_another_order_is_422(client: TestClient[Any, Any]) -> None:
    # Well formed (the documented pattern), so not a 400: the contract test once sent "0C6KMJ6xPYRT3"
    for forged in ("bm9wZQ", "0C6KMJ6xPYRT3"):
        await problem(await client.get(f"/api/v1/tasks?Cursor={forged}", headers=AUTH), 422, "Cursor")
    for _ in range(3):
        await create(client, Code="1")
    r = await listed(client, Limit=1)
    cursor = r.headers["X-Next-Cursor"]
    await problem(await client.get(f"/api/v1/tasks?Cursor={cursor}&Sort=name", headers=AUTH), 422, "Cursor")


async def test_overview_and_definition(client: TestClient[Any, Any]) -> None:
    slow = await create(client, Code="slow", AutoStart=True, Name="sleeper", Arguments={"n": 1})
    r = await client.get("/api/v1/overview", headers=AUTH)
    assert r.status == 200
    body = await r.json()
    assert body["Counts"]["Running"] == 1 and body["Running"][0]["Id"] == slow["Id"]
    assert body["MaxRunspaces"] == 2 and len(body["Throughput"]) == 60 and body["EventSeq"] >= 2
    r = await client.get(f"/api/v1/tasks/{slow['Id']}/definition", headers=AUTH)
    definition = await r.json()
    assert (definition["Code"], definition["Arguments"], definition["Name"]) == ("slow", {"n": 1}, "sleeper")
    await problem(await client.get("/api/v1/tasks/nope/definition", headers=AUTH), 404)
    await problem(await client.get("/api/v1/overview"), 401)
    await problem(await client.get("/api/v1/events"), 401)


async def sse(r: ClientResponse) -> AsyncIterator[tuple[str, str, dict[str, Any]]]:
    """``(id, event, data)`` as they arrive."""
    fields: dict[str, str] = {}
    while True:
        line = (await r.content.readline()).decode()
        if line == "":
            return
        line = line.rstrip("\r\n")
        if line == "":
            if "data" in fields:
                yield fields.get("id", ""), fields.get("event", "message"), json.loads(fields["data"])
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")


async def test_server_wide_events(client: TestClient[Any, Any]) -> None:
    r = await client.get("/api/v1/events", headers=AUTH)
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/event-stream")
    events = sse(r)
    made = await create(client, Code="1", AutoStart=True)
    seen = []
    async with asyncio.timeout(5):
        async for event in events:
            seen.append(event)
            if event[1] == "state" and event[2]["State"] == "Completed":
                break
    assert [e for _i, e, _d in seen] == ["created", "state", "progress", "state"]
    assert all(d["Id"] == made["Id"] for _i, _e, d in seen)
    assert [int(i) for i, _e, _d in seen] == sorted(int(i) for i, _e, _d in seen)
    assert seen[-1][2]["PreviousState"] == "Running"
    await client.delete(f"/api/v1/tasks/{made['Id']}", headers=AUTH)
    async with asyncio.timeout(5):
        last = await anext(events)
    assert last[1:] == (
        "removed",
        {"Id": made["Id"], "State": "Completed", "ParentId": "", "CompletedAt": last[2]["CompletedAt"]},
    )
    r.close()
    assert_documented_events([*seen, last])


def assert_documented_events(events: list[tuple[str, str, dict[str, Any]]]) -> None:
    """Each event matches the ServerEvent alternative of its kind, JSON data included (the contract test
    reads the stream only until its request timeout)."""
    doc = openapi_document()
    components = {"components": doc["components"]}
    alternatives = {a["properties"]["event"]["const"]: a for a in doc["components"]["schemas"]["ServerEvent"]["oneOf"]}
    assert set(alternatives) == {"created", "state", "progress", "removed"}
    for event_id, kind, data in events:
        alternative = alternatives[kind]
        envelope = {"event": kind, "id": event_id, "data": json.dumps(data)}
        assert jsonschema_rs.validator_for({**alternative, **components}).is_valid(envelope), (kind, data)
        payload = {**alternative["properties"]["data"]["contentSchema"], **components}
        errors = [e.message for e in jsonschema_rs.validator_for(payload).iter_errors(data)]
        assert not errors, (kind, errors)


def test_every_api_route_is_documented() -> None:
    doc = openapi_document()
    methods = {"get", "post", "put", "patch", "delete"}
    documented = {(m.upper(), p) for p, item in doc["paths"].items() for m in item if m in methods}
    assert documented == {(r.method, r.path) for r in routes_api.routes}  # type: ignore[attr-defined]
    listing = {p["name"] for p in doc["paths"]["/api/v1/tasks"]["get"]["parameters"]}
    assert {"Sort", "Order", "Cursor", "CreatedAfter", "CreatedBefore", "Limit", "Offset"} <= listing
    schemas = doc["components"]["schemas"]
    assert {"Overview", "TaskDefinition", "ServerStateEvent", "RemovedEvent"} <= set(schemas)
    assert "PreviousState" in schemas["ServerStateEvent"]["required"]
