"""A scripted fake engine and a fake clock for the fast tier (no .NET, no real time).

A task's code names a :class:`Script` registered with :class:`FakeEngines`; a script is a list of step
reports, then an outcome. Each step that does not end advances the fake clock by the step's wait, so
timeouts and grace periods pass in fake time, deterministically and at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from krtasks.core.service import TaskService
from krtasks.engines.base import CodeRequest, Engine, LaunchRequest, Outcome, Prepared, StepReport
from krtasks.errors import CompileError
from krtasks.models import Language, TaskData, TaskRecordJson, TaskSpec, TaskState

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def task_data(task_id: str = "t1", seq: int = 1, **fields: Any) -> TaskData:
    """A task's durable data as a store keeps it: PowerShell ``1``, created at :data:`T0`, NotStarted, named
    ``task_id``, unless ``fields`` (TaskData's own names) say otherwise."""
    data = TaskData(
        id=task_id,
        seq=seq,
        name=task_id,
        description="",
        language=Language.POWERSHELL,
        code="1",
        arguments={},
        timeout_seconds=None,
        parent_id="",
        extra_imports=[],
        extra_refs=[],
        created_at=T0,
        state=TaskState.NOT_STARTED,
    )
    for name, value in fields.items():
        setattr(data, name, value)
    return data


ServiceFactory = Callable[..., contextlib.AbstractAsyncContextManager[TaskService]]
"""``make_service(store=None, **config)``: an opened service on the fakes, closed on exit (a fixture)."""


class FakeClock:
    """UTC "now" and monotonic seconds that move only when told (:meth:`advance`)."""

    def __init__(self, start: datetime = T0) -> None:
        self._start = start
        self.seconds = 0.0

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self.seconds)

    def monotonic(self) -> float:
        return self.seconds

    def advance(self, seconds: float) -> None:
        self.seconds += seconds


@dataclass
class Script:
    """What a fake task does: ``steps`` (reports that do not end), then it ends with ``outcome``.

    ``gate``: after the steps, the run waits (in fake time, a step at a time) until the gate is set.
    ``forever``: after the steps, it never ends by itself. ``ignore_stop``: a stop does not end it.
    ``compile_error``: preparing the code fails with these diagnostics. ``launch_error``: launching fails.
    """

    steps: list[StepReport] = field(default_factory=list)
    outcome: Outcome = field(default_factory=Outcome)
    gate: asyncio.Event | None = None
    forever: bool = False
    ignore_stop: bool = False
    compile_error: list[dict[str, Any]] | None = None
    launch_error: Exception | None = None


class FakeExecution:
    """One run of a :class:`Script`."""

    def __init__(self, script: Script, clock: FakeClock) -> None:
        self.script = script
        self._clock = clock
        self._steps = list(script.steps)
        self.stopped = False
        self.abandoned = False
        self.finished = False

    async def step(self, wait_seconds: float) -> StepReport:
        await asyncio.sleep(0)
        if self.stopped and not self.script.ignore_stop:
            return StepReport(True)
        if self._steps:
            return self._steps.pop(0)
        gate = self.script.gate
        if self.script.forever or (gate is not None and not gate.is_set()):
            if gate is not None:
                # Really wait a little, so a gated task does not spin the loop while the test works.
                await asyncio.wait([asyncio.ensure_future(gate.wait())], timeout=0.005)
            self._clock.advance(wait_seconds)
            # A stop that came while waiting ends the run now (as a real engine's wait would).
            return StepReport(self.stopped and not self.script.ignore_stop)
        return StepReport(True)

    def stop(self) -> None:
        self.stopped = True

    async def finish(self) -> Outcome:
        self.finished = True
        return self.script.outcome

    async def abandon(self) -> bool:
        self.abandoned = True
        return False


class FakeEngine:
    """An :class:`~krtasks.engines.base.Engine` whose code is the name of a script in ``scripts`` (unknown
    code: a task that completes at once, with its code as the output)."""

    def __init__(self, language: Language, scripts: Mapping[str, Script], clock: FakeClock) -> None:
        self._language = language
        self._scripts = scripts
        self._clock = clock
        self.held = 0
        self.prepared = 0
        self.executions: list[FakeExecution] = []
        self.closed = False

    @property
    def language(self) -> Language:
        return self._language

    def _script(self, code: str) -> Script:
        return self._scripts.get(code) or Script(outcome=Outcome(output=code))

    async def prepare(self, request: CodeRequest) -> Prepared:
        await asyncio.sleep(0)
        script = self._script(request.code)
        if script.compile_error is not None:
            raise CompileError(self._language.value, list(script.compile_error))
        self.held += 1
        self.prepared += 1
        return Prepared(request.code, compiled=True)

    async def launch(self, prepared: Prepared, request: LaunchRequest) -> FakeExecution:
        await asyncio.sleep(0)
        script = self._script(str(prepared.handle))
        if script.launch_error is not None:
            raise script.launch_error
        execution = FakeExecution(script, self._clock)
        self.executions.append(execution)
        return execution

    async def release(self, prepared: Prepared) -> None:
        self.held -= 1

    def warm_up(self) -> None:
        pass

    async def close(self) -> None:
        self.closed = True


class FakeEngines(dict[Language, Engine]):
    """One fake engine per language sharing ``scripts`` (add to it at any time) and a clock."""

    def __init__(self, clock: FakeClock) -> None:
        self.scripts: dict[str, Script] = {}
        self.fakes = {lang: FakeEngine(lang, self.scripts, clock) for lang in Language}
        super().__init__(self.fakes)

    @property
    def held(self) -> int:
        """Prepared handles not yet released, over all languages."""
        return sum(e.held for e in self.fakes.values())


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Let the loop run until ``predicate()`` holds (real seconds: a fake run moves at loop speed)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.001)


async def run(service: TaskService, code: str, **kw: Any) -> TaskRecordJson:
    """Create with AutoStart and wait for the end."""
    record = await service.create(TaskSpec(code=code, auto_start=True, **kw))
    return await service.wait(record["Id"], 5)
