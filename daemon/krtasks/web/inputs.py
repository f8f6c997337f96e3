"""Reading requests: JSON bodies validated with pydantic (PascalCase fields) and case-insensitive queries.

Every fault raises :class:`~krtasks.errors.TaskValidationError` (or its subclass
:class:`~krtasks.web.problems.BodyValidationError`) naming the field, which the middleware answers 400.
Media-type faults answer 415 and oversized bodies 413 (aiohttp enforces ``client_max_size``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.alias_generators import to_pascal

from ..errors import TaskValidationError
from ..models import Language, TaskSpec, TaskState
from .problems import BodyValidationError

M = TypeVar("M", bound=BaseModel)


class _Body(BaseModel):
    """Base of request bodies: PascalCase names, strict JSON types, unknown fields refused."""

    model_config = ConfigDict(alias_generator=to_pascal, extra="forbid", strict=True)


class CreateTaskBody(_Body):
    """Body of ``POST /api/v1/tasks``. ``TimeoutSeconds`` in seconds (> 0)."""

    code: str = Field(description="The script or snippet to run (empty code is a task with no output).")
    language: str = Field(default="PowerShell", description="PowerShell, CSharp or VBNet (aliases ps, cs, vb).")
    id: str | None = Field(default=None, description="Caller-chosen id (unique, case-insensitive).")
    name: str | None = None
    description: str | None = None
    arguments: dict[str, Any] | None = Field(default=None, description="Variables handed to the code.")
    auto_start: bool = False
    timeout_seconds: float | None = Field(default=None, gt=0, description="Run time limit in seconds.")
    parent_id: str | None = None
    extra_imports: list[str] | None = Field(default=None, description="Extra namespaces (C#/VB).")
    extra_refs: list[str] | None = Field(default=None, description="Extra assemblies, names or paths (C#/VB).")
    max_memory_mb: int | None = Field(
        default=None,
        alias="MaxMemoryMB",
        ge=64,
        description="Kill the task's worker when its resident memory passes this (MiB; the worker's own runtime "
        "counts, ~150-250 MiB). Process isolation only.",
    )
    working_directory: str | None = Field(
        default=None, description="The task's current directory (must exist). Process isolation only."
    )
    environment: dict[str, str] | None = Field(
        default=None, description="Environment variables added for this task only. Process isolation only."
    )

    @field_validator("language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        return Language.parse(value).value

    def to_spec(self) -> TaskSpec:
        """The service's creation request."""
        return TaskSpec(
            code=self.code,
            language=Language(self.language),
            id=self.id,
            name=self.name,
            description=self.description,
            arguments=dict(self.arguments or {}),
            auto_start=self.auto_start,
            timeout_seconds=self.timeout_seconds,
            parent_id=self.parent_id,
            extra_imports=list(self.extra_imports or []),
            extra_refs=list(self.extra_refs or []),
            max_memory_mb=self.max_memory_mb,
            working_directory=self.working_directory,
            environment=dict(self.environment or {}),
        )


class RenameTaskBody(_Body):
    """Body of ``PATCH /api/v1/tasks/{id}``: at least one of Name, Description."""

    name: str | None = None
    description: str | None = None


def _is_json(content_type: str) -> bool:
    return content_type == "application/json" or (
        content_type.startswith("application/") and content_type.endswith("+json")
    )


async def read_json_body(request: web.Request) -> Any:
    """Return the request's parsed JSON body.

    Raises:
        web.HTTPUnsupportedMediaType: the Content-Type is not JSON (415).
        web.HTTPRequestEntityTooLarge: the body exceeds the app's ``client_max_size`` (413).
        TaskValidationError: the body is empty, not UTF-8 or not valid JSON (400, field ``body``).
    """
    if not _is_json(request.content_type):
        sent = request.headers.get("Content-Type", "none")
        raise web.HTTPUnsupportedMediaType(text=f"Send the body as application/json (Content-Type was {sent}).")
    raw = await request.read()
    if not raw.strip():
        raise TaskValidationError("body", "a JSON object is required")
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant, parse_float=_finite_float)
    except UnicodeDecodeError as exc:
        raise TaskValidationError("body", f"not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise TaskValidationError(
            "body", f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except ValueError as exc:
        raise TaskValidationError("body", f"malformed JSON: {exc}") from None


def _reject_constant(name: str) -> Any:
    # Python's json accepts NaN and Infinity; RFC 8259 JSON does not, and they cannot be sent back as JSON.
    raise ValueError(f"{name} is not a JSON value")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"the number {text} is out of range")
    return value


def _canonical_keys(data: dict[str, Any], model: type[BaseModel]) -> dict[str, Any]:
    """Rename keys to the model's PascalCase aliases, ignoring case (``code`` → ``Code``)."""
    aliases = {(f.alias or name).lower(): (f.alias or name) for name, f in model.model_fields.items()}
    out: dict[str, Any] = {}
    for key, value in data.items():
        canonical = aliases.get(key.lower(), key)
        if canonical in out:
            raise TaskValidationError(canonical, "given more than once (names are case-insensitive)")
        out[canonical] = value
    return out


