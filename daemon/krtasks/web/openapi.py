"""The OpenAPI 3.1 description of the REST API, next to the routes.

A test compares its paths and methods with the registered routes and calls each one, so the document
cannot drift from the code. Request-body schemas come from the pydantic models that validate them, and
response schemas from the typed model's TypedDicts (:mod:`krtasks.models`), so field names and enums are
the code's own.
"""

from __future__ import annotations

import copy
import functools
import json
from typing import Any

from pydantic import TypeAdapter
from pydantic.json_schema import JsonSchemaMode

from .. import __version__
from ..core.listing import SortKey
from ..models import (
    LoginCodeJson,
    OverviewJson,
    ProgressEventJson,
    RemovedEventJson,
    ServerStateEventJson,
    StreamEventJson,
    StreamPageJson,
    TaskDefinitionJson,
    TaskRecordJson,
    TaskResultJson,
    TaskState,
)
from .inputs import CreateTaskBody, RenameTaskBody
from .ui.sessions import CSRF_HEADER, SESSION_COOKIE

_JSON = "application/json"
_PROBLEM = "application/problem+json"

_TYPED: dict[str, Any] = {
    "TaskRecord": TaskRecordJson,
    "TaskResult": TaskResultJson,
    "StreamRecords": StreamPageJson,
    "ProgressEvent": ProgressEventJson,
    "StreamEvent": StreamEventJson,
    "ServerStateEvent": ServerStateEventJson,
    "RemovedEvent": RemovedEventJson,
    "TaskDefinition": TaskDefinitionJson,
    "Overview": OverviewJson,
    "LoginCode": LoginCodeJson,
}
"""Schemas generated from the typed model (:mod:`krtasks.models`), under these names."""


def _typed_schemas() -> dict[str, Any]:
    """The JSON schemas of the record types, with nested types as components of their own (named without
    the ``Json`` suffix of their TypedDicts)."""
    inputs: list[tuple[str, JsonSchemaMode, TypeAdapter[Any]]] = [
        (name, "serialization", TypeAdapter(t)) for name, t in _TYPED.items()
    ]
    keys, defs = TypeAdapter.json_schemas(inputs, ref_template="#/components/schemas/{model}")
    text = json.dumps(defs["$defs"])
    names = {name.removesuffix("Json") for name in defs["$defs"]}
    for name in names:
        text = text.replace(f'"#/components/schemas/{name}Json"', f'"#/components/schemas/{name}"')
    schemas: dict[str, Any] = {k.removesuffix("Json"): v for k, v in json.loads(text).items()}
    for (name, _mode), ref in keys.items():
        target = ref["$ref"].rsplit("/", 1)[1].removesuffix("Json")
        if target != name:
            schemas[name] = schemas.pop(target)
    return schemas


_SCHEMAS: dict[str, Any] = {
    "Health": {
        "type": "object",
        "properties": {
            "Status": {"type": "string"},
            "Version": {"type": "string"},
            "Isolation": {"type": "string", "enum": ["process", "thread"]},
        },
        "required": ["Status", "Version", "Isolation"],
    },
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details.",
        "properties": {
            "type": {"type": "string", "format": "uri"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "field": {"type": "string", "description": "400: the request field at fault."},
            "errors": {"type": "array", "items": {"type": "object"}},
            "diagnostics": {
                "type": "array",
                "description": "422: compiler messages.",
                "items": {
                    "type": "object",
                    "properties": {
                        "Id": {"type": "string"},
                        "Severity": {"type": "string"},
                        "Message": {"type": "string"},
                        "Line": {"type": ["integer", "null"]},
                        "Column": {"type": ["integer", "null"]},
                    },
                },
            },
            "requestId": {"type": "string"},
        },
        "required": ["type", "title", "status", "detail"],
    },
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _ok(
    description: str, schema: dict[str, Any], media: str = _JSON, headers: dict[str, Any] | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description, "content": {media: {"schema": schema}}}
    if headers:
        out["headers"] = headers
    return out


def _problems(*statuses: int) -> dict[str, Any]:
    text = {
        400: "Invalid field or malformed JSON",
        401: "Missing or wrong bearer token (or an ended dashboard session)",
        403: "A dashboard session's request without its X-CSRF-Token header",
        404: "Unknown task id",
        409: "Wrong state for this request",
        413: "Body over the size limit",
        415: "Body is not JSON",
        422: "The code does not compile",
    }
    return {str(s): {"description": text[s], "content": {_PROBLEM: {"schema": _ref("Problem")}}} for s in statuses}


_ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "string"},
    "description": "Task id (case-insensitive).",
}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description + " Query names are case-insensitive.",
    }


