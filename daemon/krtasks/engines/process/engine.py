"""Process isolation's engines: code is prepared in the daemon and run in a worker process.

The daemon parses PowerShell and compiles C#/VB (so a broken script is still refused at creation, with
diagnostics, and identical code is compiled once), then hands a worker the code or the compiled image.
A run's execution follows the worker's messages; a stop is a message, a hard stop (after the grace
period) kills the worker's process group. A worker that dies during a run — ``Environment.Exit``, a stack
overflow, ``FailFast``, a native crash, an out-of-memory kill — fails just that task with Error.Type
``WorkerCrashed`` (the exit code or signal and the worker's last output lines); a task whose worker passes
its ``MaxMemoryMB`` is killed and fails with ``MemoryLimitExceeded``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, SummaryMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

from ...models import Language, Progress, ServiceConfig, TaskErrorInfo
from ..base import CodeRequest, Engine, LaunchRequest, Outcome, OutputLimits, Prepared, RawRecord, StepReport
from ..cache import HeldCache
from ..captured import net_arguments
from ..roslyn import CacheKey, RoslynCompiler
from .pool import PoolCounters, PoolSettings, RunMessage, Worker, WorkerPool
from .protocol import Failed, OutcomeMessage, Step

log = logging.getLogger("krtasks.workers")

MEMORY_POLL_SECONDS = 0.05
"""How often a run with a MaxMemoryMB samples its worker's resident memory."""


@dataclass(frozen=True, slots=True)
class Image:
    """A compiled C#/VB script as a worker receives it (``pe``/``pdb`` base64); ``id`` names it in the
    worker's own cache of loaded scripts."""

    id: str
    pe: str
    pdb: str
    is_script: bool
    file: str


@dataclass(frozen=True, slots=True)
class Program:
    """The prepared handle: what a worker runs (PowerShell ``code`` or a compiled ``image``) with its arguments."""

    arguments_json: str
    code: str | None = None
    image: Image | None = None
    key: CacheKey | None = None
    arguments_clixml: str | None = None


class Preparers:
    """The daemon's half: PowerShell parse checks, C#/VB compilation into images held by the tasks that use
    them (and ``cache_size`` unheld ones for reuse). Thread-safe; called on the prepare executor."""

    def __init__(self, net: Any, cache_size: int) -> None:
        self._net = net
        self._compilers = {lang: RoslynCompiler(net, lang) for lang in (Language.CSHARP, Language.VBNET)}
        self._images: HeldCache[CacheKey, Image] = HeldCache(cache_size, lambda _image: None)
        self._lock = threading.Lock()
        self.compilations = 0

    def prepare(self, language: Language, request: CodeRequest) -> Prepared:
        """Check or compile ``request``.

        Raises:
            krtasks.errors.CompileError: the code does not parse or compile.
        """
        clixml = request.arguments_clixml
        if language == Language.POWERSHELL:
            from ..powershell import parse

            parse(self._net, request.code)
            if clixml is not None:
                net_arguments(self._net, request)  # refused now (400) rather than in the worker
            return Prepared(Program(request.arguments_json, code=request.code, arguments_clixml=clixml))
        compiler = self._compilers[language]
        key, arguments = compiler.key(request)
        image = self._images.hold(key)
        if image is not None:
            return Prepared(
                Program(request.arguments_json, image=image, key=key, arguments_clixml=clixml), compiled=False
            )
        compiled = compiler.compile(request, arguments)
        image = self._images.add(
            key,
            Image(
                hashlib.sha256(repr(key).encode()).hexdigest()[:32],
                base64.b64encode(bytes(compiled.Pe)).decode(),
                base64.b64encode(bytes(compiled.Pdb)).decode(),
                bool(compiled.IsScript),
                str(compiled.File),
            ),
        )
        with self._lock:
            self.compilations += 1
        return Prepared(Program(request.arguments_json, image=image, key=key, arguments_clixml=clixml), compiled=True)

    def release(self, prepared: Prepared) -> None:
        """Drop a task's hold on its image."""
        program = prepared.handle
        assert isinstance(program, Program)
        if program.key is not None:
            self._images.release(program.key)

    @property
    def images(self) -> int:
        """Compiled images in the daemon (held or idle)."""
        return self._images.loaded

    @property
    def held_images(self) -> int:
        """Compiled images held by at least one task."""
        return self._images.held

    def warm_up(self) -> None:
        """Warm the compiler up (once per process)."""
        self._compilers[Language.CSHARP].warm_up()