async def parse_body(request: web.Request, model: type[M]) -> M:
    """Read and validate the JSON body as ``model`` (field names case-insensitive).

    Raises:
        BodyValidationError: a field is missing, unknown or of the wrong type; lists every fault.
        plus whatever :func:`read_json_body` raises.
    """
    data = await read_json_body(request)
    if not isinstance(data, dict):
        raise TaskValidationError("body", f"a JSON object is required, not {type(data).__name__}")
    try:
        return model.model_validate(_canonical_keys(data, model))
    except ValidationError as exc:
        errors = []
        for err in exc.errors(include_url=False):
            field = ".".join(str(p) for p in err["loc"]) or "body"
            message = err["msg"]
            if err["type"] == "extra_forbidden":
                message = "unknown field"
            elif message.startswith("Value error, "):
                message = message.removeprefix("Value error, ")
            errors.append({"field": field, "message": message})
        raise BodyValidationError(errors) from None


class Query:
    """A request's query string with case-insensitive names (``State=`` and ``state=`` alike).

    Getters raise :class:`TaskValidationError` naming the parameter (as documented, PascalCase) on bad values.
    """

    def __init__(self, request: web.Request) -> None:
        self._values = {k.lower(): v for k, v in request.query.items()}

    def get_str(self, name: str) -> str | None:
        """The raw value, or None when absent."""
        return self._values.get(name.lower())

    def get_int(self, name: str, *, minimum: int = 0, maximum: int | None = None) -> int | None:
        """An integer in ``[minimum, maximum]``, or None when absent."""
        raw = self.get_str(name)
        if raw is None or raw == "":
            return None
        try:
            value = int(raw)
        except ValueError:
            raise TaskValidationError(name, f"an integer is required, not '{raw}'") from None
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
            raise TaskValidationError(name, f"must be {bound}")
        return value

    def get_float(self, name: str, *, minimum: float = 0.0) -> float | None:
        """A finite number ≥ ``minimum``, or None when absent."""
        raw = self.get_str(name)
        if raw is None or raw == "":
            return None
        try:
            value = float(raw)
        except ValueError:
            raise TaskValidationError(name, f"a number is required, not '{raw}'") from None
        if not value >= minimum or value == float("inf"):
            raise TaskValidationError(name, f"must be a finite number of at least {minimum:g}")
        return value

    def get_choice(self, name: str, choices: Sequence[str]) -> str | None:
        """One of ``choices`` (any case, returned as listed), or None when absent or empty."""
        raw = self.get_str(name)
        if not raw:
            return None
        for choice in choices:
            if choice.lower() == raw.lower():
                return choice
        raise TaskValidationError(name, f"'{raw}' is not one of {', '.join(choices)}")

    def get_datetime(self, name: str) -> datetime | None:
        """A point in time (aware, UTC), or None when absent or empty: an RFC 3339 date-time such as
        ``2026-11-29T10:00:00Z`` or ``2026-11-29T11:00:00.5+01:00`` (any number of fraction digits, finer
        ones rounded up to the microsecond; a leap second bounds like the second after it), or another ISO
        8601 form Python reads (without an offset: UTC)."""
        raw = self.get_str(name)
        if not raw:
            return None
        try:
            return _parse_time(raw)
        except (ValueError, OverflowError):
            raise TaskValidationError(
                name, f"an ISO 8601 date-time is required (e.g. 2026-11-29T10:00:00Z), not '{raw}'"
            ) from None

    def get_bool(self, name: str, default: bool = False) -> bool:
        """``true``/``false``/``1``/``0`` (any case); ``default`` when absent."""
        raw = self.get_str(name)
        if raw is None or raw == "":
            return default
        lowered = raw.lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        raise TaskValidationError(name, f"true or false is required, not '{raw}'")

    def state(self, name: str = "State") -> str | None:
        """A task state name, case-insensitive, returned in its canonical form (``running`` → ``Running``)."""
        raw = self.get_str(name)
        if not raw:
            return None
        for state in TaskState:
            if state.value.lower() == raw.lower():
                return state.value
        raise TaskValidationError(name, f"unknown state '{raw}' (expected one of {', '.join(TaskState)})")

    def language(self, name: str = "Language") -> str | None:
        """A language name or alias, returned canonical (``cs`` → ``CSharp``)."""
        raw = self.get_str(name)
        if not raw:
            return None
        try:
            return Language.parse(raw).value
        except ValueError as exc:
            raise TaskValidationError(name, str(exc)) from None


_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))"
)


def _parse_time(text: str) -> datetime:
    """See :meth:`Query.get_datetime`. Raises ValueError (or OverflowError) for what is not a time."""
    match = _RFC3339.fullmatch(text.strip())
    if match is None:
        parsed = datetime.fromisoformat(text.strip())
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction, zulu, sign, off_h, off_m = match.groups()[6:]
    digits = (fraction or "0").ljust(6, "0")
    microsecond = int(digits[:6])
    # Times here have microseconds: a finer bound is rounded up, which keeps ">= bound" and "< bound" exact.
    finer = timedelta(microseconds=1) if digits[6:].strip("0") else timedelta(0)
    if second == 60:  # RFC 3339 allows a leap second; no time here falls in one: it bounds like the next second
        second, microsecond, finer = 59, 0, timedelta(seconds=1)
    offset = timedelta(0) if zulu else timedelta(hours=int(off_h), minutes=int(off_m)) * (1 if sign == "+" else -1)
    if year == 0:  # RFC 3339 allows year 0000, before anything datetime can hold
        return datetime.min.replace(tzinfo=UTC)
    local = datetime(year, month, day, hour, minute, second, microsecond)
    try:
        return (local - offset + finer).replace(tzinfo=UTC)
    except OverflowError:
        return (datetime.min if offset > timedelta(0) else datetime.max).replace(tzinfo=UTC)
