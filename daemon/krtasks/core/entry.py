"""One task in the registry: its durable data plus what only a live daemon has (children, records, the
engine's prepared handle, the current run, the "finished" event)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from ..engines.base import Execution, Prepared
from ..errors import TaskConflictError, TaskValidationError
from ..models import (
    StopReason,
    StreamPageJson,
    StreamRecord,
    TaskData,
    TaskDefinitionJson,
    TaskRecordJson,
    TaskResultJson,
    TaskState,
)
from ..records import iso, timespan


@dataclass(slots=True)
class Run:
    """The live part of a run (set while the task is Running or Stopping): the engine's execution once it
    has started, why a stop was asked for, and when (monotonic seconds) the grace period ends."""

    execution: Execution | None = None
    stop_reason: StopReason | None = None
    stop_deadline: float | None = None
    lost: bool = False
    """With a shared store: the node no longer holds the run (its lease expired); it writes nothing more."""


@dataclass(eq=False, slots=True)
class TaskEntry:
    """A task as the core keeps it (mutable, identity-compared; the API sees :meth:`record`).

    ``data`` is the durable part. ``children`` are child ids in creation order; ``records`` the stream
    records in index order; ``prepared`` the engine's handle until the task can no longer run; ``run``
    the current run; ``done`` is set once a finished state is durable and announced; ``saved`` is the
    task's last store write (done once durable), kept by the journal; ``version`` the shared store's
    change count of the row this entry last took in (0 without one).
    """

    data: TaskData
    children: list[str] = field(default_factory=list)
    records: list[StreamRecord] = field(default_factory=list)
    prepared: Prepared | None = None
    run: Run | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)
    saved: asyncio.Future[Any] | None = None
    version: int = 0

    @property
    def id(self) -> str:
        """The task's id as it was given (compare with :func:`krtasks.core.registry.key`)."""
        return self.data.id

    @property
    def state(self) -> TaskState:
        """The task's current state."""
        return self.data.state

    def record(self) -> TaskRecordJson:
        """The task as the API shows it (PascalCase, JSON-ready; times ISO 8601 UTC)."""
        d = self.data
        duration = None
        if d.started_at is not None and d.completed_at is not None:
            duration = timespan(d.completed_at - d.started_at)
        record: TaskRecordJson = {
            "Id": d.id,
            "Name": d.name,
            "Description": d.description,
            "Language": d.language,
            "State": d.state,
            "StateText": d.state,
            "CreatedAt": iso(d.created_at) or "",
            "StartedAt": iso(d.started_at),
            "CompletedAt": iso(d.completed_at),
            "Duration": duration,
            "Progress": d.progress.to_json(),
            "ParentId": d.parent_id,
            "ChildrenId": list(self.children),
            "TimeoutSeconds": d.timeout_seconds,
            "Error": None if d.error is None else d.error.to_json(),
            "Isolation": d.isolation,
        }
        if d.node is not None:
            record["Node"] = d.node
        return record

    def result(self) -> TaskResultJson:
        """``{Id, CreatedAt, State, Output, Error}`` (CreatedAt tells tasks apart that reuse an id).

        Raises:
            TaskConflictError: the task has not finished.
        """
        d = self.data
        if not d.state.finished:
            raise TaskConflictError(f"Task '{d.id}' is {d.state}; its result is available once it has finished.")
        return {
            "Id": d.id,
            "CreatedAt": iso(d.created_at) or "",
            "State": d.state,
            "Output": d.output,
            "Error": None if d.error is None else d.error.to_json(),
        }

    def stream_page(self, since: int, limit: int) -> StreamPageJson:
        """At most ``limit`` stream records from index ``since`` on; ``Next`` is the index to ask from next.

        Raises:
            TaskValidationError: ``since`` is negative.
        """
        if since < 0:
            raise TaskValidationError("Since", "must be 0 or more")
        page = self.records[since : since + limit]
        return {
            "Id": self.id,
            "CreatedAt": iso(self.data.created_at) or "",
            "Records": [r.to_json() for r in page],
            "Next": since + len(page) if page else max(since, len(self.records)),
        }

    def definition(self) -> TaskDefinitionJson:
        """What the task was created with: code, arguments and settings (PascalCase, JSON-ready)."""
        d = self.data
        return {
            "Id": d.id,
            "Name": d.name,
            "Description": d.description,
            "Language": d.language,
            "Code": d.code,
            "Arguments": d.arguments,
            "TimeoutSeconds": d.timeout_seconds,
            "ParentId": d.parent_id,
            "ExtraImports": list(d.extra_imports),
            "ExtraRefs": list(d.extra_refs),
            "MaxMemoryMB": d.max_memory_mb,
            "WorkingDirectory": d.working_directory,
            "Environment": dict(d.environment),
            "Isolation": d.isolation,
        }
