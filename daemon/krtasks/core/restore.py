"""Restore: the store's tasks back into the registry when the service opens.

Finished tasks come back as they were. NotStarted tasks are prepared again (C#/VB recompiled); one whose
code no longer compiles becomes Failed with Error.Type ``CompileError`` and the diagnostics in the
message. Queued, Running and Stopping tasks were cut off by the restart: they become Failed with
Error.Type ``Interrupted``. Those changes are durable before :func:`restore` returns.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from datetime import datetime

from ..errors import CompileError
from ..models import TaskData, TaskErrorInfo, TaskState
from ..store import TaskStore
from .engineset import EngineSet
from .entry import TaskEntry
from .registry import Registry
from .states import transition

log = logging.getLogger("krtasks.core")


def _compile_failure(exc: CompileError) -> TaskErrorInfo:
    where = [
        f"{d['Id']} at line {d['Line']}, column {d['Column']}: {d['Message']}"
        if d.get("Line")
        else f"{d['Id']}: {d['Message']}"
        for d in exc.diagnostics
    ]
    first = next((d for d in exc.diagnostics if d.get("Severity") == "Error"), None)
    return TaskErrorInfo(
        "CompileError",
        "After the daemon restarted, the task's code no longer compiles:\n" + "\n".join(where),
        line=first.get("Line") if first else None,
        column=first.get("Column") if first else None,
    )


async def prepare_again(task: TaskEntry, engines: EngineSet) -> TaskErrorInfo | None:
    """Prepare a restored NotStarted task again (``task.prepared``); why it cannot run, or None."""
    try:
        task.prepared = await engines.prepare_again(task.data)
    except CompileError as exc:
        return _compile_failure(exc)
    except Exception as exc:  # e.g. arguments the runtime no longer accepts
        return TaskErrorInfo(
            type(exc).__name__, f"After the daemon restarted, the task could not be prepared again: {exc}"
        )
    return None


def interrupt(data: TaskData, now: datetime, why: str) -> None:
    """End a run that was cut off: Failed with Error.Type ``Interrupted`` (message ``why``), progress
    ended as "Interrupted", CompletedAt ``now``. The one rule for a lost run, after a restart or when a
    node of a shared store stopped renewing its lease."""
    error = TaskErrorInfo("Interrupted", why)
    transition(data, TaskState.FAILED, now, progress=data.progress.ended("Interrupted"), error=error)


def restart_message(state: TaskState) -> str:
    """Why a run is interrupted when its daemon restarts."""
    return f"The daemon restarted while the task was {state.value}; its run was lost."


async def restore(store: TaskStore, registry: Registry, engines: EngineSet, clock: Callable[[], datetime]) -> None:
    """Load every stored task into ``registry`` (see the module docstring); ``clock`` stamps the tasks it fails.

    Raises:
        Exception: the store's error when it cannot be read or written.
    """
    changed: list[TaskData] = []
    began = time.perf_counter()
    for stored in await store.load():
        task = TaskEntry(stored.data, records=stored.records)
        registry.add(task)
        data = task.data
        if data.state == TaskState.NOT_STARTED:
            error = await prepare_again(task, engines)
            if error is not None:
                transition(data, TaskState.FAILED, clock(), progress=data.progress.ended("Failed"), error=error)
                changed.append(copy.copy(data))
        elif data.state.active:
            interrupt(data, clock(), restart_message(data.state))
            changed.append(copy.copy(data))
        if data.state.finished:
            task.done.set()
    if changed:
        await store.put(changed)
    if len(registry):
        log.info(
            "restored %d tasks from the store in %.2f s (%d interrupted or no longer compiling)",
            len(registry),
            time.perf_counter() - began,
            len(changed),
        )
