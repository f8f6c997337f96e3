"""Language engines behind one contract (:mod:`krtasks.engines.base`): PowerShell and Roslyn (C#, VB.NET),
run in worker processes (:mod:`krtasks.engines.process`, the default) or in the daemon's threads
(:mod:`krtasks.engines.threaded`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prometheus_client.registry import CollectorRegistry

    from ..models import Language, ServiceConfig
    from .base import Engine


async def open_engines(config: ServiceConfig, registry: CollectorRegistry | None = None) -> dict[Language, Engine]:
    """The engines ``config.isolation`` asks for (``process`` or ``thread``); ``registry`` gets the worker
    metrics in process isolation.

    Raises:
        krtasks.runtime.RuntimeNotAvailableError: the bundle or .NET is missing.
    """
    if config.isolation == "thread":
        from .threaded import open_thread_engines

        return await open_thread_engines(config)
    from .process.engine import open_process_engines

    return await open_process_engines(config, registry)
