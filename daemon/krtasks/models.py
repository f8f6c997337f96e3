"""The task vocabulary shared by the core, the engines, the store and the API.

The typed parts of a task record (:class:`Progress`, :class:`TaskErrorInfo`, :class:`StreamRecord`), the
durable part of a task (:class:`TaskData`, exactly what a store persists), the creation request
(:class:`TaskSpec`) and the service's settings (:class:`ServiceConfig`). Each record type converts itself to
its JSON shape (``to_json``, :mod:`krtasks.shapes`). States, languages and the text rules live in
:mod:`krtasks.vocabulary`; both modules' names are re-exported here, so ``krtasks.models`` stays the one
place to import the vocabulary from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .shapes import (
    STREAMS,
    LoginCodeJson,
    MinuteRunsJson,
    NodeJson,
    OverviewJson,
    ProgressEventJson,
    ProgressJson,
    RemovedEventJson,
    ServerStateEventJson,
    StateCountsJson,
    StreamEventJson,
    StreamName,
    StreamPageJson,
    StreamRecordJson,
    TaskDefinitionJson,
    TaskErrorJson,
    TaskRecordJson,
    TaskResultJson,
    TaskRunJson,
    UtcTime,
    WorkerCountsJson,
)
from .vocabulary import (
    ACTIVE,
    FINISHED,
    IDENTIFIER,
    LANGUAGE_PATTERN,
    NO_CONTROL,
    NOT_BLANK,
    RESERVED_ARGUMENTS,
    WHITESPACE,
    Isolation,
    Language,
    StopReason,
    TaskState,
    case_insensitive,
)

__all__ = [
    "ACTIVE",
    "FINISHED",
    "IDENTIFIER",
    "LANGUAGE_PATTERN",
    "NOT_BLANK",
    "NO_CONTROL",
    "RESERVED_ARGUMENTS",
    "STREAMS",
    "WHITESPACE",
    "Isolation",
    "Language",
    "LoginCodeJson",
    "MinuteRunsJson",
    "NodeJson",
    "OverviewJson",
    "Progress",
    "ProgressEventJson",
    "ProgressJson",
    "RemovedEventJson",
    "ServerStateEventJson",
    "ServiceConfig",
    "StateCountsJson",
    "StopReason",
    "StreamEventJson",
    "StreamName",
    "StreamPageJson",
    "StreamRecord",
    "StreamRecordJson",
    "TaskData",
    "TaskDefinitionJson",
    "TaskErrorInfo",
    "TaskErrorJson",
    "TaskRecordJson",
    "TaskResultJson",
    "TaskRunJson",
    "TaskSpec",
    "TaskState",
    "UtcTime",
    "WorkerCountsJson",
    "case_insensitive",
]

# ---------------------------------------------------------------------------------------- record types


@dataclass(frozen=True, slots=True)
class Progress:
    """A task's progress: percent (0-100), status message (never blank) and Write-Progress's details."""

    percent_complete: int = 0
    status_message: str = "Not started"
    activity: str | None = None
    current_operation: str | None = None
    seconds_remaining: int | None = None

    def to_json(self) -> ProgressJson:
        """The record's ``Progress`` object."""
        return {
            "PercentComplete": self.percent_complete,
            "StatusMessage": self.status_message,
            "Activity": self.activity,
            "CurrentOperation": self.current_operation,
            "SecondsRemaining": self.seconds_remaining,
        }

    @classmethod
    def from_json(cls, value: ProgressJson | dict[str, Any]) -> Progress:
        """Inverse of :meth:`to_json` (missing members take their defaults)."""
        return cls(
            int(value.get("PercentComplete", 0)),
            str(value.get("StatusMessage", "Not started")),
            value.get("Activity"),
            value.get("CurrentOperation"),
            value.get("SecondsRemaining"),
        )

    def ended(self, status: str) -> Progress:
        """This progress at 100 percent with ``status`` (how every final state leaves it)."""
        return Progress(100, status, self.activity, self.current_operation, self.seconds_remaining)


@dataclass(frozen=True, slots=True)
class TaskErrorInfo:
    """Why a task failed: the one constructor of the record's ``Error`` shape."""

    type: str
    message: str
    category: str | None = None
    stack_trace: str | None = None
    line: int | None = None
    column: int | None = None

    def to_json(self) -> TaskErrorJson:
        """The record's ``Error`` object."""
        return {
            "Type": self.type,
            "Message": self.message,
            "Category": self.category,
            "StackTrace": self.stack_trace,
            "Line": self.line,
            "Column": self.column,
        }

    @classmethod
    def from_json(cls, value: TaskErrorJson | dict[str, Any]) -> TaskErrorInfo:
        """Inverse of :meth:`to_json`."""
        return cls(
            str(value["Type"]),
            str(value["Message"]),
            value.get("Category"),
            value.get("StackTrace"),
            value.get("Line"),
            value.get("Column"),
        )


@dataclass(frozen=True, slots=True)
class StreamRecord:
    """One captured stream record; ``time`` is ISO 8601 UTC text ending in Z."""

    index: int
    stream: StreamName
    message: str
    time: str

    def to_json(self) -> StreamRecordJson:
        """The API's record object."""
        return {"Index": self.index, "Stream": self.stream, "Message": self.message, "Time": self.time}


