"""The engine contract: how the task core prepares, runs, watches and stops code in one language.

An :class:`Engine` turns a creation request (:class:`CodeRequest`) into an opaque prepared handle
(:class:`Prepared`: for PowerShell the parsed script, for C#/VB the compiled script's cache key), launches
an :class:`Execution` from that handle, releases the handle when no run will need it again, and closes.
The core never looks inside a handle and never asks which language a task is.

Engines are asynchronous towards the core: every call returns quickly on the event loop, and the work
happens where the engine decides (executor threads in thread isolation, worker processes in process
isolation). Engines never raise for what task code does; that ends up in the :class:`Outcome`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..models import Language, Progress, ServiceConfig, TaskErrorInfo

RawRecord = tuple[str, str, str]
"""A stream record as an engine reports it: ``(stream, message, time ISO 8601 UTC ending in Z)``; the
core numbers them."""


@dataclass(frozen=True, slots=True)
class OutputLimits:
    """The bounds on what one run may leave behind.

    ``stream_records``: records kept per stream (later ones are counted as dropped); ``max_depth``: nesting
    of converted output; ``max_bytes``: size of the converted output (bytes); ``max_items``: PowerShell
    output objects kept.
    """

    stream_records: int = 10_000
    max_depth: int = 8
    max_bytes: int = 16 * 1024 * 1024
    max_items: int = 100_000

    @classmethod
    def of(cls, config: ServiceConfig) -> OutputLimits:
        """The limits a service configuration sets."""
        return cls(config.stream_limit, config.output_max_depth, config.output_max_bytes, config.output_max_items)


@dataclass(frozen=True, slots=True)
class CodeRequest:
    """What an engine prepares: the code, its arguments (JSON values by name, and the same as JSON text, or
    CliXml), and for C#/VB the extra imports and references."""

    code: str
    arguments: Mapping[str, Any]
    arguments_json: str
    extra_imports: tuple[str, ...] = ()
    extra_refs: tuple[str, ...] = ()
    arguments_clixml: str | None = None
    """The arguments as PowerShell serialised them (the CliXml form); when given, task code gets these, with
    their types, and ``arguments``/``arguments_json`` are only their JSON view."""


@dataclass(frozen=True, slots=True)
class Prepared:
    """An engine's handle on prepared code; ``compiled`` tells whether this preparation compiled (a C#/VB
    compile-cache miss), for metrics. ``handle`` belongs to the engine alone."""

    handle: object
    compiled: bool = False


@dataclass(frozen=True, slots=True)
class LaunchRequest:
    """What a run needs besides its prepared code: the task's id and, with process isolation, its context:
    ``max_memory_mb`` (the worker is killed when its resident memory passes it), ``working_directory`` and
    ``environment`` (variables added for this task only)."""

    task_id: str
    max_memory_mb: int | None = None
    working_directory: str | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    clixml_depth: int | None = None
    """Also keep the output as CliXml, serialised this deep (None: JSON only)."""
    reuse_runspace: bool = False
    """PowerShell: the run may take a runspace an earlier such run used, reset and verified."""


@dataclass(frozen=True, slots=True)
class StepReport:
    """One observation of a running execution: whether it ended, the stream records written since the last
    report, and the progress when it changed since the last report (None: unchanged)."""

    ended: bool
    records: list[RawRecord] = field(default_factory=list)
    progress: Progress | None = None


@dataclass(slots=True)
class Outcome:
    """How the code ended: its output (JSON value; and as CliXml when the launch asked for it), its error, the
    message of a prompt it attempted (tasks cannot prompt), notes for the Warning stream, and stream records
    written after the last step."""

    output: Any = None
    error: TaskErrorInfo | None = None
    prompt: str | None = None
    notes: list[str] = field(default_factory=list)
    records: list[RawRecord] = field(default_factory=list)
    output_clixml: str | None = None


class Execution(Protocol):
    """One run of prepared code. The core calls :meth:`step` until it reports the end, then :meth:`finish`
    once; :meth:`stop` at any time; :meth:`abandon` instead of :meth:`finish` when the code ignored a stop
    for the grace period."""

    async def step(self, wait_seconds: float) -> StepReport:
        """Wait up to ``wait_seconds`` for the end, then report records and progress."""
        ...

    def stop(self) -> None:
        """Ask the code to stop (pipeline stop, cancellation token); returns at once, never raises."""
        ...

    async def finish(self) -> Outcome:
        """After :meth:`step` reported the end: the output and error; releases per-run resources."""
        ...

    async def abandon(self) -> bool:
        """Give up on code that ignored :meth:`stop`: True when it certainly no longer runs (its process was
        killed), False when it may still be running (thread isolation)."""
        ...


class Engine(Protocol):
    """Prepares and runs the code of one language."""

    @property
    def language(self) -> Language:
        """The language this engine runs."""
        ...

    async def prepare(self, request: CodeRequest) -> Prepared:
        """Check (parse or compile) the code and hold what a run needs.

        Raises:
            krtasks.errors.CompileError: with the compiler's or parser's diagnostics.
            krtasks.errors.TaskValidationError: arguments the engine cannot hand to the code.
        """
        ...

    async def launch(self, prepared: Prepared, request: LaunchRequest) -> Execution:
        """Start a run of ``prepared``.

        Raises:
            Exception: the engine could not start the code (the task fails with that error).
        """
        ...

    async def release(self, prepared: Prepared) -> None:
        """Drop the hold :meth:`prepare` took (no run of it will follow)."""
        ...

    def warm_up(self) -> None:
        """Start optional background work that makes the first preparation faster; returns at once."""
        ...

    async def close(self) -> None:
        """Release everything the engine holds."""
        ...