class ProcessExecution:
    """A run in a worker (see :class:`krtasks.engines.base.Execution`)."""

    def __init__(self, worker: Worker, pool: WorkerPool, counters: PoolCounters, max_memory_mb: int | None) -> None:
        self.worker = worker
        self._pool = pool
        self._counters = counters
        self._queue: asyncio.Queue[RunMessage | None] = asyncio.Queue()
        self._outcome: Outcome | None = None
        self._ended = False
        self._crashed = False
        self._memory_reached: float | None = None
        self._max_memory_mb = max_memory_mb
        worker.on_message = self._queue.put_nowait
        worker.exited.add_done_callback(lambda _exit: self._queue.put_nowait(None))
        self._watcher = asyncio.ensure_future(self._watch_memory()) if max_memory_mb else None

    async def _watch_memory(self) -> None:
        assert self._max_memory_mb is not None
        while not self._ended:
            used = await asyncio.to_thread(self.worker.memory_mb)
            if used > self._max_memory_mb and not self._ended:
                self._memory_reached = used
                self._counters.kills += 1
                self.worker.kill("memory")
                return
            await asyncio.sleep(MEMORY_POLL_SECONDS)

    async def step(self, wait_seconds: float) -> StepReport:
        """The worker's news within ``wait_seconds`` (everything that arrived, merged)."""
        if self._ended:
            return StepReport(True)
        try:
            first = await asyncio.wait_for(self._queue.get(), wait_seconds)
        except TimeoutError:
            return StepReport(False)
        items = [first]
        while not self._queue.empty():
            items.append(self._queue.get_nowait())
        records: list[RawRecord] = []
        progress = None
        for item in items:
            if isinstance(item, Step):
                records.extend(item.records)
                if item.progress is not None:
                    progress = Progress(*item.progress)
            elif isinstance(item, OutcomeMessage):
                self._outcome = Outcome(
                    item.output,
                    _error(item.error),
                    item.prompt,
                    list(item.notes),
                    list(item.records),
                    item.output_clixml,
                )
                self._end()
            elif isinstance(item, Failed):
                self._outcome = Outcome(error=_error(item.error))
                self._end()
            elif item is None and not self._ended:  # the worker is gone
                self._crashed = True
                self._end()
        return StepReport(self._ended, records, progress)

    def _end(self) -> None:
        self._ended = True
        if self._watcher is not None:
            self._watcher.cancel()

    def stop(self) -> None:
        """Ask the worker to stop the task (pipeline stop, cancellation token)."""
        self.worker.send({"type": "stop", "task": self.worker.task})

    async def finish(self) -> Outcome:
        """The outcome the worker sent, or why the worker died; the worker goes back to the pool."""
        try:
            if not self._crashed and self._outcome is not None:
                return self._outcome
            code = await self.worker.exited
            return Outcome(error=self._death(code))
        finally:
            self._pool.give_back(self.worker)

    def _death(self, code: int) -> TaskErrorInfo:
        worker = self.worker
        if self._memory_reached is not None:
            return TaskErrorInfo(
                "MemoryLimitExceeded",
                f"The task's worker process reached "
                f"{self._memory_reached:.0f} MB, over the task's MaxMemoryMB of {self._max_memory_mb} "
                "MB; the worker was killed.",
            )
        if worker.protocol_error is not None:
            return TaskErrorInfo(
                "WorkerProtocolError", f"The task's worker process was killed: {worker.protocol_error}."
            )
        return TaskErrorInfo("WorkerCrashed", f"The worker process running the task {worker.describe_exit(code)}.")

    async def abandon(self) -> bool:
        """Kill the worker (its process group): the code is certainly gone."""
        self._end()
        self._counters.kills += 1
        self.worker.kill("hard stop")
        with contextlib.suppress(Exception):
            await self.worker.exited
        self._pool.give_back(self.worker)
        return True


def _error(error: Any) -> TaskErrorInfo | None:
    if error is None:
        return None
    return TaskErrorInfo(error.Type, error.Message, error.Category, error.StackTrace, error.Line, error.Column)


class ProcessShared:
    """What the three process engines share: the preparers and their executor, the pool, the counters."""

    def __init__(
        self, preparers: Preparers, executor: ThreadPoolExecutor, pool: WorkerPool, counters: PoolCounters
    ) -> None:
        self.preparers = preparers
        self.executor = executor
        self.pool = pool
        self.counters = counters
        self.warm_up: asyncio.Future[None] | None = None
        self._users = 3

    async def done(self) -> None:
        """One engine closed; the last one closes the pool and the executor."""
        self._users -= 1
        if self._users == 0:
            if self.warm_up is not None:
                self.warm_up.cancel()
            await self.pool.close()
            self.executor.shutdown(wait=False, cancel_futures=True)


