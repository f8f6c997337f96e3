"""Thread isolation: the synchronous .NET engines run inside the daemon, on executor threads.

:func:`open_thread_engines` loads .NET, PowerShell and Roslyn into this process and returns one
:class:`ThreadedEngine` per language. Preparations (parse, compile) and releases run on a small
``prepare`` pool, launches and the blocking ``step``/``finish`` calls on a ``run`` pool sized for every
slot, so no .NET call ever runs on the event loop. Code that ignores a stop can only be abandoned here:
its thread keeps running (see docs/engine.md).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from ..models import Language, ServiceConfig
from .base import CodeRequest, Engine, LaunchRequest, Outcome, OutputLimits, Prepared, StepReport
from .captured import SyncEngine, SyncExecution

log = logging.getLogger("krtasks.engines")

T = TypeVar("T")


class ThreadPools:
    """The executors the thread engines share; shut down when the last engine using them closes."""

    def __init__(self, max_runspaces: int) -> None:
        self.prepare = ThreadPoolExecutor(max_workers=2, thread_name_prefix="krtasks-compile")
        self.run = ThreadPoolExecutor(max_workers=max_runspaces * 2 + 4, thread_name_prefix="krtasks-run")
        self._users = 0
        self._lock = threading.Lock()

    def use(self) -> ThreadPools:
        """Count one more engine sharing these pools."""
        with self._lock:
            self._users += 1
        return self

    def done(self) -> None:
        """One engine is closed; the last one shuts the pools down (without waiting for abandoned runs)."""
        with self._lock:
            self._users -= 1
            last = self._users <= 0
        if last:
            self.run.shutdown(wait=False, cancel_futures=True)
            self.prepare.shutdown(wait=False, cancel_futures=True)


async def _call(pool: ThreadPoolExecutor, fn: Callable[..., T], *args: object) -> T:
    return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)


def _log_failure(what: str) -> Callable[[Future[None]], None]:
    def done(future: Future[None]) -> None:
        if not future.cancelled() and future.exception() is not None:
            log.warning("%s failed: %s", what, future.exception())

    return done


class ThreadedEngine:
    """An :class:`~krtasks.engines.base.Engine` over a synchronous engine, run on executor threads."""

    def __init__(self, sync: SyncEngine, pools: ThreadPools) -> None:
        self.sync = sync
        """The synchronous engine (tests read its caches through it)."""
        self._pools = pools.use()

    @property
    def language(self) -> Language:
        """The language of the synchronous engine."""
        return self.sync.language

    async def prepare(self, request: CodeRequest) -> Prepared:
        """Parse or compile on the prepare pool."""
        return await _call(self._pools.prepare, self.sync.prepare, request)

    async def launch(self, prepared: Prepared, request: LaunchRequest) -> ThreadedExecution:
        """Start the run on the run pool."""
        execution = await _call(self._pools.run, self.sync.launch, prepared, request)
        return ThreadedExecution(execution, self._pools.run)

    async def release(self, prepared: Prepared) -> None:
        """Release on the prepare pool (unloading a script context can take milliseconds)."""
        await _call(self._pools.prepare, self.sync.release, prepared)

    def warm_up(self) -> None:
        """Warm up on the prepare pool in the background; a failure only costs time later."""
        self._pools.prepare.submit(self.sync.warm_up).add_done_callback(_log_failure(f"{self.language} warm-up"))

    async def close(self) -> None:
        """Close the synchronous engine, then give up this engine's share of the pools."""
        try:
            await _call(self._pools.prepare, self.sync.close)
        finally:
            self._pools.done()


class ThreadedExecution:
    """An :class:`~krtasks.engines.base.Execution` over a synchronous one, stepped on the run pool."""

    def __init__(self, execution: SyncExecution, pool: ThreadPoolExecutor) -> None:
        self._execution = execution
        self._pool = pool

    async def step(self, wait_seconds: float) -> StepReport:
        """Block a pool thread (not the loop) for up to ``wait_seconds``."""
        return await _call(self._pool, self._execution.step, max(0, int(wait_seconds * 1000)))

    def stop(self) -> None:
        """Off the loop: cancelling a token runs user-registered callbacks synchronously."""
        self._pool.submit(self._execution.stop).add_done_callback(_log_failure("stopping a task"))

    async def finish(self) -> Outcome:
        """Convert the result on a pool thread."""
        return await _call(self._pool, self._execution.finish)

    async def abandon(self) -> bool:
        """Nothing can end code running on a thread of this process: it may go on running."""
        return False


async def open_thread_engines(config: ServiceConfig) -> dict[Language, Engine]:
    """Load .NET, PowerShell and Roslyn into this process (under a second) and return the three engines.

    Raises:
        krtasks.runtime.RuntimeNotAvailableError: the bundle or .NET is missing.
    """
    from ..runtime import load_runtime
    from .powershell import PowerShellEngine
    from .roslyn import RoslynEngine

    pools = ThreadPools(config.max_runspaces)
    limits = OutputLimits.of(config)

    def build() -> list[SyncEngine]:
        net = load_runtime().net
        return [
            PowerShellEngine(net, config.max_runspaces, limits),
            RoslynEngine(net, Language.CSHARP, config.compile_cache_size, limits),
            RoslynEngine(net, Language.VBNET, config.compile_cache_size, limits),
        ]

    try:
        engines = await _call(pools.prepare, build)
    except BaseException:
        pools.done()
        raise
    return {sync.language: ThreadedEngine(sync, pools) for sync in engines}
