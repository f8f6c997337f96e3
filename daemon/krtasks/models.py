"""Task states, languages, the creation request (:class:`TaskSpec`) and the service's settings."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


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


FINISHED = frozenset({TaskState.COMPLETED, TaskState.FAILED, TaskState.STOPPED})
"""The final states: a task in one of them never changes state again."""


class Language(StrEnum):
    """Languages a task can be written in (Kestrun's names)."""

    POWERSHELL = "PowerShell"
    CSHARP = "CSharp"
    VBNET = "VBNet"

    @classmethod
    def parse(cls, value: str) -> Language:
        """Accept the canonical names case-insensitively plus common aliases (ps, cs, vb, C#, VB.NET).

        Raises:
            ValueError: not a known language.
        """
        key = value.strip().lower()
        for alias, lang in _LANGUAGE_ALIASES.items():
            if key == alias:
                return lang
        raise ValueError(f"unknown language '{value}' (expected PowerShell, CSharp or VBNet)")


_LANGUAGE_ALIASES = {
    "powershell": Language.POWERSHELL, "ps": Language.POWERSHELL, "pwsh": Language.POWERSHELL,
    "ps1": Language.POWERSHELL,
    "csharp": Language.CSHARP, "cs": Language.CSHARP, "c#": Language.CSHARP,
    "vbnet": Language.VBNET, "vb": Language.VBNET, "vb.net": Language.VBNET, "visualbasic": Language.VBNET,
}

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
"""Argument names: usable as a variable in PowerShell, C# and VB alike."""

RESERVED_ARGUMENTS = frozenset({"taskprogress", "taskid", "cancellationtoken", "arguments", "krtaskglobals",
                                "true", "false", "null", "args", "input", "this", "psitem", "_"})
"""Argument names that would hide what the engine itself provides to scripts (compared lower-case)."""


@dataclass
class TaskSpec:
    """A request to create a task. Field names follow the REST API (snake_case here).

    ``arguments`` maps names to JSON-compatible values (they reach scripts as typed variables);
    ``timeout_seconds`` is in seconds (None: the service default, which is none by default).
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
