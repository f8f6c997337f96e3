"""The component schemas of the OpenAPI document: records, request bodies, problems and events.

Records come from the typed model's TypedDicts (:mod:`krtasks.models`) and request bodies from the pydantic
models that validate them (:mod:`krtasks.web.inputs`), so names, enums and limits are the code's own. Two
rewrites make pydantic's output say exactly what the server does:

- ``patternProperties`` (which lets other keys through) becomes ``propertyNames`` with
  ``additionalProperties`` (JSON Schema 2020-12 §10.3.2.4): keys that do not match are refused, as the
  server refuses them;
- generated ``title`` members (``"Autostart"``) and ``default: null`` are dropped; descriptions stay.

Server-Sent Events are described as OpenAPI 3.1 reads a ``text/event-stream`` schema: one event
``{event, data, id}``, ``data`` being a string whose ``contentMediaType``/``contentSchema`` (JSON Schema
2020-12 §8) give the JSON inside, one alternative per event kind.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import JsonSchemaMode

from ..models import (
    LoginCodeJson,
    NodeJson,
    OverviewJson,
    ProgressEventJson,
    RemovedEventJson,
    ServerStateEventJson,
    StreamEventJson,
    StreamPageJson,
    TaskDefinitionJson,
    TaskRecordJson,
    TaskResultJson,
    TaskRunJson,
)
from .inputs import CreateTaskBody, RenameTaskBody

_TYPED: dict[str, Any] = {
    "TaskRecord": TaskRecordJson,
    "TaskRun": TaskRunJson,
    "TaskResult": TaskResultJson,
    "StreamRecords": StreamPageJson,
    "ProgressEvent": ProgressEventJson,
    "StreamEvent": StreamEventJson,
    "ServerStateEvent": ServerStateEventJson,
    "RemovedEvent": RemovedEventJson,
    "TaskDefinition": TaskDefinitionJson,
    "Overview": OverviewJson,
    "LoginCode": LoginCodeJson,
    "Node": NodeJson,
}
"""Schemas generated from the typed model, under these names."""


def ref(name: str) -> dict[str, str]:
    """A reference to the component schema ``name``."""
    return {"$ref": f"#/components/schemas/{name}"}


def _typed_schemas() -> dict[str, Any]:
    """The JSON schemas of the record types, nested types as components of their own (named without the
    ``Json`` suffix of their TypedDicts)."""
    inputs: list[tuple[str, JsonSchemaMode, TypeAdapter[Any]]] = [
        (name, "serialization", TypeAdapter(t)) for name, t in _TYPED.items()
    ]
    keys, defs = TypeAdapter.json_schemas(inputs, ref_template="#/components/schemas/{model}")
    text = json.dumps(defs["$defs"])
    for name in {name.removesuffix("Json") for name in defs["$defs"]}:
        text = text.replace(f'"#/components/schemas/{name}Json"', f'"#/components/schemas/{name}"')
    schemas: dict[str, Any] = {k.removesuffix("Json"): _strict(v) for k, v in json.loads(text).items()}
    for (name, _mode), target_ref in keys.items():
        target = target_ref["$ref"].rsplit("/", 1)[1].removesuffix("Json")
        if target != name:
            schemas[name] = schemas.pop(target)
    return schemas


def _strict(schema: Any) -> Any:
    """``schema`` with ``patternProperties`` turned into ``propertyNames``; ``title`` members and null defaults
    (absent is the default) dropped."""
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {
        key: _strict(value)
        for key, value in schema.items()
        if key != "title" and not (key == "default" and value is None)
    }
    patterns = out.pop("patternProperties", None)
    if patterns:
        [(pattern, values)] = patterns.items()
        out["propertyNames"] = {"pattern": pattern}
        out["additionalProperties"] = values
    return out


def request_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON schema of a request body model, as strict as the model."""
    result: dict[str, Any] = _strict(model.model_json_schema(by_alias=True))
    return result


_DIAGNOSTIC = {
    "type": "object",
    "properties": {
        "Id": {"type": "string", "description": "The compiler's code, e.g. CS1002."},
        "Severity": {"type": "string"},
        "Message": {"type": "string"},
        "Line": {"type": ["integer", "null"], "description": "1-based line in the task's code."},
        "Column": {"type": ["integer", "null"]},
    },
    "required": ["Id", "Severity", "Message", "Line", "Column"],
}

PROBLEM: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details; `type` is a stable URN (urn:krtasks:problem:<kind>).",
    "properties": {
        "type": {"type": "string", "pattern": "^urn:krtasks:problem:[a-z-]+$"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "field": {"type": "string", "description": "400 and 422: the request field at fault."},
        "errors": {
            "type": "array",
            "description": "400 (body validation): every field at fault.",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                "required": ["field", "message"],
            },
        },
        "diagnostics": {"type": "array", "description": "422 compile error: compiler messages.", "items": _DIAGNOSTIC},
        "requestId": {"type": "string", "description": "500: the id the error was logged under."},
    },
    "required": ["type", "title", "status", "detail"],
}

HEALTH: dict[str, Any] = {
    "type": "object",
    "properties": {
        "Status": {"type": "string", "const": "Healthy"},
        "Version": {"type": "string"},
        "Isolation": {"type": "string", "enum": ["process", "thread"]},
    },
    "required": ["Status", "Version", "Isolation"],
}


def sse_event(kind: str, payload: str, description: str) -> dict[str, Any]:
    """One Server-Sent Event: ``event: <kind>``, a decimal ``id`` and one line of JSON data described by the
    component schema ``payload``."""
    return {
        "type": "object",
        "description": description,
        "properties": {
            "event": {"const": kind},
            "id": {"type": "string", "pattern": "^[0-9]+$"},
            "data": {"type": "string", "contentMediaType": "application/json", "contentSchema": ref(payload)},
            "retry": {"type": "integer", "minimum": 0},
        },
        "required": ["event", "id", "data"],
    }


def component_schemas() -> dict[str, Any]:
    """Every schema under ``components/schemas``."""
    return {
        **_typed_schemas(),
        "Health": HEALTH,
        "Problem": PROBLEM,
        "CreateTask": request_schema(CreateTaskBody),
        "RenameTask": request_schema(RenameTaskBody),
        "TaskEvent": {
            "description": "An event of GET /api/v1/tasks/{id}/events.",
            "oneOf": [
                sse_event("state", "TaskRecord", "The task's record: first, then on every state change."),
                sse_event("progress", "ProgressEvent", "New progress (Write-Progress, TaskProgress)."),
                sse_event("stream", "StreamEvent", "One record of a PowerShell stream or a console line."),
            ],
        },
        "ServerEvent": {
            "description": "An event of GET /api/v1/events (every task).",
            "oneOf": [
                sse_event("created", "TaskRecord", "A new task's record."),
                sse_event("state", "ServerStateEvent", "A task's record after a state change, with PreviousState."),
                sse_event("progress", "ProgressEvent", "A task's new progress."),
                sse_event("removed", "RemovedEvent", "A removed task (one per task of a removed subtree)."),
            ],
        },
    }
