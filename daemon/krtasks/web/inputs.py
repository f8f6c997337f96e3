"""Reading requests: JSON bodies validated with pydantic (PascalCase fields) and case-insensitive queries.

Every fault raises :class:`~krtasks.errors.TaskValidationError` (or its subclass
:class:`~krtasks.web.problems.BodyValidationError`) naming the field, which the middleware answers 400.
Media-type faults answer 415 and oversized bodies 413 (aiohttp enforces ``client_max_size``).
"""

from __future__ import annotations

import json
import math
import re
from typing import Annotated, Any, TypeVar

from aiohttp import web
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_pascal

from ..clixml import CLIXML, DEFAULT_DEPTH, decode_create_body
from ..core.validation import MAX_CLIXML_DEPTH, MAX_ID_LENGTH, MAX_MEMORY_MB, MIN_MEMORY_MB
from ..errors import TaskUnprocessableError, TaskValidationError
from ..models import IDENTIFIER, LANGUAGE_PATTERN, NO_CONTROL, NOT_BLANK, Language, TaskSpec, TaskState
from .problems import BodyValidationError

M = TypeVar("M", bound=BaseModel)


class _Body(BaseModel):
    """Base of request bodies: PascalCase names, strict JSON types, unknown fields refused."""

    model_config = ConfigDict(alias_generator=to_pascal, extra="forbid", strict=True)


NonBlank = Annotated[str, Field(pattern=NOT_BLANK)]
"""Text with something else than whitespace in it."""

NoNul = Annotated[str, Field(pattern="^[^\\u0000]*$")]
"""Text without NUL (paths, environment values)."""

ArgumentName = Annotated[str, Field(pattern=IDENTIFIER.pattern)]
"""A name usable as a variable in PowerShell, C# and VB alike."""

VariableName = Annotated[str, Field(pattern="^[^=\\u0000]+$")]
"""An environment variable's name: not empty, no ``=``, no NUL."""


