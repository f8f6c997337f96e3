"""Checking a creation request: each rule once, each fault named by its API field."""

from __future__ import annotations

import json
import os
import unicodedata
import uuid
from dataclasses import dataclass
from typing import Any

from ..errors import TaskUnprocessableError, TaskValidationError
from ..models import IDENTIFIER, RESERVED_ARGUMENTS, Isolation, Language, ServiceConfig, TaskSpec, TaskState
from .entry import TaskEntry
from .registry import Registry

MAX_ID_LENGTH = 128
"""Longest task id (characters)."""


@dataclass(frozen=True, slots=True)
class ValidSpec:
    """A creation request that passed every check, normalised (the id chosen, the name defaulted)."""

    id: str
    language: Language
    name: str
    description: str
    code: str
    arguments: dict[str, Any]
    timeout_seconds: float | None
    parent: TaskEntry | None
    extra_imports: list[str]
    extra_refs: list[str]
    isolation: Isolation
    max_memory_mb: int | None
    working_directory: str | None
    environment: dict[str, str]
    arguments_clixml: str | None
    clixml_depth: int | None
    reuse_runspace: bool


def new_id() -> str:
    """A fresh task id: a random UUID as 32 lower-case hex digits (Kestrun's form)."""
    return uuid.uuid4().hex


def check_id(task_id: str) -> str:
    """``task_id`` if it is a valid id: 1 to :data:`MAX_ID_LENGTH` characters, no control characters (spaces
    and ``/ ? # % \\`` are fine; the API percent-encodes them).

    Raises:
        TaskValidationError: it is not.
    """
    if not 0 < len(task_id) <= MAX_ID_LENGTH or any(unicodedata.category(c) == "Cc" for c in task_id):
        raise TaskValidationError("Id", f"must be 1-{MAX_ID_LENGTH} characters without control characters")
    return task_id


def parse_state(value: str, field: str = "State") -> TaskState:
    """A state name, case-insensitive.

    Raises:
        TaskValidationError: not a state (``field`` named).
    """
    try:
        return TaskState.parse(value)
    except ValueError as exc:
        raise TaskValidationError(field, str(exc)) from None


def parse_language(value: str | Language, field: str = "Language") -> Language:
    """A language name or alias.

    Raises:
        TaskValidationError: not a language (``field`` named).
    """
    if isinstance(value, Language):
        return value
    try:
        return Language.parse(str(value))
    except ValueError as exc:
        raise TaskValidationError(field, str(exc)) from None


