"""One call to run a task and get its result: ``POST /api/v1/tasks`` with ``Wait`` (fake engines)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp.test_utils import TestClient

from krtasks.engines.base import Outcome
from krtasks.models import TaskErrorInfo
from unit.fakes import FakeEngines, Script
from unit.http import AUTH, problem


async def test_wait_answers_with_record_and_output_once_finished(client: TestClient[Any, Any]) -> None:
    r = await client.post("/api/v1/tasks", json={"Code": "the answer", "Wait": 5}, headers=AUTH)
    assert r.status == 201, await r.text()
    body = await r.json()
    assert body["State"] == "Completed" and body["Output"] == "the answer" and body["Error"] is None
    assert r.headers["Location"] == f"/api/v1/tasks/{body['Id']}"
    # the same task as the API shows it afterwards
    result = await (await client.get(f"/api/v1/tasks/{body['Id']}/result", headers=AUTH)).json()
    assert result["Output"] == "the answer" and result["CreatedAt"] == body["CreatedAt"]


async def test_wait_that_runs_out_answers_202_and_the_task_goes_on(client: TestClient[Any, Any]) -> None:
    r = await client.post("/api/v1/tasks", json={"Code": "slow", "Wait": 0.05}, headers=AUTH)
    assert r.status == 202, await r.text()
    body = await r.json()
    assert body["State"] == "Running" and "Output" not in body
    again = await (await client.get(r.headers["Location"], headers=AUTH)).json()
    assert again["State"] == "Running"
    assert (await client.post(f"{r.headers['Location']}/cancel", headers=AUTH)).status == 202


async def test_a_failed_task_answers_201_with_its_error(client: TestClient[Any, Any], engines: FakeEngines) -> None:
    error = TaskErrorInfo(type="RuntimeException", message="boom")
    engines.scripts["fails"] = Script(outcome=Outcome(output=[1], error=error))
    r = await client.post("/api/v1/tasks", json={"Code": "fails", "Wait": 5}, headers=AUTH)
    assert r.status == 201
    body = await r.json()
    assert body["State"] == "Failed" and body["Error"]["Message"] == "boom" and body["Output"] == [1]


async def test_wait_starts_the_task_and_refuses_autostart_false(client: TestClient[Any, Any]) -> None:
    r = await client.post("/api/v1/tasks", json={"Code": "1", "Wait": 5, "AutoStart": True}, headers=AUTH)
    assert r.status == 201 and (await r.json())["State"] == "Completed"
    body = await problem(
        await client.post("/api/v1/tasks", json={"Code": "1", "Wait": 5, "AutoStart": False}, headers=AUTH),
        422,
        "Wait",
    )
    assert body["type"] == "urn:krtasks:problem:unprocessable"
    await problem(await client.post("/api/v1/tasks", json={"Code": "1", "Wait": -1}, headers=AUTH), 400, "Wait")
    await problem(await client.post("/api/v1/tasks", json={"Code": "1", "Wait": "5"}, headers=AUTH), 400, "Wait")
    assert (await (await client.get("/api/v1/tasks", headers=AUTH)).json())[0]["State"] == "Completed"


async def test_wait_zero_answers_at_once(client: TestClient[Any, Any]) -> None:
    r = await client.post("/api/v1/tasks", json={"Code": "slow", "Wait": 0}, headers=AUTH)
    assert r.status == 202 and (await r.json())["State"] in ("Running", "Queued")


async def test_many_one_calls_at_once(client: TestClient[Any, Any]) -> None:
    answers = await asyncio.gather(
        *(client.post("/api/v1/tasks", json={"Code": f"n{i}", "Wait": 10}, headers=AUTH) for i in range(20))
    )
    outputs = sorted([(await r.json())["Output"] for r in answers])
    assert [r.status for r in answers] == [201] * 20 and outputs == sorted(f"n{i}" for i in range(20))
