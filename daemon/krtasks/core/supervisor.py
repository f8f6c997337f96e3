"""The run supervisor: slots and queue, launching, the step loop, timeouts, stops and their grace period.

A started task takes a slot and runs, or waits Queued for one (FIFO, :class:`~krtasks.core.slots.SlotQueue`).
One driver (an asyncio task) per run launches the engine's execution and steps it every
:data:`STEP_SECONDS` until it ends. A task past its TimeoutSeconds is stopped and ends Failed with
Error.Type TimeoutException; a cancel stops it and it ends Stopped. Code that ignores the stop for
``stop_grace_seconds`` is abandoned: the engine kills it where it can (process isolation) and the task ends
anyway, so nothing stays in Stopping.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

from ..engines.base import Execution, Outcome, StepReport
from ..models import ServiceConfig, StopReason, TaskErrorInfo, TaskState
from .engineset import EngineSet
from .entry import Run, TaskEntry
from .lifecycle import Lifecycle
from .slots import SlotQueue

log = logging.getLogger("krtasks.core")

STEP_SECONDS = 0.2
"""How long one ``step`` waits for the end before reporting progress (seconds); bounds the resolution of
timeouts and grace periods."""


CANCELLED_BEFORE_START = "Cancelled before start"
"""The status of a task cancelled while NotStarted or Queued."""


class RunSupervisor:
    """Starts, watches and stops runs; ``monotonic`` gives the seconds that deadlines are measured in."""

    def __init__(
        self, engines: EngineSet, lifecycle: Lifecycle, config: ServiceConfig, monotonic: Callable[[], float]
    ) -> None:
        self.slots = SlotQueue(config.max_runspaces)
        self._engines = engines
        self._life = lifecycle
        self._grace = config.stop_grace_seconds
        self._monotonic = monotonic
        self._drivers: set[asyncio.Task[None]] = set()
        self.abandoned = 0
        """Runs abandoned after the grace period."""

    # -------------------------------------------------------------- commands

    def start(self, task: TaskEntry) -> None:
        """Run a NotStarted task now, or queue it when every slot is busy."""
        if self.slots.try_acquire():
            self._launch(task)
        else:
            self.slots.enqueue(task)
            self._life.move(task, TaskState.QUEUED)

    def cancel(self, task: TaskEntry) -> None:
        """Stop a task that has not finished: NotStarted/Queued end at once, Running goes to Stopping."""
        if task.state in (TaskState.NOT_STARTED, TaskState.QUEUED):
            self.slots.withdraw(task)
            self._end(task, TaskState.STOPPED, CANCELLED_BEFORE_START)
        elif task.state == TaskState.RUNNING:
            self._request_stop(task, StopReason.CANCEL)

    async def stop_all(self, tasks: Iterable[TaskEntry], grace_seconds: float) -> None:
        """Cancel every queued or running task of ``tasks`` and wait up to ``grace_seconds`` + 1 s for all
        of them to end (announced), e.g. when the daemon stops."""
        active = [t for t in tasks if t.state.active]
        for task in active:
            self.cancel(task)
        if active:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*(t.done.wait() for t in active)), grace_seconds + 1)

    # -------------------------------------------------------------- running

    def _launch(self, task: TaskEntry) -> None:
        task.run = Run()  # holds a slot from now until _end
        self._life.move(task, TaskState.RUNNING)
        self._spawn(task, self._drive(task, task.run))

    def _spawn(self, task: TaskEntry, drive: Coroutine[Any, Any, None]) -> None:
        """Run ``drive`` (a task's driver) as an asyncio task the supervisor keeps."""
        driver = asyncio.get_running_loop().create_task(drive, name=f"krtasks-{task.id}")
        self._drivers.add(driver)
        driver.add_done_callback(self._drivers.discard)

    def _observe(self, task: TaskEntry, run: Run, report: StepReport) -> None:
        """Take in a step's records and progress."""
        self._life.observe(task, report)

    def _request_stop(self, task: TaskEntry, reason: StopReason) -> None:
        run = task.run
        assert run is not None
        run.stop_reason = reason
        run.stop_deadline = self._monotonic() + self._grace
        self._life.move(task, TaskState.STOPPING)
        if run.execution is not None:
            run.execution.stop()

    async def _drive(self, task: TaskEntry, run: Run) -> None:
        """Run one task from launch to its final state; never raises."""
        try:
            execution = await self._engines.launch(task)
        except Exception as exc:  # the engine could not start the code (e.g. runspace failure)
            log.exception("task %s could not start", task.id)
            self._end(
                task,
                TaskState.FAILED,
                "Failed",
                TaskErrorInfo(type(exc).__name__, f"The task could not be started: {exc}"),
            )
            return
        run.execution = execution
        if run.stop_reason is not None:
            execution.stop()
        timeout = task.data.timeout_seconds
        timeout_at = None if timeout is None else self._monotonic() + timeout
        try:
            while True:
                report = await execution.step(STEP_SECONDS)
                self._observe(task, run, report)
                if report.ended:
                    break
                now = self._monotonic()
                if timeout_at is not None and now >= timeout_at and run.stop_reason is None:
                    self._request_stop(task, StopReason.TIMEOUT)
                if run.stop_deadline is not None and now >= run.stop_deadline:
                    await self._abandon(task, run, execution)
                    return
            outcome = await execution.finish()
        except Exception as exc:  # a bug or a runtime failure must still end the task
            log.exception("task %s failed in the engine", task.id)
            outcome = Outcome(
                error=TaskErrorInfo("KrTasks.EngineError", f"The engine failed while running the task: {exc}")
            )
        self._conclude(task, run, outcome)

    def _conclude(self, task: TaskEntry, run: Run, outcome: Outcome) -> None:
        """Decide the final state from why the run was stopped (if it was) and how the code ended."""
        self._life.append(task, outcome.records)
        for note in outcome.notes:
            self._life.note(task, note)
        task.data.output = outcome.output
        task.data.output_clixml = outcome.output_clixml
        if run.stop_reason == StopReason.TIMEOUT:
            self._end(
                task,
                TaskState.FAILED,
                "Timed out",
                TaskErrorInfo(
                    "TimeoutException",
                    f"The task exceeded its timeout of {task.data.timeout_seconds:g} seconds and was stopped.",
                ),
            )
        elif run.stop_reason is not None:
            self._end(task, TaskState.STOPPED, "Cancelled")
        elif outcome.prompt is not None:
            self._end(
                task,
                TaskState.FAILED,
                "Failed",
                TaskErrorInfo(
                    "System.Management.Automation.Host.HostException",
                    "The task tried to prompt for input, but tasks run without an interactive host; pass values "
                    f"through Arguments instead. ({outcome.prompt})",
                ),
            )
        elif outcome.error is not None:
            self._end(task, TaskState.FAILED, "Failed", outcome.error)
        else:
            self._end(task, TaskState.COMPLETED, "Completed")

    async def _abandon(self, task: TaskEntry, run: Run, execution: Execution) -> None:
        """The code ignored the stop for the grace period: let the engine give it up, then end the task."""
        gone = await execution.abandon()
        self.abandoned += 1
        self._life.observers.abandoned(task)
        grace = self._grace
        where = (
            "its worker process was killed" if gone else "its work was abandoned and may still be running in the daemon"
        )
        self._life.note(task, f"The task did not stop within the {grace:g} s grace period; {where}.")
        status = f"Cancelled; {'stopped by force' if gone else 'work abandoned'} after {grace:g} s"
        if run.stop_reason == StopReason.TIMEOUT:
            self._end(
                task,
                TaskState.FAILED,
                status,
                TaskErrorInfo(
                    "TimeoutException",
                    f"The task exceeded its timeout of {task.data.timeout_seconds:g} seconds; it "
                    f"ignored cancellation and its work was {'killed' if gone else 'abandoned'}.",
                ),
            )
        else:
            self._end(task, TaskState.STOPPED, status)

    def _end(self, task: TaskEntry, state: TaskState, status: str, error: TaskErrorInfo | None = None) -> None:
        """Enter a final state, release the prepared code (a finished task never runs again) and, when the task
        held a slot, hand the slot to the next queued task."""
        had_slot = task.run is not None
        task.run = None
        self._life.move(task, state, progress=task.data.progress.ended(status), error=error)
        self._engines.release(task)
        if had_slot:
            for queued in self.slots.release():
                self._launch(queued)