def _build() -> dict[str, Any]:
    record = _ok("The task record", _ref("TaskRecord"))
    paths: dict[str, Any] = {
        "/api/v1/health": {
            "get": {
                "operationId": "getHealth",
                "summary": "Liveness and version (no token needed).",
                "security": [],
                "responses": {"200": _ok("The daemon answers", _ref("Health"))},
            }
        },
        "/api/v1/openapi.json": {
            "get": {
                "operationId": "getOpenApi",
                "summary": "This document.",
                "responses": {"200": _ok("OpenAPI 3.1 document", {"type": "object"}), **_problems(401)},
            }
        },
        "/api/v1/tasks": {
            "post": {
                "operationId": "createTask",
                "summary": "Create a task (and start it with AutoStart).",
                "requestBody": {"required": True, "content": {_JSON: {"schema": _ref("CreateTask")}}},
                "responses": {
                    "201": _ok(
                        "Created",
                        _ref("TaskRecord"),
                        headers={"Location": {"schema": {"type": "string"}, "description": "URL of the new task."}},
                    ),
                    **_problems(400, 401, 403, 409, 413, 415, 422),
                },
            },
            "get": {
                "operationId": "listTasks",
                "summary": "Tasks, filtered, ordered (newest first by default) and paged (keyset or offset).",
                "parameters": [
                    _query("State", {"type": "string", "enum": [s.value for s in TaskState]}, "Only this state."),
                    _query("Language", {"type": "string"}, "Only this language (PowerShell, CSharp, VBNet)."),
                    _query("Name", {"type": "string"}, "Name pattern; * and ? wildcards, case-insensitive."),
                    _query("ParentId", {"type": "string"}, "Only children of this task (empty: root tasks)."),
                    _query(
                        "CreatedAfter",
                        {"type": "string", "format": "date-time"},
                        "Only tasks created at or after this time (RFC 3339; other ISO 8601 forms without an "
                        "offset are UTC).",
                    ),
                    _query("CreatedBefore", {"type": "string", "format": "date-time"}, "Only tasks created before."),
                    _query(
                        "Sort",
                        {"type": "string", "enum": [k.value for k in SortKey], "default": "created"},
                        "Order by creation, StartedAt, Duration or Name; ties in creation order; tasks without "
                        "the value (not started, not finished) last.",
                    ),
                    _query("Order", {"type": "string", "enum": ["asc", "desc"], "default": "desc"}, "Direction."),
                    _query(
                        "Cursor",
                        {"type": "string", "pattern": "^[A-Za-z0-9_-]*$"},
                        "Keyset paging: the X-Next-Cursor of the previous page, with the same Sort and Order "
                        "(a cursor the API did not give out, or of another order, is refused with 400). Pages "
                        "after a cursor cost what the first page costs.",
                    ),
                    _query("Limit", {"type": "integer", "minimum": 0}, "At most this many records."),
                    _query(
                        "Offset", {"type": "integer", "minimum": 0}, "Skip this many records first (after the Cursor)."
                    ),
                ],
                "responses": {
                    "200": _ok(
                        "Records",
                        {"type": "array", "items": _ref("TaskRecord")},
                        headers={
                            "X-Total-Count": {"schema": {"type": "integer"}, "description": "Matches before paging."},
                            "X-Next-Cursor": {
                                "schema": {"type": "string"},
                                "description": "Cursor of the next page; absent on the last page.",
                            },
                            "Link": {
                                "schema": {"type": "string"},
                                "description": 'RFC 8288 link to the next page (rel="next"); absent on the last page.',
                            },
                        },
                    ),
                    **_problems(400, 401),
                },
            },
        },
        "/api/v1/tasks/{id}": {
            "parameters": [_ID],
            "get": {
                "operationId": "getTask",
                "summary": "One task.",
                "responses": {"200": record, **_problems(401, 404)},
            },
            "patch": {
                "operationId": "renameTask",
                "summary": "Set Name and/or Description (blank values refused).",
                "requestBody": {"required": True, "content": {_JSON: {"schema": _ref("RenameTask")}}},
                "responses": {"200": record, **_problems(400, 401, 403, 404, 413, 415)},
            },
            "delete": {
                "operationId": "removeTask",
                "summary": "Remove a task and its children.",
                "parameters": [_query("Force", {"type": "boolean"}, "Cancel a running task first and wait.")],
                "responses": {"204": {"description": "Removed"}, **_problems(400, 401, 403, 404, 409)},
            },
        },
        "/api/v1/tasks/{id}/start": {
            "parameters": [_ID],
            "post": {
                "operationId": "startTask",
                "summary": "Start a NotStarted task (Running, or Queued when slots are busy).",
                "responses": {"202": _ok("Started", _ref("TaskRecord")), **_problems(401, 403, 404, 409)},
            },
        },
        "/api/v1/tasks/{id}/cancel": {
            "parameters": [_ID],
            "post": {
                "operationId": "cancelTask",
                "summary": "Cancel a task that has not finished.",
                "responses": {"202": _ok("Cancel issued", _ref("TaskRecord")), **_problems(401, 403, 404, 409)},
            },
        },
        "/api/v1/tasks/{id}/result": {
            "parameters": [_ID],
            "get": {
                "operationId": "getTaskResult",
                "summary": "Output and error of a finished task.",
                "responses": {"200": _ok("The result", _ref("TaskResult")), **_problems(401, 404, 409)},
            },
        },
        "/api/v1/tasks/{id}/streams": {
            "parameters": [_ID],
            "get": {
                "operationId": "getTaskStreams",
                "summary": "Error, Warning, Verbose, Debug and Information records.",
                "parameters": [_query("Since", {"type": "integer", "minimum": 0}, "First record index to return.")],
                "responses": {"200": _ok("Records", _ref("StreamRecords")), **_problems(400, 401, 404)},
            },
        },
        "/api/v1/tasks/{id}/definition": {
            "parameters": [_ID],
            "get": {
                "operationId": "getTaskDefinition",
                "summary": "What the task was created with: Code, Language, Arguments and settings.",
                "responses": {"200": _ok("The definition", _ref("TaskDefinition")), **_problems(401, 404)},
            },
        },
        "/api/v1/tasks/{id}/wait": {
            "parameters": [_ID],
            "get": {
                "operationId": "waitTask",
                "summary": "The record once finished, or after Timeout seconds.",
                "parameters": [_query("Timeout", {"type": "number", "minimum": 0}, "Seconds to wait at most.")],
                "responses": {"200": record, **_problems(400, 401, 404)},
            },
        },
        "/api/v1/tasks/{id}/events": {
            "parameters": [_ID],
            "get": {
                "operationId": "getTaskEvents",
                "summary": "Server-Sent Events: state (record), progress ({Id, Progress}), stream (record); "
                "ends after the final state.",
                "responses": {
                    "200": _ok("Event stream", {"type": "string"}, media="text/event-stream"),
                    "204": {"description": "Reconnect (Last-Event-ID) to a finished task: nothing more to send."},
                    **_problems(401, 404),
                },
            },
        },
        "/api/v1/events": {
            "get": {
                "operationId": "getServerEvents",
                "summary": "Server-Sent Events of every task from now on: created (TaskRecord), state "
                "(ServerStateEvent: the record plus PreviousState), progress (ProgressEvent), removed "
                "(RemovedEvent, one per task of a removed subtree). Each event's id numbers the change; "
                "compare it with EventSeq of the overview. No replay on reconnect; the stream ends at shutdown "
                "or when the client lags too far behind.",
                "responses": {
                    "200": _ok("Event stream", {"type": "string"}, media="text/event-stream"),
                    **_problems(401),
                },
            },
        },
        "/api/v1/overview": {
            "get": {
                "operationId": "getOverview",
                "summary": "The daemon at a glance: counts by state, runs per minute, queue, slots, workers, "
                "store size, retention, as of server-wide event EventSeq.",
                "responses": {"200": _ok("The overview", _ref("Overview")), **_problems(401)},
            },
        },
        "/api/v1/ui/login-codes": {
            "post": {
                "operationId": "createLoginCode",
                "summary": "A one-time code for the dashboard: GET /ui/login?code=... opens a session (once, within "
                "60 s). `krtasks ui` prints the link.",
                "responses": {"201": _ok("The code", _ref("LoginCode")), **_problems(401, 403)},
            },
        },
        "/metrics": {
            "get": {
                "operationId": "getMetrics",
                "summary": "Prometheus metrics (text exposition format).",
                "responses": {"200": _ok("Metrics", {"type": "string"}, media="text/plain"), **_problems(401)},
            }
        },
    }
    schemas = {**_typed_schemas(), **copy.deepcopy(_SCHEMAS)}
    schemas["CreateTask"] = CreateTaskBody.model_json_schema(by_alias=True)
    schemas["RenameTask"] = RenameTaskBody.model_json_schema(by_alias=True)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "KrTasks API",
            "version": __version__,
            "description": "Run PowerShell, C# and VB.NET code as background tasks. Errors are RFC 9457 "
            "problem details (application/problem+json).",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"session": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The token from the state dir (`krtasks token`).",
                },
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": SESSION_COOKIE,
                    "description": "The dashboard's session (opened at /ui/login). With it, POST, PUT, PATCH and "
                    f"DELETE also need the session's {CSRF_HEADER} header (403 otherwise). Not for the tutorial "
                    "routes.",
                },
            },
        },
    }


@functools.cache
def _cached() -> dict[str, Any]:
    return _build()


def openapi_document() -> dict[str, Any]:
    """A fresh copy of the OpenAPI 3.1 document (built once, copied so callers may modify it)."""
    return copy.deepcopy(_cached())