def _check_arguments(arguments: Any) -> dict[str, Any]:
    if not isinstance(arguments, dict):
        raise TaskValidationError("Arguments", "must be an object of name → value")
    seen: set[str] = set()
    for name in arguments:
        if not IDENTIFIER.match(name):
            raise TaskValidationError("Arguments", f"'{name}' is not a valid variable name (letters, digits, _)")
        if name.lower() in RESERVED_ARGUMENTS:
            raise TaskUnprocessableError("Arguments", f"'{name}' is reserved (the engine provides it)")
        if name.lower() in seen:
            raise TaskUnprocessableError("Arguments", f"'{name}' is given twice (names are case-insensitive)")
        seen.add(name.lower())
    try:
        json.dumps(arguments, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TaskValidationError("Arguments", f"must be JSON values: {exc}") from None
    return dict(arguments)


MAX_CLIXML_DEPTH = 16
"""Deepest CliXml serialisation a task may ask for."""

MIN_MEMORY_MB = 64
"""Smallest MaxMemoryMB (MiB); a worker's own runtime takes ~150-250 MiB of it."""

MAX_MEMORY_MB = 1 << 24
"""Largest MaxMemoryMB (MiB, 16 TiB): beyond any machine, and within SQLite's integers."""


def _check_context(spec: TaskSpec, isolation: Isolation) -> None:
    """MaxMemoryMB, WorkingDirectory and Environment: only in process isolation, and well-formed."""
    given = [
        name
        for name, value in (
            ("MaxMemoryMB", spec.max_memory_mb),
            ("WorkingDirectory", spec.working_directory),
            ("Environment", spec.environment),
        )
        if value
    ]
    if given and isolation != "process":
        raise TaskUnprocessableError(given[0], "needs process isolation (the daemon runs with --isolation thread)")
    memory = spec.max_memory_mb
    if memory is not None and (isinstance(memory, bool) or not MIN_MEMORY_MB <= memory <= MAX_MEMORY_MB):
        raise TaskValidationError("MaxMemoryMB", f"must be a whole number of MiB, {MIN_MEMORY_MB} to {MAX_MEMORY_MB}")
    if spec.working_directory:  # "" is the default directory, like no value
        if "\0" in spec.working_directory:
            raise TaskValidationError("WorkingDirectory", "must not contain NUL")
        if not os.path.isdir(spec.working_directory):
            raise TaskUnprocessableError("WorkingDirectory", f"'{spec.working_directory}' is not an existing directory")
    if not isinstance(spec.environment, dict):
        raise TaskValidationError("Environment", "must be an object of name → string")
    for name, value in spec.environment.items():
        if not isinstance(name, str) or not name or "=" in name or "\0" in name:
            raise TaskValidationError("Environment", f"'{name}' is not a variable name (non-empty, no '=')")
        if not isinstance(value, str) or "\0" in value:
            raise TaskValidationError("Environment", f"the value of '{name}' must be a string without NUL")


def validate(spec: TaskSpec, registry: Registry, config: ServiceConfig) -> ValidSpec:
    """Check ``spec`` against the registry (parent exists) and the service's settings (isolation, default
    timeout), and normalise it. A blank or missing id gets a new one; a missing name becomes "Task <id>";
    empty code is a valid task that outputs nothing.

    Raises:
        TaskValidationError: a field is invalid (``field`` names it).
    """
    if not isinstance(spec.code, str):
        raise TaskValidationError("Code", "must be a string")
    task_id = new_id() if spec.id is None or not spec.id.strip() else check_id(spec.id)
    if spec.name is not None and not spec.name.strip():
        raise TaskValidationError("Name", "must not be blank")
    if spec.timeout_seconds is not None and not spec.timeout_seconds > 0:
        raise TaskValidationError("TimeoutSeconds", "must be greater than 0")
    arguments = _check_arguments(spec.arguments)
    for field_name, values in (("ExtraImports", spec.extra_imports), ("ExtraRefs", spec.extra_refs)):
        if any(not isinstance(v, str) or not v.strip() for v in values):
            raise TaskValidationError(field_name, "must be a list of non-empty strings")
    _check_context(spec, config.isolation)
    if spec.clixml_depth is not None and not 1 <= spec.clixml_depth <= MAX_CLIXML_DEPTH:
        raise TaskValidationError("SerializationDepth", f"must be between 1 and {MAX_CLIXML_DEPTH}")
    language = parse_language(spec.language)
    if language == Language.POWERSHELL and (spec.extra_imports or spec.extra_refs):
        field_name = "ExtraImports" if spec.extra_imports else "ExtraRefs"
        raise TaskUnprocessableError(
            field_name,
            "applies to CSharp and VBNet code only (PowerShell: use Import-Module, Add-Type or 'using' in the script)",
        )
    if spec.reuse_runspace and language != Language.POWERSHELL:
        raise TaskUnprocessableError("ReuseRunspace", "applies to PowerShell tasks only (C#/VB run no runspace)")
    reuse = config.reuse_runspaces if spec.reuse_runspace is None else spec.reuse_runspace
    parent = None
    if spec.parent_id:
        parent = registry.find(spec.parent_id)
        if parent is None:
            raise TaskUnprocessableError("ParentId", f"no task with id '{spec.parent_id}'")
    return ValidSpec(
        id=task_id,
        language=language,
        name=spec.name.strip() if spec.name else f"Task {task_id}",
        description=spec.description or "",
        code=spec.code,
        arguments=arguments,
        timeout_seconds=spec.timeout_seconds if spec.timeout_seconds is not None else config.default_timeout_seconds,
        parent=parent,
        extra_imports=list(spec.extra_imports),
        extra_refs=list(spec.extra_refs),
        isolation=config.isolation,
        max_memory_mb=spec.max_memory_mb,
        working_directory=os.path.abspath(spec.working_directory) if spec.working_directory else None,
        environment=dict(spec.environment),
        arguments_clixml=spec.arguments_clixml,
        clixml_depth=spec.clixml_depth,
        reuse_runspace=reuse and language == Language.POWERSHELL,
    )