@dataclass(slots=True)
class TaskData:
    """The durable part of a task: what a store persists and restores, field for field.

    Times are timezone-aware UTC; ``arguments`` and ``output`` are JSON values; ``seq`` orders tasks by
    creation; ``isolation`` is where the task runs (the service's mode when it was created), and
    ``max_memory_mb`` (MiB), ``working_directory`` and ``environment`` its context in a worker process;
    ``arguments_clixml``, ``clixml_depth`` and ``output_clixml`` its CliXml form (see :class:`TaskSpec`);
    ``reuse_runspace``: a PowerShell task that may run on a reset runspace of an earlier such task.
    With a shared (PostgreSQL) store, ``node`` is the id of the node that claimed the task's run and
    ``attempt`` counts its claims (None and 0 until claimed; the SQLite store keeps neither). Only
    :func:`krtasks.core.states.transition` changes ``state``, ``started_at`` and ``completed_at`` of a
    live task.
    """

    id: str
    seq: int
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
    state: TaskState = TaskState.NOT_STARTED
    started_at: datetime | None = None
    completed_at: datetime | None = None
    progress: Progress = field(default_factory=Progress)
    error: TaskErrorInfo | None = None
    output: Any = None
    isolation: Isolation = "process"
    max_memory_mb: int | None = None
    working_directory: str | None = None
    environment: dict[str, str] = field(default_factory=dict)
    arguments_clixml: str | None = None
    clixml_depth: int | None = None
    output_clixml: str | None = None
    reuse_runspace: bool = False
    node: str | None = None
    attempt: int = 0


# ---------------------------------------------------------------------------------------- requests, settings


@dataclass
class TaskSpec:
    """A request to create a task. Field names follow the REST API (snake_case here).

    ``arguments`` maps names to JSON-compatible values (they reach scripts as typed variables);
    ``timeout_seconds`` is in seconds (None: the service default, which is none by default).
    ``max_memory_mb``, ``working_directory`` and ``environment`` (variables added for this task) need
    process isolation. The CliXml form (PowerShell clients): ``arguments_clixml`` holds the arguments as
    PowerShell serialised them (``arguments`` is then their JSON view), and ``clixml_depth`` asks for the
    output to be kept as CliXml too, serialised that deep. ``reuse_runspace`` (PowerShell only; None: the
    service's ``reuse_runspaces``) lets the task run on a runspace an earlier such task used, once reset and
    verified (see :class:`ServiceConfig`).
    """

    code: str
    language: Language = Language.POWERSHELL
    id: str | None = None
    name: str | None = None
    description: str | None = None
    arguments: dict[str, Any] = field(default_factory=dict)
    auto_start: bool = False
    timeout_seconds: float | None = None
    parent_id: str | None = None
    extra_imports: list[str] = field(default_factory=list)
    extra_refs: list[str] = field(default_factory=list)
    max_memory_mb: int | None = None
    working_directory: str | None = None
    environment: dict[str, str] = field(default_factory=dict)
    arguments_clixml: str | None = None
    clixml_depth: int | None = None
    reuse_runspace: bool | None = None


@dataclass
class ServiceConfig:
    """Settings of the task service. Times in seconds.

    - ``max_runspaces``: tasks running at once, all languages together (≥ 1); more starts queue (FIFO).
    - ``stop_grace_seconds``: how long a cancelled task may take before it is marked Stopped and abandoned.
    - ``default_timeout_seconds``: applied to tasks without their own TimeoutSeconds (None: no limit).
    - ``stream_limit``: records kept per stream per task; later ones are counted as dropped.
    - ``output_max_bytes`` / ``output_max_depth``: bounds of a task's converted output.
    - ``output_max_items``: PowerShell output objects kept; later ones are counted as dropped.
    - ``compile_cache_size``: compiled C#/VB scripts kept for reuse when no task holds them.
    - ``retention_seconds``: finished tasks are removed this long after CompletedAt (0: keep forever).
    - ``max_finished``: beyond this many finished tasks the oldest are removed (0: unlimited).
    - ``isolation``: ``process`` (task code runs in worker processes: a crash, a stack overflow or a stop that
      is ignored cannot touch the daemon or other tasks) or ``thread`` (in the daemon: fastest, for trusted
      code).
    - ``min_workers``: idle workers kept ready (process isolation; at most ``max_runspaces`` workers exist).
    - ``worker_max_tasks``: a worker is replaced after this many runs (0: never).
    - ``worker_max_memory_mb``: a worker whose resident memory after a run passes this is replaced (0: never).
    - ``reuse_runspaces``: PowerShell tasks run on runspaces reused after a verified reset unless they ask
      otherwise (``ReuseRunspace``); off: a fresh runspace per task (the default). See docs/isolation.md.
    - ``lease_seconds``: with a shared store, how long a claimed run stays this node's without renewal (the
      node renews every third of it); ``poll_seconds``: how often a node polls the store's change feed and
      queue (the fallback of notifications).
    """

    max_runspaces: int = 8
    stop_grace_seconds: float = 5.0
    default_timeout_seconds: float | None = None
    stream_limit: int = 10_000
    output_max_bytes: int = 16 * 1024 * 1024
    output_max_depth: int = 8
    output_max_items: int = 100_000
    compile_cache_size: int = 128
    retention_seconds: float = 86_400.0
    max_finished: int = 10_000
    isolation: Isolation = "process"
    min_workers: int = 2
    worker_max_tasks: int = 200
    worker_max_memory_mb: int = 1024
    reuse_runspaces: bool = False
    lease_seconds: float = 30.0
    poll_seconds: float = 1.0
