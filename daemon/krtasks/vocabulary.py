"""The task vocabulary: states, languages, stop reasons, isolation modes, and the text rules (blank, control
characters, argument names) that the service and the API's document share. Re-exported by
:mod:`krtasks.models`."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Literal


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
