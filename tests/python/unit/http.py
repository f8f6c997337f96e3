"""HTTP helpers of the fast tier: the application on fake engines behind aiohttp's test client."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from krtasks.core.service import TaskService
from krtasks.models import ServiceConfig
from krtasks.web.app import create_app
from unit.fakes import FakeClock, FakeEngines, Script

PROBLEM = "application/problem+json"
TOKEN = "unit-test-token-0123456789abcdefghijklmnopq"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@contextlib.asynccontextmanager
async def open_client(
    engines: FakeEngines, clock: FakeClock, *, token: str | None = TOKEN, **config: Any
) -> AsyncIterator[TestClient[Any, Any]]:
    """The application (``token``, 64 KiB bodies) on a fresh service over the fakes (``max_runspaces`` 2 and
    a 0.5 s grace unless ``config`` says otherwise)."""
    config.setdefault("max_runspaces", 2)
    config.setdefault("stop_grace_seconds", 0.5)
    service = TaskService(ServiceConfig(**config), engines=engines, clock=clock.now, monotonic=clock.monotonic)
    app = create_app(service, token=token, max_body_bytes=64 * 1024)
    async with TestClient(TestServer(app)) as c:
        yield c


@contextlib.asynccontextmanager
async def app_client(engines: FakeEngines, clock: FakeClock) -> AsyncIterator[TestClient[Any, Any]]:
    """:func:`open_client` with its defaults, where code ``slow`` never ends."""
    engines.scripts["slow"] = Script(forever=True)
    async with open_client(engines, clock) as c:
        yield c


async def problem(r: ClientResponse, status: int, field: str | None = None) -> dict[str, Any]:
    """Assert ``r`` is a problem+json answer of ``status`` (naming ``field``); return its body."""
    assert r.status == status, await r.text()
    assert r.headers["Content-Type"].startswith(PROBLEM)
    body: dict[str, Any] = await r.json(content_type=None)
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status and body["type"].startswith("urn:krtasks:problem:")
    assert "Traceback" not in await r.text()
    if field is not None:
        assert body["field"] == field, body
        assert field in body["detail"]
    return body


async def create(client: TestClient[Any, Any], **body: Any) -> dict[str, Any]:
    """Create a task from the JSON ``body`` (201 asserted); its record."""
    r = await client.post("/api/v1/tasks", json=body, headers=AUTH)
    assert r.status == 201, await r.text()
    record: dict[str, Any] = await r.json()
    return record
