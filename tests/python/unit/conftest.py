"""The fast tier: the task core on fake engines and a fake clock; no .NET is ever loaded here."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from krtasks.core.service import TaskService
from krtasks.models import ServiceConfig
from krtasks.store import TaskStore
from unit.fakes import FakeClock, FakeEngines, ServiceFactory
from unit.http import app_client


@pytest.fixture(scope="session", autouse=True)
def no_dotnet() -> Iterator[None]:
    """The fast tier must not load .NET (it runs with KRTASKS_BUNDLE pointing at an empty folder)."""
    loaded_before = "clr" in sys.modules
    yield
    if not loaded_before:
        assert "clr" not in sys.modules, "a fast-tier test loaded .NET"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def engines(clock: FakeClock) -> FakeEngines:
    return FakeEngines(clock)


@pytest.fixture
def make_service(clock: FakeClock, engines: FakeEngines) -> ServiceFactory:
    """``async with make_service(max_runspaces=2, store=...) as svc``: an opened service on the fakes."""

    @contextlib.asynccontextmanager
    async def factory(store: TaskStore | None = None, **config: Any) -> AsyncIterator[TaskService]:
        config.setdefault("stop_grace_seconds", 1.0)
        service = TaskService(
            ServiceConfig(**config), engines=engines, clock=clock.now, monotonic=clock.monotonic, store=store
        )
        await service.open()
        try:
            yield service
        finally:
            await service.close(grace_seconds=0.1)

    return factory


@pytest.fixture
async def svc(make_service: ServiceFactory) -> AsyncIterator[TaskService]:
    async with make_service(max_runspaces=2) as service:
        yield service


@pytest.fixture
async def client(engines: FakeEngines, clock: FakeClock) -> AsyncIterator[TestClient[Any, Any]]:
    """The application on the fakes behind aiohttp's test client (:func:`unit.http.app_client`)."""
    async with app_client(engines, clock) as c:
        yield c