class ProcessEngine:
    """An :class:`~krtasks.engines.base.Engine` for one language in process isolation."""

    def __init__(self, language: Language, shared: ProcessShared) -> None:
        self._language = language
        self.shared = shared

    @property
    def language(self) -> Language:
        """The language this engine runs."""
        return self._language

    async def prepare(self, request: CodeRequest) -> Prepared:
        """Parse or compile in the daemon (on the prepare executor)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.shared.executor, self.shared.preparers.prepare, self._language, request)

    async def launch(self, prepared: Prepared, request: LaunchRequest) -> ProcessExecution:
        """Take a worker and start the task in it."""
        program = prepared.handle
        assert isinstance(program, Program)
        worker = await self.shared.pool.acquire()
        worker.task = request.task_id
        execution = ProcessExecution(worker, self.shared.pool, self.shared.counters, request.max_memory_mb)
        image = program.image
        worker.send(
            {
                "type": "start",
                "task": request.task_id,
                "language": self._language.value,
                "code": program.code,
                "script": None
                if image is None
                else {
                    "id": image.id,
                    "pe": image.pe,
                    "pdb": image.pdb,
                    "is_script": image.is_script,
                    "file": image.file,
                },
                "arguments": program.arguments_json,
                "arguments_clixml": program.arguments_clixml,
                "clixml_depth": request.clixml_depth,
                "reuse_runspace": request.reuse_runspace,
                "directory": request.working_directory,
                "environment": dict(request.environment),
            }
        )
        return execution

    async def release(self, prepared: Prepared) -> None:
        """Drop the task's hold on its image."""
        self.shared.preparers.release(prepared)

    def warm_up(self) -> None:
        """Warm the compiler up in the background once the first worker is ready (C# engine only: one warm-up
        for both languages): its ~3 s of JIT would otherwise slow down the worker the first task waits for."""
        if self._language == Language.CSHARP:
            self.shared.warm_up = asyncio.ensure_future(self._warm_up_later())

    async def _warm_up_later(self) -> None:
        await self.shared.pool.first_ready.wait()
        try:
            await asyncio.get_running_loop().run_in_executor(self.shared.executor, self.shared.preparers.warm_up)
        except Exception as exc:  # a failed warm-up only costs time later
            log.warning("Roslyn warm-up failed: %s", exc)

    async def close(self) -> None:
        """Give up this engine's share of the pool."""
        await self.shared.done()


class WorkerCollector(Collector):
    """``krtasks_workers{state}`` and the worker counters, read at scrape time."""

    def __init__(self, pool: WorkerPool, counters: PoolCounters) -> None:
        self._pool = pool
        self._counters = counters

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily | SummaryMetricFamily]:
        """Yield the worker gauges and counters, and how long starts took (spawn to ready)."""
        workers = GaugeMetricFamily("krtasks_workers", "Worker processes by state.", labels=["state"])
        for state, count in self._pool.counts().items():
            workers.add_metric([state], count)
        yield workers
        c = self._counters
        for name, value, text in (
            ("worker_starts", c.starts, "Worker processes started."),
            ("worker_crashes", c.crashes, "Workers that died while running a task."),
            ("worker_kills", c.kills, "Workers killed by the daemon (hard stop, memory)."),
            ("worker_recycles", c.recycles, "Workers retired after max tasks or memory."),
        ):
            yield CounterMetricFamily(f"krtasks_{name}", text, value=value)
        yield SummaryMetricFamily(
            "krtasks_worker_start_seconds",
            "Worker start times, spawn to ready (seconds).",
            count_value=c.starts,
            sum_value=c.start_seconds,
        )


async def open_process_engines(config: ServiceConfig, registry: CollectorRegistry | None) -> dict[Language, Engine]:
    """Load .NET, PowerShell and Roslyn into the daemon (for parsing and compiling only), start the worker
    pool's first workers in the background, and return one engine per language.

    Raises:
        krtasks.runtime.RuntimeNotAvailableError: the bundle or .NET is missing.
    """
    from ...runtime import load_runtime

    counters = PoolCounters()
    settings = PoolSettings(
        min(config.min_workers, config.max_runspaces),
        config.max_runspaces,
        config.worker_max_tasks,
        config.worker_max_memory_mb,
    )
    pool = WorkerPool(settings, OutputLimits.of(config), counters)
    pool.start()  # first: the worker loads .NET while the daemon does
    executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="krtasks-compile")
    try:
        net = (await asyncio.get_running_loop().run_in_executor(executor, load_runtime)).net
    except BaseException:
        executor.shutdown(wait=False)
        await pool.close()
        raise
    if registry is not None:
        registry.register(WorkerCollector(pool, counters))
    shared = ProcessShared(Preparers(net, config.compile_cache_size), executor, pool, counters)
    return {lang: ProcessEngine(lang, shared) for lang in Language}
