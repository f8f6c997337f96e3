"""The task vocabulary shared by the core, the engines, the store and the API.

States and languages, the creation request (:class:`TaskSpec`), the service's settings, and the typed
parts of a task record (:class:`Progress`, :class:`TaskErrorInfo`, :class:`StreamRecord`) with the durable
part of a task (:class:`TaskData`, exactly what a store persists). Each record type converts itself to
its JSON shape (``to_json``); those shapes are TypedDicts (``*Json``) from which the OpenAPI document
derives its schemas, so field names and enums cannot drift between the code and the document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import (
    Annotated,
    Any,
    Literal,
    NotRequired,  # pydantic needs it for schemas on Python < 3.12
)

from pydantic import Field
from typing_extensions import TypedDict


class TaskState(StrEnum):
    """Lifecycle states (PowerShell job vocabulary plus Queued). Finished = Completed, Failed, Stopped."""

    NOT_STARTED = "NotStarted"
    QUEUED = "Queued"
    RUNNING = "Running"
    STOPPING = "Stopping"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPED = "Stopped"

    @property
    def finished(self) -> bool:
        """True for the final states Completed, Failed and Stopped."""
        return self in FINISHED

    @property
    def active(self) -> bool:
        """True for Queued, Running and Stopping (started and not finished)."""
        return self in ACTIVE

    @classmethod
    def parse(cls, value: str) -> TaskState:
        """A state from its name, case-insensitively (``running`` → Running).

        Raises:
            ValueError: not a state name.
        """
        key = value.strip().lower()
        for state in cls:
            if state.value.lower() == key:
                return state
        raise ValueError(f"unknown state '{value}' (expected one of {', '.join(cls)})")


FINISHED = frozenset({TaskState.COMPLETED, TaskState.FAILED, TaskState.STOPPED})
"""The final states: a task in one of them never changes state again."""

ACTIVE = frozenset({TaskState.QUEUED, TaskState.RUNNING, TaskState.STOPPING})
"""Started and not yet finished."""


class Language(StrEnum):
    """Languages a task can be written in (Kestrun's names)."""

    POWERSHELL = "PowerShell"
    CSHARP = "CSharp"
    VBNET = "VBNet"

    @classmethod
    def parse(cls, value: str) -> Language:
        """Accept the canonical names case-insensitively plus common aliases (ps, cs, vb, C#, VB.NET); see
        :data:`LANGUAGE_PATTERN`.

        Raises:
            ValueError: not a known language.
        """
        lang = _LANGUAGE_ALIASES.get(value.lower())
        if lang is None:
            raise ValueError(f"unknown language '{value}' (expected PowerShell, CSharp or VBNet)")
        return lang


_LANGUAGE_ALIASES = {
    "powershell": Language.POWERSHELL,
    "ps": Language.POWERSHELL,
    "pwsh": Language.POWERSHELL,
    "ps1": Language.POWERSHELL,
    "csharp": Language.CSHARP,
    "cs": Language.CSHARP,
    "c#": Language.CSHARP,
    "vbnet": Language.VBNET,
    "vb": Language.VBNET,
    "vb.net": Language.VBNET,
    "visualbasic": Language.VBNET,
}


def case_insensitive(text: str) -> str:
    """A regular expression matching ``text`` in any letter case (``ps`` → ``[pP][sS]``)."""
    # Only the characters that are special in every dialect are escaped (ECMA 262 refuses an escaped "#").
    return "".join(
        f"[{c.lower()}{c.upper()}]" if c.isalpha() else "\\" + c if c in ".^$*+?()[]{}|\\/" else c for c in text
    )


LANGUAGE_PATTERN = "^(?:" + "|".join(case_insensitive(alias) for alias in _LANGUAGE_ALIASES) + ")$"
"""What :meth:`Language.parse` accepts, as a regular expression for the API's document."""


class StopReason(StrEnum):
    """Why the core asked a running task to stop (decides its final state and error)."""

    CANCEL = "cancel"
    """A user's cancel (or the daemon shutting down): ends Stopped."""
    TIMEOUT = "timeout"
    """The task's TimeoutSeconds ran out: ends Failed with Error.Type TimeoutException."""


Isolation = Literal["process", "thread"]
"""Where task code runs: in worker processes, or in the daemon's own threads."""

WHITESPACE = "".join(c for c in map(chr, range(0x3001)) if c.isspace())
"""What ``str.strip()`` removes (Python's whitespace): a value made only of these is blank."""

NOT_BLANK = "[^" + "".join(f"\\u{ord(c):04x}" for c in WHITESPACE) + "]"
"""A regular expression (ECMA 262 and Python alike) that finds a character that is not whitespace: a text
field that must not be blank matches it somewhere. The request schemas use it, so the API's document and
the service refuse the same names."""

NO_CONTROL = "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"
"""Text without control characters (Unicode category Cc), as task ids must be."""

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
"""Argument names: usable as a variable in PowerShell, C# and VB alike."""

RESERVED_ARGUMENTS = frozenset(
    {
        "taskprogress",
        "taskid",
        "cancellationtoken",
        "arguments",
        "krtaskglobals",
        "true",
        "false",
        "null",
        "args",
        "input",
        "this",
        "psitem",
        "_",
    }
)
"""Argument names that would hide what the engine itself provides to scripts (compared lower-case)."""


# ---------------------------------------------------------------------------------------- JSON shapes


class ProgressJson(TypedDict):
    """``Progress`` in a task record."""

    PercentComplete: Annotated[int, Field(ge=0, le=100)]
    StatusMessage: Annotated[str, Field(description="Never blank; 'Not started' before the run.")]
    Activity: str | None
    CurrentOperation: str | None
    SecondsRemaining: int | None


class TaskErrorJson(TypedDict):
    """``Error`` of a failed task."""

    Type: Annotated[
        str,
        Field(
            description="Exception type, or a KrTasks error type (TimeoutException, Interrupted, CompileError, ...)."
        ),
    ]
    Message: str
    Category: Annotated[str | None, Field(description="PowerShell error category.")]
    StackTrace: Annotated[str | None, Field(description="Script stack trace (PowerShell) or .NET stack trace.")]
    Line: Annotated[int | None, Field(description="1-based line in the task's code.")]
    Column: Annotated[int | None, Field(description="1-based column in the task's code.")]


UtcTime = Annotated[
    str, Field(description="UTC, ISO 8601 with microseconds, ending in Z.", json_schema_extra={"format": "date-time"})
]
"""A timestamp in JSON."""


StreamName = Literal["Error", "Warning", "Verbose", "Debug", "Information"]
"""The streams kept per task (PowerShell's; C#/VB console output lands in Information and Error)."""

STREAMS: tuple[StreamName, ...] = ("Error", "Warning", "Verbose", "Debug", "Information")


class StreamRecordJson(TypedDict):
    """One stream record (a PowerShell stream record or a console line of C#/VB code)."""

    Index: Annotated[int, Field(ge=0, description="Position among the task's records (0-based).")]
    Stream: StreamName
    Message: str
    Time: Annotated[UtcTime, Field(description="When it was written (UTC, ISO 8601, ending in Z).")]


class TaskRecordJson(TypedDict):
    """A task as the REST API shows it."""

    Id: str
    Name: str
    Description: str
    Language: Language
    State: TaskState
    StateText: Annotated[TaskState, Field(description="The state's name (Kestrun's field; same as State here).")]
    CreatedAt: UtcTime
    StartedAt: UtcTime | None
    CompletedAt: UtcTime | None
    Duration: Annotated[str | None, Field(description="CompletedAt - StartedAt as [d.]hh:mm:ss.fffffff.")]
    Progress: ProgressJson
    ParentId: Annotated[str, Field(description="Empty for a root task.")]
    ChildrenId: list[str]
    TimeoutSeconds: Annotated[float | None, Field(description="Run time limit (seconds).")]
    Error: TaskErrorJson | None
    Isolation: Annotated[Isolation, Field(description="Where the task runs: a worker process or a daemon thread.")]
    Node: NotRequired[Annotated[str, Field(description="Shared store: the node that claimed the task's run.")]]


class TaskRunJson(TaskRecordJson):
    """``POST /api/v1/tasks`` (201): the new task's record; with ``Wait``, once it has finished, also its
    ``Output`` (as in :class:`TaskResultJson`; the record's ``Error`` is the result's)."""

    Output: NotRequired[Annotated[Any, Field(description="With Wait: the finished task's output.")]]


class TaskResultJson(TypedDict):
    """``GET /tasks/{id}/result``: the output and error of a finished task."""

    Id: str
    CreatedAt: Annotated[UtcTime, Field(description="When this task was created: tells tasks apart that reuse an id.")]
    State: TaskState
    Output: Annotated[Any, Field(description="PowerShell: the array of output objects; C#/VB: the returned value.")]
    Error: TaskErrorJson | None


class StreamPageJson(TypedDict):
    """``GET /tasks/{id}/streams``: stream records from an index on."""

    Id: str
    CreatedAt: Annotated[UtcTime, Field(description="When this task was created: tells tasks apart that reuse an id.")]
    Records: list[StreamRecordJson]
    Next: Annotated[int, Field(ge=0, description="Pass as Since to get only newer records.")]


class ProgressEventJson(TypedDict):
    """The ``progress`` event of an event stream."""

    Id: str
    Progress: ProgressJson


class StreamEventJson(StreamRecordJson):
    """The ``stream`` event of an event stream: one record with its task's id."""

    Id: str


class ServerStateEventJson(TaskRecordJson):
    """The ``state`` event of the server-wide stream: the task's record after the change and the state before."""

    PreviousState: TaskState


class RemovedEventJson(TypedDict):
    """The ``removed`` event of the server-wide stream: a task that was removed (one event per task of a
    removed subtree), with what it was when it went."""

    Id: str
    State: TaskState
    ParentId: Annotated[str, Field(description="Empty for a root task.")]
    CompletedAt: UtcTime | None


class TaskDefinitionJson(TypedDict):
    """``GET /tasks/{id}/definition``: what the task was created with (to show it, or to create it again)."""

    Id: str
    Name: str
    Description: str
    Language: Language
    Code: str
    Arguments: dict[str, Any]
    TimeoutSeconds: Annotated[float | None, Field(description="Run time limit (seconds).")]
    ParentId: Annotated[str, Field(description="Empty for a root task.")]
    ExtraImports: list[str]
    ExtraRefs: list[str]
    MaxMemoryMB: Annotated[int | None, Field(description="Memory limit of the task's worker (MiB).")]
    WorkingDirectory: str | None
    Environment: dict[str, str]
    Isolation: Isolation


class StateCountsJson(TypedDict):
    """Tasks in the registry by state."""

    NotStarted: int
    Queued: int
    Running: int
    Stopping: int
    Completed: int
    Failed: int
    Stopped: int


class MinuteRunsJson(TypedDict):
    """Runs that ended in one UTC minute."""

    Minute: Annotated[UtcTime, Field(description="Start of the minute (UTC).")]
    Completed: Annotated[int, Field(ge=0)]
    Failed: Annotated[int, Field(ge=0)]


class WorkerCountsJson(TypedDict):
    """Worker processes by state (process isolation)."""

    Idle: Annotated[int, Field(ge=0)]
    Busy: Annotated[int, Field(ge=0)]
    Starting: Annotated[int, Field(ge=0)]


class OverviewJson(TypedDict):
    """``GET /overview``: the daemon at a glance, as of server-wide event ``EventSeq``."""

    Version: str
    StartedAt: Annotated[UtcTime, Field(description="When the task service opened.")]
    UptimeSeconds: Annotated[float, Field(ge=0)]
    Isolation: Isolation
    EventSeq: Annotated[
        int,
        Field(
            ge=0,
            description="Number of the last server-wide event this snapshot shows: events of /api/v1/events "
            "with an id up to this one are already in it.",
        ),
    ]
    Counts: StateCountsJson
    Total: Annotated[int, Field(ge=0)]
    FailedLast24h: Annotated[int, Field(ge=0, description="Runs that ended Failed in the last 24 hours.")]
    Throughput: Annotated[
        list[MinuteRunsJson],
        Field(description="Runs that ended Completed or Failed, per minute for the last hour, oldest first."),
    ]
    QueueLength: Annotated[int, Field(ge=0)]
    SlotsInUse: Annotated[int, Field(ge=0, description="Running and Stopping tasks (each holds a slot).")]
    MaxRunspaces: Annotated[int, Field(ge=1)]
    Workers: Annotated[WorkerCountsJson | None, Field(description="Null in thread isolation.")]
    StoreBytes: Annotated[int | None, Field(description="Size of the task store on disk; null without a store.")]
    RetentionSeconds: Annotated[float, Field(description="Finished tasks go this long after CompletedAt (0: kept).")]
    MaxFinished: Annotated[int, Field(description="At most this many finished tasks are kept (0: no limit).")]
    Running: Annotated[
        list[TaskRecordJson], Field(description="Running and Stopping tasks, newest first (at most 100).")
    ]


class LoginCodeJson(TypedDict):
    """``POST /ui/login-codes``: a one-time code that opens a dashboard session."""

    Code: str
    Url: Annotated[str, Field(description="Path of the login link (append it to the daemon's URL).")]
    ExpiresInSeconds: Annotated[float, Field(description="The code works once, within this many seconds.")]


class NodeJson(TypedDict):
    """``GET /api/v1/nodes``: one daemon serving the task set (a node of a shared store, or the daemon alone)."""

    Id: Annotated[str, Field(description="The node's id (a task's Node); 'local' for a daemon over its own store.")]
    Host: Annotated[str, Field(description="The host name the node runs on.")]
    Pid: Annotated[int, Field(description="The daemon's process id on that host.")]
    Version: Annotated[str, Field(description="The node's KrTasks version.")]
    StartedAt: UtcTime
    HeartbeatAt: Annotated[
        UtcTime, Field(description="The node's last heartbeat (the shared database's clock; now for a daemon alone).")
    ]
    Slots: Annotated[int, Field(ge=0, description="Its --max-runspaces: how many tasks it runs at once.")]
    Running: Annotated[int, Field(ge=0, description="Tasks it runs now (as of its last heartbeat).")]


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
