"""The task service: registry, state machine, queue, timeouts and cancellation of tasks.

Everything here runs on the asyncio event loop except the .NET calls, which go to executor threads:
``_compile_pool`` for parsing/compiling at creation, ``_run_pool`` for starting, watching (``step``) and
finishing executions. States follow PowerShell's job vocabulary plus Queued:

    NotStarted → (Queued →) Running → Completed | Failed | Stopping → Stopped

Cancel of NotStarted/Queued ends at once in Stopped; cancel of Running goes through Stopping, and a task
whose code ignores cancellation for ``stop_grace_seconds`` is marked Stopped anyway and counted as
abandoned. A task that runs past its timeout is stopped and ends Failed with Error.Type TimeoutException.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import fnmatch
import json
import logging
import time
import unicodedata
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .engine_powershell import PowerShellEngine
from .engine_roslyn import CacheKey, RoslynEngine
from .errors import CompileError, TaskConflictError, TaskNotFoundError, TaskValidationError
from .execution import Execution, Outcome, StepResult
from .metrics import Metrics
from .models import IDENTIFIER, RESERVED_ARGUMENTS, Language, ServiceConfig, TaskSpec, TaskState
from .records import iso, timespan, utc_now
from .retention import SWEEP_INTERVAL_SECONDS, select_expired
from .runtime import NetTypes
from .store import StoredRecord, StoredTask, TaskStore

log = logging.getLogger("krtasks.service")

STEP_MS = 200
"""How long one ``step`` waits for the end before reporting progress (ms); bounds timeout/grace resolution."""

STREAM_PAGE = 1000
"""Most stream records one :meth:`TaskService.streams` call returns."""

RECORD_FLUSH_SECONDS = 0.5
"""How long new stream records may wait before they are written to the store as one batch (seconds)."""

MAX_ID_LENGTH = 128
ACTIVE = frozenset({TaskState.QUEUED, TaskState.RUNNING, TaskState.STOPPING})


def _initial_progress() -> dict[str, Any]:
    return {"PercentComplete": 0, "StatusMessage": "Not started", "Activity": None, "CurrentOperation": None,
            "SecondsRemaining": None}


def _error(type_: str, message: str) -> dict[str, Any]:
    return {"Type": type_, "Message": message, "Category": None, "StackTrace": None, "Line": None, "Column": None}


@dataclass(eq=False)
class TaskEntry:
    """One task in the registry (internal, mutable; the API sees :meth:`record`)."""

    id: str
    name: str
    description: str
    language: Language
    code: str
    arguments: dict[str, Any]
    timeout_seconds: float | None
    parent_id: str
    extra_imports: list[str]
    extra_refs: list[str]
    created_at: datetime
    seq: int
    state: TaskState = TaskState.NOT_STARTED
    started_at: datetime | None = None
    completed_at: datetime | None = None
    progress: dict[str, Any] = field(default_factory=_initial_progress)
    progress_version: int = 0  # version of the .NET TaskProgress last copied into ``progress`` (new: 0)
    error: dict[str, Any] | None = None
    output: Any = None
    children: list[str] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)
    net_arguments: Any = None
    net_progress: Any = None
    cache_key: CacheKey | None = None
    execution: Execution | None = None
    stop_reason: str | None = None
    stop_deadline: float | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)
    subscribers: set[asyncio.Queue[tuple[str, dict[str, Any]]]] = field(default_factory=set)
    saved: asyncio.Future[None] | None = None  # the task's last store write; done once durable

    def record(self) -> dict[str, Any]:
        """The task as the API shows it (PascalCase, JSON-ready; times ISO 8601 UTC)."""
        duration = None
        if self.started_at is not None and self.completed_at is not None:
            duration = timespan(self.completed_at - self.started_at)
        return {
            "Id": self.id,
            "Name": self.name,
            "Description": self.description,
            "Language": self.language.value,
            "State": self.state.value,
            "StateText": self.state.value,
            "CreatedAt": iso(self.created_at),
            "StartedAt": iso(self.started_at),
            "CompletedAt": iso(self.completed_at),
            "Duration": duration,
            "Progress": dict(self.progress),
            "ParentId": self.parent_id,
            "ChildrenId": list(self.children),
            "TimeoutSeconds": self.timeout_seconds,
            "Error": self.error,
        }


class TaskService:
    """Creates, runs, watches, cancels and removes tasks. Call :meth:`open` before use, :meth:`close` after.

    Public methods raise :class:`~krtasks.errors.TaskError` subclasses for bad requests; they never raise
    for what task code does (that ends up in the task's State and Error).

    ``store`` (optional; None keeps tasks in memory only): tasks are restored from it by :meth:`open`, and
    creation, every state change, rename and removal are durable in it before the method returns (the
    store's error propagates if the write fails). Stream records are written in batches every
    :data:`RECORD_FLUSH_SECONDS` and at a task's end. The caller closes the store after :meth:`close`.
    ``clock`` gives UTC "now" for timestamps and retention (``config.retention_seconds``/``max_finished``,
    swept every :data:`~krtasks.retention.SWEEP_INTERVAL_SECONDS` and on :meth:`sweep`).
    """

    def __init__(self, config: ServiceConfig | None = None, clock: Callable[[], datetime] = utc_now,
                 store: TaskStore | None = None) -> None:
        self.config = config or ServiceConfig()
        if self.config.max_runspaces < 1:
            raise ValueError("max_runspaces must be at least 1")
        self._clock = clock
        self._tasks: dict[str, TaskEntry] = {}  # key: id.lower()
        self._reserved: set[str] = set()
        self._queue: deque[TaskEntry] = deque()
        self._running = 0
        self._seq = 0
        self._compile_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="krtasks-compile")
        self._run_pool = ThreadPoolExecutor(max_workers=self.config.max_runspaces * 2 + 4,
                                            thread_name_prefix="krtasks-run")
        self._drivers: set[asyncio.Task[None]] = set()
        self._engines: dict[Language, Any] = {}
        self._net: NetTypes  # set by open(): the .NET types, resolved once
        self._warmup: asyncio.Future[None] | None = None
        self.metrics = Metrics(self._count_by_state, lambda: len(self._queue))
        self.abandoned = 0
        """Runs abandoned after the grace period (their code may still be running)."""
        self._store = store
        self._unsaved: builtins.list[StoredRecord] = []  # stream records not yet handed to the store
        self._flush_timer: asyncio.TimerHandle | None = None
        self._writes: set[asyncio.Future[None]] = set()  # store writes in flight
        self._sweeper: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ life cycle

    async def open(self) -> None:
        """Load .NET, PowerShell and Roslyn (under a second; Roslyn then warms up in the background),
        restore the store's tasks (see :meth:`_restore`) and start the retention sweep; idempotent.

        Raises:
            krtasks.runtime.RuntimeNotAvailableError: the bundle or .NET is missing.
            Exception: the store's error when it cannot be read.
        """
        if self._engines:
            return
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._compile_pool, self._open_sync)
        if self._store is not None:
            # Before the warm-up, so the load does not compete with its JIT threads for the CPU (restoring
            # a NotStarted C#/VB task compiles, and that warms Roslyn up anyway).
            await self._restore()
        # Roslyn's first compile JITs the compiler (~3 s on 2 cores): do it in the background so the
        # daemon is ready for PowerShell at once; an early C#/VB create simply compiles alongside it.
        self._warmup = loop.run_in_executor(self._compile_pool, self._warm_up_sync)
        self._sweeper = loop.create_task(self._sweep_forever(), name="krtasks-retention")

    def _warm_up_sync(self) -> None:
        try:
            self._net.ScriptCompiler.WarmUp()
        except Exception:  # a failed warm-up only costs time later; never fail the daemon for it
            log.exception("Roslyn warm-up failed")

    def _open_sync(self) -> None:
        from .runtime import load_runtime

        net = self._net = load_runtime().net
        cfg = self.config
        ps = PowerShellEngine(net, cfg.max_runspaces, cfg.stream_limit, cfg.output_max_depth, cfg.output_max_bytes,
                              cfg.output_max_items)
        cs = RoslynEngine(net, "CSharp", cfg.compile_cache_size, cfg.stream_limit, cfg.output_max_depth,
                          cfg.output_max_bytes)
        vb = RoslynEngine(net, "VBNet", cfg.compile_cache_size, cfg.stream_limit, cfg.output_max_depth,
                          cfg.output_max_bytes)
        self._engines = {Language.POWERSHELL: ps, Language.CSHARP: cs, Language.VBNET: vb}

    async def close(self, grace_seconds: float | None = None) -> None:
        """Cancel every queued or running task, wait up to ``grace_seconds`` (default: the stop grace)
        for them to end, then release the engines."""
        grace = self.config.stop_grace_seconds if grace_seconds is None else grace_seconds
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        for task in list(self._tasks.values()):
            if task.state in ACTIVE:
                await self.cancel(task.id)
        pending = [t.done.wait() for t in self._tasks.values() if t.state in ACTIVE]
        if pending:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*pending), grace + 1)
        self._flush_records()
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)  # failures were logged
        for engine in self._engines.values():
            await asyncio.get_running_loop().run_in_executor(self._compile_pool, engine.close)
        self._run_pool.shutdown(wait=False, cancel_futures=True)
        self._compile_pool.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------------ queries

    def _lookup(self, task_id: str) -> TaskEntry:
        task = self._tasks.get(str(task_id).lower())
        if task is None:
            raise TaskNotFoundError(str(task_id))
        return task

    def get(self, task_id: str) -> dict[str, Any]:
        """The task's record. Raises :class:`TaskNotFoundError` (ids compare case-insensitively)."""
        return self._lookup(task_id).record()

    def exists(self, task_id: str) -> bool:
        """True when a task has this id."""
        return str(task_id).lower() in self._tasks

    def list(self, *, state: str | None = None, language: str | None = None, name: str | None = None,
             parent_id: str | None = None) -> builtins.list[dict[str, Any]]:
        """Records, newest first. Filters: exact state and language (case-insensitive), ``name`` with
        ``*``/``?`` wildcards (case-insensitive), ``parent_id`` ("" for root tasks).

        Raises:
            TaskValidationError: an unknown state or language.
        """
        want_state = self._parse_state(state) if state else None
        want_lang = self._parse_language(language) if language else None
        pattern = name.lower() if name else None
        result = []
        for task in sorted(self._tasks.values(), key=lambda t: t.seq, reverse=True):
            if want_state is not None and task.state != want_state:
                continue
            if want_lang is not None and task.language != want_lang:
                continue
            if pattern is not None and not fnmatch.fnmatchcase(task.name.lower(), pattern):
                continue
            if parent_id is not None and task.parent_id.lower() != parent_id.lower():
                continue
            result.append(task.record())
        return result

    @property
    def queue_length(self) -> int:
        """Tasks waiting in Queued for a free slot."""
        return len(self._queue)

    @property
    def running_count(self) -> int:
        """Slots in use (Running and Stopping tasks)."""
        return self._running

    def _count_by_state(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for task in self._tasks.values():
            counts[task.state.value] = counts.get(task.state.value, 0) + 1
        return counts

    def result(self, task_id: str) -> dict[str, Any]:
        """``{Id, CreatedAt, State, Output, Error}`` of a finished task (Output: PowerShell → list of output
        objects; C#/VB → the returned value). CreatedAt tells a client which task of that id answered (an id
        can be reused once its task is removed).

        Raises:
            TaskNotFoundError: unknown id.
            TaskConflictError: the task has not finished.
        """
        task = self._lookup(task_id)
        if not task.state.finished:
            raise TaskConflictError(
                f"Task '{task.id}' is {task.state.value}; its result is available once it has finished."
            )
        return {"Id": task.id, "CreatedAt": iso(task.created_at), "State": task.state.value, "Output": task.output,
                "Error": task.error}

    def streams(self, task_id: str, since: int = 0) -> dict[str, Any]:
        """Stream records from index ``since`` on: ``{Id, CreatedAt, Records: [{Index, Stream, Message, Time}],
        Next}``; at most :data:`STREAM_PAGE` per call (ask again from ``Next``). CreatedAt as in :meth:`result`.

        Raises:
            TaskNotFoundError: unknown id.
            TaskValidationError: ``since`` is negative.
        """
        if since < 0:
            raise TaskValidationError("Since", "must be 0 or more")
        task = self._lookup(task_id)
        page = task.records[since:since + STREAM_PAGE]
        return {"Id": task.id, "CreatedAt": iso(task.created_at), "Records": page,
                "Next": since + len(page) if page else max(since, len(task.records))}

    async def wait(self, task_id: str, timeout: float | None = None) -> dict[str, Any]:
        """The record as soon as the task has finished, or the current record after ``timeout`` seconds
        (None: no limit). The task keeps running when the wait times out.

        Raises:
            TaskNotFoundError: unknown id.
        """
        task = self._lookup(task_id)
        if not task.state.finished:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(task.done.wait(), timeout)
        return task.record()

    async def events(self, task_id: str) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """Live events of one task: ``("state", record)`` first, then ``("progress", {Id, Progress})``,
        ``("stream", {Id, Index, Stream, Message, Time})`` and ``("state", record)`` as they happen; the
        iterator ends after a finished state.

        Raises:
            TaskNotFoundError: unknown id (when iteration starts).
        """
        task = self._lookup(task_id)
        queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        task.subscribers.add(queue)
        try:
            yield "state", task.record()
            if task.state.finished:
                return
            while True:
                kind, data = await queue.get()
                yield kind, data
                if kind == "state" and TaskState(data["State"]).finished:
                    return
        finally:
            task.subscribers.discard(queue)

    def _emit(self, task: TaskEntry, kind: str, data: dict[str, Any]) -> None:
        for q in task.subscribers:
            q.put_nowait((kind, data))

    # ------------------------------------------------------------------ commands

    @staticmethod
    def _parse_state(value: str) -> TaskState:
        for s in TaskState:
            if s.value.lower() == value.strip().lower():
                return s
        raise TaskValidationError("State", f"unknown state '{value}' (expected one of {', '.join(TaskState)})")

    @staticmethod
    def _parse_language(value: str) -> Language:
        try:
            return Language.parse(value)
        except ValueError as exc:
            raise TaskValidationError("Language", str(exc)) from None

    def _validate(self, spec: TaskSpec) -> tuple[str, Language]:
        if not isinstance(spec.code, str):
            raise TaskValidationError("Code", "must be a string")  # empty code is a task with no output
        if spec.id is not None and spec.id.strip():
            # As given (Kestrun keeps it too): spaces and / ? # % \ are fine, the API percent-encodes them.
            task_id = spec.id
            if len(task_id) > MAX_ID_LENGTH or any(unicodedata.category(c) == "Cc" for c in task_id):
                raise TaskValidationError("Id", f"must be at most {MAX_ID_LENGTH} characters, without control "
                                                "characters")
        else:
            task_id = uuid.uuid4().hex  # none, empty or blank: a new id (as Kestrun)
        if task_id.lower() in self._tasks or task_id.lower() in self._reserved:
            raise TaskConflictError(f"A task with id '{task_id}' already exists.")
        if spec.name is not None and not spec.name.strip():
            raise TaskValidationError("Name", "must not be blank")
        if spec.timeout_seconds is not None and not spec.timeout_seconds > 0:
            raise TaskValidationError("TimeoutSeconds", "must be greater than 0")
        if not isinstance(spec.arguments, dict):
            raise TaskValidationError("Arguments", "must be an object of name → value")
        seen: set[str] = set()
        for key in spec.arguments:
            if not IDENTIFIER.match(key):
                raise TaskValidationError("Arguments", f"'{key}' is not a valid variable name (letters, digits, _)")
            if key.lower() in RESERVED_ARGUMENTS:
                raise TaskValidationError("Arguments", f"'{key}' is reserved (the engine provides it)")
            if key.lower() in seen:
                raise TaskValidationError("Arguments", f"'{key}' is given twice (names are case-insensitive)")
            seen.add(key.lower())
        for name_field, values in (("ExtraImports", spec.extra_imports), ("ExtraRefs", spec.extra_refs)):
            if any(not isinstance(v, str) or not v.strip() for v in values):
                raise TaskValidationError(name_field, "must be a list of non-empty strings")
        language = spec.language if isinstance(spec.language, Language) else self._parse_language(str(spec.language))
        if language == Language.POWERSHELL and (spec.extra_imports or spec.extra_refs):
            field_name = "ExtraImports" if spec.extra_imports else "ExtraRefs"
            raise TaskValidationError(field_name, "applies to CSharp and VBNet code only (PowerShell: use "
                                                  "Import-Module, Add-Type or 'using' in the script)")
        if spec.parent_id is not None and spec.parent_id != "" and not self.exists(spec.parent_id):
            raise TaskValidationError("ParentId", f"no task with id '{spec.parent_id}'")
        return task_id, language

    async def create(self, spec: TaskSpec) -> dict[str, Any]:
        """Register a task (NotStarted; started at once with ``auto_start``) and return its record.
        C#/VB code is compiled and PowerShell parsed now, so a broken script is refused up front.

        Raises:
            TaskValidationError: a field is invalid (``field`` names it).
            TaskConflictError: the id is taken.
            CompileError: the code does not compile/parse; nothing is registered.
        """
        task_id, language = self._validate(spec)
        try:
            arguments_json = json.dumps(spec.arguments, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise TaskValidationError("Arguments", f"must be JSON values: {exc}") from None
        self._reserved.add(task_id.lower())
        try:
            net_arguments, net_progress, cache_key = await asyncio.get_running_loop().run_in_executor(
                self._compile_pool, self._prepare_sync, language, spec, arguments_json
            )
        finally:
            self._reserved.discard(task_id.lower())
        parent = self._tasks.get(spec.parent_id.lower()) if spec.parent_id else None
        self._seq += 1
        task = TaskEntry(
            id=task_id,
            name=spec.name.strip() if spec.name else f"Task {task_id}",
            description=spec.description or "",
            language=language,
            code=spec.code,
            arguments=dict(spec.arguments),
            timeout_seconds=spec.timeout_seconds if spec.timeout_seconds is not None
            else self.config.default_timeout_seconds,
            parent_id=parent.id if parent else "",
            extra_imports=list(spec.extra_imports),
            extra_refs=list(spec.extra_refs),
            created_at=self._clock(),
            seq=self._seq,
            net_arguments=net_arguments,
            net_progress=net_progress,
            cache_key=cache_key,
        )
        self._tasks[task_id.lower()] = task
        if parent is not None:
            parent.children.append(task.id)
        self._persist(task)
        if spec.auto_start:
            await self.start(task.id)
        await self._durable(task)
        return task.record()

    def _prepare_sync(self, language: Language, spec: TaskSpec, arguments_json: str) -> tuple[Any, Any, Any]:
        engine = self._engine(language)
        net_arguments = self._net.TaskArguments.FromJson(arguments_json)
        cache_key = None
        if language == Language.POWERSHELL:
            engine.prepare(spec.code)
        else:
            before = engine.compilations
            cache_key = engine.prepare(spec.code, net_arguments, spec.extra_imports, spec.extra_refs)
            if engine.compilations != before:
                self.metrics.compilations.labels(language.value).inc()
        return net_arguments, self._net.TaskProgress(), cache_key

    def _engine(self, language: Language) -> Any:
        if not self._engines:
            raise RuntimeError("TaskService.open() was not called")
        return self._engines[language]

    async def start(self, task_id: str) -> bool:
        """Start a NotStarted task: Running, or Queued when all ``max_runspaces`` slots are busy.

        Returns False (refused) when the task is not NotStarted.
        Raises:
            TaskNotFoundError: unknown id.
        """
        task = self._lookup(task_id)
        if task.state != TaskState.NOT_STARTED:
            return False
        if self._running < self.config.max_runspaces:
            self._launch(task)
        else:
            self._queue.append(task)
            self._set_state(task, TaskState.QUEUED)
        await self._durable(task)
        return True

    def _launch(self, task: TaskEntry) -> None:
        self._running += 1
        task.started_at = self._clock()
        self._set_state(task, TaskState.RUNNING)
        driver = asyncio.get_running_loop().create_task(self._drive(task), name=f"krtasks-{task.id}")
        self._drivers.add(driver)
        driver.add_done_callback(self._drivers.discard)

    def _next_from_queue(self) -> None:
        while self._queue and self._running < self.config.max_runspaces:
            task = self._queue.popleft()
            if task.state == TaskState.QUEUED:
                self._launch(task)

    async def cancel(self, task_id: str) -> bool:
        """Cancel a task. NotStarted/Queued → Stopped at once; Running → Stopping → Stopped (or abandoned
        after the grace period). Never blocks on the task's code.

        Returns True when a cancel was issued (or is under way), False when the task had already finished.
        Raises:
            TaskNotFoundError: unknown id.
        """
        task = self._lookup(task_id)
        if task.state.finished:
            return False
        if task.state in (TaskState.NOT_STARTED, TaskState.QUEUED):
            if task.state == TaskState.QUEUED:
                with contextlib.suppress(ValueError):
                    self._queue.remove(task)
            task.progress.update(PercentComplete=100, StatusMessage="Cancelled before start")
            self._finalize(task, TaskState.STOPPED, counted=False)
            await self._durable(task)
            return True
        if task.state == TaskState.RUNNING:
            self._request_stop(task, "cancel")
        await self._durable(task)
        return True

    def _request_stop(self, task: TaskEntry, reason: str) -> None:
        task.stop_reason = reason
        task.stop_deadline = time.monotonic() + self.config.stop_grace_seconds
        self._set_state(task, TaskState.STOPPING)
        if task.execution is not None:
            self._stop_execution(task.execution)

    def _stop_execution(self, execution: Execution) -> None:
        # Off the loop: cancelling a token runs user-registered callbacks synchronously.
        future = asyncio.get_running_loop().run_in_executor(self._run_pool, execution.stop)
        future.add_done_callback(self._log_stop_failure)

    @staticmethod
    def _log_release_failure(future: asyncio.Future[None]) -> None:
        if not future.cancelled() and future.exception() is not None:
            log.warning("releasing a compiled script failed: %s", future.exception())

    @staticmethod
    def _log_stop_failure(future: asyncio.Future[None]) -> None:
        if not future.cancelled() and future.exception() is not None:
            log.warning("stopping a task failed: %s", future.exception())

    async def remove(self, task_id: str, force: bool = False) -> bool:
        """Remove a finished or NotStarted task and all its descendants.

        Returns False when the task or a descendant is Queued/Running/Stopping, unless ``force``: then
        those are cancelled first, and removal happens once they have finished.
        Raises:
            TaskNotFoundError: unknown id.
        """
        task = self._lookup(task_id)
        subtree = self._subtree(task)
        active = [t for t in subtree if t.state in ACTIVE]
        if active:
            if not force:
                return False
            for t in active:
                await self.cancel(t.id)
            await asyncio.gather(*(t.done.wait() for t in active))
        for t in subtree:
            self._tasks.pop(t.id.lower(), None)
            released = self._release_resources(t)
            if released is not None:
                await released
        if task.parent_id:
            parent = self._tasks.get(task.parent_id.lower())
            if parent is not None:
                parent.children = [c for c in parent.children if c.lower() != task.id.lower()]
        if self._store is not None:
            # Buffered records must not reach a later task that reuses the id.
            gone = {t.id.lower() for t in subtree}
            self._unsaved = [r for r in self._unsaved if r[0].lower() not in gone]
            await self._store.delete([t.id for t in subtree])
        return True

    def _subtree(self, task: TaskEntry) -> builtins.list[TaskEntry]:
        result: builtins.list[TaskEntry] = []
        stack = [task]
        while stack:
            t = stack.pop()
            result.append(t)
            stack.extend(self._tasks[c.lower()] for c in t.children if c.lower() in self._tasks)
        return result

    async def rename(self, task_id: str, name: str | None = None, description: str | None = None) -> dict[str, Any]:
        """Set Name and/or Description; return the record.

        Raises:
            TaskNotFoundError: unknown id.
            TaskValidationError: neither given, or a blank value.
        """
        task = self._lookup(task_id)
        if name is None and description is None:
            raise TaskValidationError("Name", "give Name, Description or both")
        if name is not None and not name.strip():
            raise TaskValidationError("Name", "must not be blank")
        if description is not None and not description.strip():
            raise TaskValidationError("Description", "must not be blank")
        if name is not None:
            task.name = name.strip()
        if description is not None:
            task.description = description
        self._persist(task)
        await self._durable(task)
        return task.record()

    # ------------------------------------------------------------------ running

    def _set_state(self, task: TaskEntry, state: TaskState) -> None:
        task.state = state
        self._persist(task)
        self._emit(task, "state", task.record())

    async def _drive(self, task: TaskEntry) -> None:
        """Run one task from launch to its final state; never raises."""
        loop = asyncio.get_running_loop()
        try:
            execution = await loop.run_in_executor(self._run_pool, self._launch_sync, task)
        except Exception as exc:  # the engine could not start the code (e.g. runspace failure)
            log.exception("task %s could not start", task.id)
            task.error = _error(type(exc).__name__, f"The task could not be started: {exc}")
            task.progress.update(PercentComplete=100, StatusMessage="Failed")
            self._finalize(task, TaskState.FAILED)
            return
        task.execution = execution
        if task.stop_reason is not None:
            self._stop_execution(execution)
        timeout_at = None if task.timeout_seconds is None else time.monotonic() + task.timeout_seconds
        try:
            while True:
                step = await loop.run_in_executor(self._run_pool, execution.step, STEP_MS)
                self._apply_step(task, step)
                if step.ended:
                    break
                now = time.monotonic()
                if timeout_at is not None and now >= timeout_at and task.stop_reason is None:
                    self._request_stop(task, "timeout")
                if task.stop_deadline is not None and now >= task.stop_deadline:
                    self._abandon(task)
                    return
            outcome = await loop.run_in_executor(self._run_pool, execution.finish)
        except Exception as exc:  # a bug or a runtime failure must still end the task
            log.exception("task %s failed in the engine", task.id)
            outcome = Outcome(None, _error("KrTasks.EngineError", f"The engine failed while running the task: {exc}"))
        self._complete(task, outcome)

    def _launch_sync(self, task: TaskEntry) -> Execution:
        engine = self._engine(task.language)
        if task.net_progress.StatusMessage == "Not started":
            task.net_progress.StatusMessage = "Running"  # until the code says more
        execution: Execution
        if task.language == Language.POWERSHELL:
            execution = engine.launch(task.id, task.code, task.net_arguments, task.net_progress)
        else:
            execution = engine.launch(task.cache_key, task.id, task.net_arguments, task.net_progress)
        return execution

    def _append_records(self, task: TaskEntry, records: builtins.list[tuple[str, str, str]]) -> None:
        for stream, message, when in records:
            rec = {"Index": len(task.records), "Stream": stream, "Message": message, "Time": when}
            task.records.append(rec)
            if self._store is not None:
                self._unsaved.append((task.id, len(task.records) - 1, stream, message, when))
                if self._flush_timer is None:
                    self._flush_timer = asyncio.get_running_loop().call_later(RECORD_FLUSH_SECONDS,
                                                                              self._flush_records)
            if task.subscribers:
                self._emit(task, "stream", {"Id": task.id, **rec})

    def _apply_step(self, task: TaskEntry, step: StepResult) -> None:
        self._append_records(task, step.records)
        percent, status, activity, operation, remaining, version = step.progress
        if version != task.progress_version:
            task.progress_version = version
            task.progress = {"PercentComplete": percent, "StatusMessage": status, "Activity": activity,
                             "CurrentOperation": operation, "SecondsRemaining": remaining}
            self._emit(task, "progress", {"Id": task.id, "Progress": dict(task.progress)})

    def _note(self, task: TaskEntry, message: str) -> None:
        self._append_records(task, [("Warning", message, iso(self._clock()) or "")])

    def _complete(self, task: TaskEntry, outcome: Outcome) -> None:
        self._append_records(task, outcome.records)
        for note in outcome.notes:
            self._note(task, note)
        task.output = outcome.output
        if task.stop_reason == "timeout":
            task.error = _error("TimeoutException",
                                f"The task exceeded its timeout of {task.timeout_seconds:g} seconds and was stopped.")
            state, status = TaskState.FAILED, "Timed out"
        elif task.stop_reason is not None:
            state, status = TaskState.STOPPED, "Cancelled"
        elif outcome.prompt is not None:
            task.error = _error(
                "System.Management.Automation.Host.HostException",
                "The task tried to prompt for input, but tasks run without an interactive host; pass values "
                f"through Arguments instead. ({outcome.prompt})",
            )
            state, status = TaskState.FAILED, "Failed"
        elif outcome.error is not None:
            task.error = outcome.error
            state, status = TaskState.FAILED, "Failed"
        else:
            state, status = TaskState.COMPLETED, "Completed"
        task.progress.update(PercentComplete=100, StatusMessage=status)
        self._finalize(task, state)

    def _abandon(self, task: TaskEntry) -> None:
        self.abandoned += 1
        self.metrics.abandoned.inc()
        grace = self.config.stop_grace_seconds
        self._note(task, f"The task did not stop within the {grace:g} s grace period; its work was abandoned "
                         "and may still be running in the daemon.")
        if task.stop_reason == "timeout":
            task.error = _error("TimeoutException",
                                f"The task exceeded its timeout of {task.timeout_seconds:g} seconds; it ignored "
                                "cancellation and its work was abandoned.")
            state = TaskState.FAILED
        else:
            state = TaskState.STOPPED
        task.progress.update(PercentComplete=100, StatusMessage=f"Cancelled; work abandoned after {grace:g} s")
        self._finalize(task, state)

    def _release_resources(self, task: TaskEntry) -> asyncio.Future[None] | None:
        """Drop what only a future run needs: the .NET arguments and progress, and the task's hold on its
        compiled script (unloaded once no task holds it and it falls out of the LRU). Returns the release
        running on the compile pool, or None when the task held no script."""
        task.net_arguments = None
        task.net_progress = None
        key, task.cache_key = task.cache_key, None
        if key is None:
            return None
        engine = self._engine(task.language)
        return asyncio.get_running_loop().run_in_executor(self._compile_pool, engine.release, key)

    def _finalize(self, task: TaskEntry, state: TaskState, counted: bool = True) -> None:
        """Enter a final state: timestamps, metrics, release the slot and the compiled script (a finished
        task never runs again), wake waiters and the queue."""
        task.completed_at = self._clock()
        task.execution = None
        released = self._release_resources(task)
        if released is not None:
            released.add_done_callback(self._log_release_failure)
        if counted:
            self._running -= 1
            self.metrics.runs.labels(task.language.value, state.value).inc()
            if task.started_at is not None:
                self.metrics.durations.labels(task.language.value).observe(
                    (task.completed_at - task.started_at).total_seconds()
                )
        self._emit(task, "progress", {"Id": task.id, "Progress": dict(task.progress)})
        self._flush_records()  # queued before the final row, so both are durable when it is
        self._set_state(task, state)
        self._when_durable(task, task.done.set)  # waiters learn of the end once it survives a crash
        if counted:
            self._next_from_queue()

    # ------------------------------------------------------------------ persistence and retention

    def _persist(self, task: TaskEntry) -> None:
        """Queue the task's current row for the store (writes apply in call order); ``task.saved``
        completes once it is durable. No-op without a store."""
        if self._store is None:
            return
        saved = asyncio.ensure_future(self._store.put([StoredTask.of(task)]))
        self._track(saved)
        task.saved = saved

    def _track(self, write: asyncio.Future[None]) -> None:
        self._writes.add(write)
        write.add_done_callback(self._write_done)

    def _write_done(self, write: asyncio.Future[None]) -> None:
        self._writes.discard(write)
        if not write.cancelled() and write.exception() is not None:
            log.error("writing to the task store failed: %s", write.exception())

    async def _durable(self, task: TaskEntry) -> None:
        """Return once the task's last queued write is durable (at once without a store).

        Raises:
            Exception: the store's error for that write.
        """
        if task.saved is not None:
            # Shielded: a cancelled request must not cancel a write the registry already reflects.
            await asyncio.shield(task.saved)

    def _when_durable(self, task: TaskEntry, callback: Callable[[], Any]) -> None:
        """Call ``callback`` once the task's last queued write has completed (or failed)."""
        if task.saved is None or task.saved.done():
            callback()
        else:
            task.saved.add_done_callback(lambda _write: callback())

    def _flush_records(self) -> None:
        """Hand the buffered stream records of all tasks to the store as one batch."""
        if self._flush_timer is not None:
            self._flush_timer.cancel()
            self._flush_timer = None
        if self._store is None or not self._unsaved:
            return
        batch, self._unsaved = self._unsaved, []
        self._track(asyncio.ensure_future(self._store.add_records(batch)))

    async def _restore(self) -> None:
        """Load the store into the registry (at :meth:`open`).

        Finished tasks come back as they were. NotStarted tasks are prepared again (C#/VB recompiled);
        one whose code no longer compiles becomes Failed with Error.Type ``CompileError`` and the
        diagnostics in the message. Queued, Running and Stopping tasks were cut off by the restart: they
        become Failed with Error.Type ``Interrupted``. Those changes are durable before this returns.

        Raises:
            Exception: the store's error when it cannot be read or written.
        """
        assert self._store is not None
        loop = asyncio.get_running_loop()
        changed: builtins.list[TaskEntry] = []
        began = time.perf_counter()
        for stored in await self._store.load():
            task = TaskEntry(**stored.entry_fields())
            self._tasks[task.id.lower()] = task
            self._seq = max(self._seq, task.seq)
            if task.state == TaskState.NOT_STARTED:
                spec = TaskSpec(code=task.code, language=task.language, arguments=task.arguments,
                                extra_imports=task.extra_imports, extra_refs=task.extra_refs)
                try:
                    task.net_arguments, task.net_progress, task.cache_key = await loop.run_in_executor(
                        self._compile_pool, self._prepare_sync, task.language, spec, json.dumps(task.arguments)
                    )
                except CompileError as exc:
                    where = [f"{d['Id']} at line {d['Line']}, column {d['Column']}: {d['Message']}"
                             if d.get("Line") else f"{d['Id']}: {d['Message']}" for d in exc.diagnostics]
                    self._fail_restored(task, "CompileError", "After the daemon restarted, the task's code no "
                                        "longer compiles:\n" + "\n".join(where), "Failed")
                    first = next((d for d in exc.diagnostics if d.get("Severity") == "Error"), None)
                    if first is not None and task.error is not None:
                        task.error.update(Line=first.get("Line"), Column=first.get("Column"))
                    changed.append(task)
                except Exception as exc:  # e.g. arguments the runtime no longer accepts
                    self._fail_restored(task, type(exc).__name__, "After the daemon restarted, the task could "
                                        f"not be prepared again: {exc}", "Failed")
                    changed.append(task)
            elif task.state in ACTIVE:
                self._fail_restored(task, "Interrupted", f"The daemon restarted while the task was "
                                    f"{task.state.value}; its run was lost.", "Interrupted")
                changed.append(task)
            if task.state.finished:
                task.done.set()
        for task in sorted(self._tasks.values(), key=lambda t: t.seq):
            parent = self._tasks.get(task.parent_id.lower()) if task.parent_id else None
            if parent is not None:
                parent.children.append(task.id)
        if changed:
            await self._store.put([StoredTask.of(t) for t in changed])
        if self._tasks:
            log.info("restored %d tasks from the store in %.2f s (%d interrupted or no longer compiling)",
                     len(self._tasks), time.perf_counter() - began, len(changed))

    def _fail_restored(self, task: TaskEntry, error_type: str, message: str, status: str) -> None:
        task.state = TaskState.FAILED
        task.error = _error(error_type, message)
        task.completed_at = self._clock()
        task.progress.update(PercentComplete=100, StatusMessage=status)

    async def sweep(self) -> int:
        """Apply retention now: remove finished tasks completed ``config.retention_seconds`` ago or more,
        and the oldest beyond ``config.max_finished`` (0 disables either), each with its subtree, through
        :meth:`remove` (which frees compiled scripts and deletes from the store). Age is measured with
        the service's clock (UTC). Returns how many removals (subtrees) were made.
        """
        cfg = self.config
        if cfg.retention_seconds <= 0 and cfg.max_finished <= 0:
            return 0
        roots = select_expired(self._tasks, self._clock(), cfg.retention_seconds, cfg.max_finished)
        removed = 0
        for start in range(0, len(roots), 500):  # in chunks, so concurrent deletes share commits
            results = await asyncio.gather(*(self.remove(i) for i in roots[start:start + 500]),
                                           return_exceptions=True)
            for task_id, result in zip(roots[start:start + 500], results, strict=True):
                if isinstance(result, BaseException) and not isinstance(result, TaskNotFoundError):
                    log.error("retention could not remove task %s: %s", task_id, result)
                removed += result is True
        if removed:
            log.info("retention removed %d finished tasks (with their subtrees)", removed)
        return removed

    async def _sweep_forever(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:  # retention must keep running whatever one sweep met
                log.exception("retention sweep failed")
            await asyncio.sleep(SWEEP_INTERVAL_SECONDS)


__all__ = ["CompileError", "TaskEntry", "TaskService"]