def _whole_number(value: Any) -> Any:
    """JSON has one number type: ``6.0`` is the integer 6 (JSON Schema's ``integer`` agrees), ``6.5`` is not."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


MemoryMB = Annotated[int, Field(ge=MIN_MEMORY_MB, le=MAX_MEMORY_MB), BeforeValidator(_whole_number)]
"""MiB of resident memory; an integer, also when written with a zero fraction (``6.0``), never a boolean."""

Depth = Annotated[int, Field(ge=1, le=MAX_CLIXML_DEPTH), BeforeValidator(_whole_number)]
"""A CliXml serialisation depth (an integer as :data:`MemoryMB`)."""


class CreateTaskBody(_Body):
    """Body of ``POST /api/v1/tasks``. ``TimeoutSeconds`` in seconds (> 0). Its JSON schema is as strict as the
    server: what the schema allows is well formed (a 422 then says what the service cannot do with it)."""

    code: str = Field(description="The script or snippet to run (empty code is a task with no output).")
    language: str = Field(
        default="PowerShell",
        pattern=LANGUAGE_PATTERN,
        description="PowerShell, CSharp or VBNet (case-insensitive; aliases ps, pwsh, cs, c#, vb, vb.net).",
    )
    id: str | None = Field(
        default=None,
        max_length=MAX_ID_LENGTH,
        pattern=NO_CONTROL,
        description="Caller-chosen id (unique, case-insensitive; up to 128 characters, no control characters; "
        "none or blank: a new one).",
    )
    name: NonBlank | None = Field(default=None, description='Display name (default "Task <id>").')
    description: str | None = None
    arguments: dict[ArgumentName, Any] | None = Field(default=None, description="Variables handed to the code.")
    auto_start: bool = False
    timeout_seconds: float | None = Field(default=None, gt=0, description="Run time limit in seconds.")
    parent_id: str | None = Field(default=None, description='The parent task\'s id ("" or none: a root task).')
    extra_imports: list[NonBlank] | None = Field(default=None, description="Extra namespaces (C#/VB).")
    extra_refs: list[NonBlank] | None = Field(default=None, description="Extra assemblies, names or paths (C#/VB).")
    max_memory_mb: MemoryMB | None = Field(
        default=None,
        alias="MaxMemoryMB",
        description="Kill the task's worker when its resident memory passes this (MiB; the worker's own runtime "
        "counts, ~150-250 MiB). Process isolation only.",
    )
    working_directory: NoNul | None = Field(
        default=None,
        description="The task's current directory (must exist; \"\" or none: the daemon's). Process isolation only.",
    )
    environment: dict[VariableName, NoNul] | None = Field(
        default=None, description="Environment variables added for this task only. Process isolation only."
    )
    serialization_depth: Depth | None = Field(
        default=None,
        description="Also keep the output as CliXml, serialised this deep, for results asked for as "
        "application/clixml+xml (a CliXml request keeps it at depth 4 unless it says otherwise).",
    )

    reuse_runspace: bool | None = Field(
        default=None,
        description="PowerShell: run on a runspace an earlier such task used, after a verified reset (faster; "
        "none: the daemon's --reuse-runspaces, off by default).",
    )
    wait: float | None = Field(
        default=None,
        ge=0,
        description="Seconds to wait for the end, in one call (starts the task, AutoStart may be left out): 201 "
        "with the record and Output once it has finished, 202 with the record when the wait runs out and the "
        "task goes on.",
    )

    @field_validator("language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        return Language.parse(value).value

    def wait_seconds(self) -> float | None:
        """``Wait`` (None: answer at once).

        Raises:
            TaskUnprocessableError: ``Wait`` with ``AutoStart: false`` (a task that is not started never ends).
        """
        if self.wait is not None and "auto_start" in self.model_fields_set and not self.auto_start:
            raise TaskUnprocessableError("Wait", "needs the task to start: leave AutoStart out or make it true")
        return self.wait

    def to_spec(self, arguments_clixml: str | None = None) -> TaskSpec:
        """The service's creation request (``arguments_clixml``: the arguments of a CliXml request, which keeps
        its output as CliXml too)."""
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
            arguments_clixml=arguments_clixml,
            clixml_depth=self.serialization_depth or (DEFAULT_DEPTH if arguments_clixml is not None else None),
            reuse_runspace=self.reuse_runspace,
        )


class RenameTaskBody(_Body):
    """Body of ``PATCH /api/v1/tasks/{id}``: at least one of Name, Description, neither blank."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    # Absent means "leave it"; an explicit null is refused (the schema says string, so does the server).
    name: Annotated[NonBlank | None, WithJsonSchema({"type": "string", "pattern": NOT_BLANK})] = None
    description: Annotated[NonBlank | None, WithJsonSchema({"type": "string", "pattern": NOT_BLANK})] = None

    @model_validator(mode="before")
    @classmethod
    def _no_nulls(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key, value in data.items():
                if value is None:
                    raise ValueError(f"{key} must be a string, not null")
        return data


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
    return validate_fields(data, model)


async def parse_create_body(request: web.Request) -> tuple[TaskSpec, float | None]:
    """The creation request of ``POST /api/v1/tasks`` and its ``Wait`` (seconds, None: answer at once): a JSON
    body, or CliXml of a hashtable with the same fields (``application/clixml+xml``, see :mod:`krtasks.clixml`).

    Raises:
        web.HTTPUnsupportedMediaType: neither JSON nor CliXml (415).
        BodyValidationError / TaskValidationError: as :func:`parse_body`; CliXml that does not deserialize is a
            400 naming ``body`` (or ``Arguments``).
    """
    if request.content_type != CLIXML:
        if not _is_json(request.content_type):
            sent = request.headers.get("Content-Type", "none")
            raise web.HTTPUnsupportedMediaType(
                text=f"Send the body as application/json or {CLIXML} (Content-Type was {sent})."
            )
        body = await parse_body(request, CreateTaskBody)
        return body.to_spec(), body.wait_seconds()
    raw = await request.read()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TaskValidationError("body", f"not UTF-8 ({exc.reason} at byte {exc.start})") from None
    if not text.strip():
        raise TaskValidationError("body", "a CliXml document is required")
    fields, arguments_clixml = await decode_create_body(text)
    body = validate_fields(fields, CreateTaskBody)
    return body.to_spec(arguments_clixml), body.wait_seconds()


def validate_fields(data: dict[str, Any], model: type[M]) -> M:
    """Validate a decoded body's fields as ``model`` (field names case-insensitive).

    Raises:
        BodyValidationError: a field is missing, unknown or of the wrong type; lists every fault.
    """
    try:
        return model.model_validate(_canonical_keys(data, model))
    except ValidationError as exc:
        errors = []
        for err in exc.errors(include_url=False):
            loc = [str(p) for p in err["loc"]]
            field = loc[0] if loc else "body"
            message = err["msg"]
            if err["type"] == "extra_forbidden":
                message = "unknown field"
            elif message.startswith("Value error, "):
                message = message.removeprefix("Value error, ")
            if len(loc) > 1:  # inside the field: name the key or item, e.g. Arguments key '1bad'
                where = f"key {loc[1]!r}" if loc[-1] == "[key]" else "item " + ".".join(loc[1:])
                message = f"{where}: {message}"
            errors.append({"field": field, "message": message})
        raise BodyValidationError(errors) from None


_INTEGER = re.compile(r"-?[0-9]+")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
"""Query numbers as JSON writes them (RFC 8259 §6): no spaces, underscores, signs of +, or non-ASCII digits."""


class Query:
    """A request's query string with case-insensitive names (``State=`` and ``state=`` alike).

    Getters raise :class:`TaskValidationError` naming the parameter (as documented, PascalCase) on bad values.
    """

    def __init__(self, request: web.Request) -> None:
        self._values = {k.lower(): v for k, v in request.query.items()}

    def get_str(self, name: str) -> str | None:
        """The raw value, or None when absent."""
        return self._values.get(name.lower())

    def _typed(self, name: str) -> str | None:
        """The raw value of a typed parameter: None when absent; an empty value is refused (400)."""
        raw = self.get_str(name)
        if raw == "":
            raise TaskValidationError(name, "a value is required (leave the parameter out for the default)")
        return raw

    def get_int(self, name: str, *, minimum: int = 0, maximum: int | None = None) -> int | None:
        """An integer in ``[minimum, maximum]`` written in ASCII digits, or None when absent."""
        raw = self._typed(name)
        if raw is None:
            return None
        if not _INTEGER.fullmatch(raw):
            raise TaskValidationError(name, f"an integer is required, not '{raw}'")
        value = int(raw)
        if value < minimum or (maximum is not None and value > maximum):
            bound = f"between {minimum} and {maximum}" if maximum is not None else f"at least {minimum}"
            raise TaskValidationError(name, f"must be {bound}")
        return value

    def get_float(self, name: str, *, minimum: float = 0.0) -> float | None:
        """A finite number ≥ ``minimum`` written as a JSON number (RFC 8259 §6), or None when absent."""
        raw = self._typed(name)
        if raw is None:
            return None
        if not _NUMBER.fullmatch(raw):
            raise TaskValidationError(name, f"a number is required, not '{raw}'")
        value = float(raw)
        if not value >= minimum or math.isinf(value):
            raise TaskValidationError(name, f"must be a finite number of at least {minimum:g}")
        return value

    def get_bool(self, name: str, default: bool = False) -> bool:
        """``true`` or ``false`` in any letter case (PowerShell writes ``True``); ``default`` when absent."""
        raw = self._typed(name)
        if raw is None:
            return default
        if raw.lower() not in ("true", "false"):
            raise TaskValidationError(name, f"true or false is required, not '{raw}'")
        return raw.lower() == "true"

    def state(self, name: str = "State") -> str | None:
        """A task state name, case-insensitive, returned in its canonical form (``running`` → ``Running``)."""
        raw = self._typed(name)
        if raw is None:
            return None
        for state in TaskState:
            if state.value.lower() == raw.lower():
                return state.value
        raise TaskValidationError(name, f"unknown state '{raw}' (expected one of {', '.join(TaskState)})")

    def language(self, name: str = "Language") -> str | None:
        """A language name or alias, returned canonical (``cs`` → ``CSharp``)."""
        raw = self._typed(name)
        if raw is None:
            return None
        try:
            return Language.parse(raw).value
        except ValueError as exc:
            raise TaskValidationError(name, str(exc)) from None
