"""The error middleware in-process: an unexpected exception becomes a 500 problem without internals."""

from __future__ import annotations

import logging

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from krtasks.web.middleware import problems_middleware
from krtasks.web.problems import PROBLEM_JSON


async def test_unexpected_error_is_500_problem_without_internals(caplog: pytest.LogCaptureFixture) -> None:
    async def boom(request: web.Request) -> web.Response:
        raise RuntimeError("secret internal detail")

    app = web.Application(middlewares=[problems_middleware])
    app.router.add_get("/boom", boom)
    with caplog.at_level(logging.ERROR, logger="krtasks.http"):
        async with TestClient(TestServer(app)) as client:
            r = await client.get("/boom")
            text = await r.text()
            assert r.status == 500 and r.content_type == PROBLEM_JSON
            body = await r.json(content_type=PROBLEM_JSON)
    assert "secret" not in text and "Traceback" not in text and "RuntimeError" not in text
    assert body["type"] == "urn:krtasks:problem:internal-error" and body["status"] == 500
    assert body["requestId"] == r.headers["X-Request-Id"] and body["requestId"] in body["detail"]
    logged = [rec for rec in caplog.records if body["requestId"] in rec.getMessage()]
    assert logged and logged[0].exc_info is not None  # the details are in the log, under the same id
