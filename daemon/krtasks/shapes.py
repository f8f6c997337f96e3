"""The JSON shapes of the API (TypedDicts named ``*Json``): the record types of :mod:`krtasks.models` convert
themselves to them, and the OpenAPI document derives its schemas from them, so field names and enums cannot
drift between the code and the document. Re-exported by :mod:`krtasks.models`."""

from __future__ import annotations

from typing import (
    Annotated,
    Any,
    Literal,
    NotRequired,  # pydantic needs it for schemas on Python < 3.12
)

from pydantic import Field
from typing_extensions import TypedDict

from .vocabulary import Isolation, Language, TaskState


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
