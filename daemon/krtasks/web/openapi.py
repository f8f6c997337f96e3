"""The OpenAPI 3.1 description of the REST API, next to the routes.

The document is the contract the contract test (schemathesis, ``tests/python/test_api_contract.py``) holds
the server to: every status an operation can answer, with its media type and headers; request bodies as
strict as the server; links from ``createTask`` to the per-task operations. A unit test compares its paths
and methods with the registered routes. Schemas live in :mod:`krtasks.web.openapi_schemas`.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

from .. import __version__
from ..clixml import CLIXML
from ..core.listing import SortKey
from ..core.validation import MAX_ID_LENGTH
from ..models import LANGUAGE_PATTERN, NO_CONTROL, TaskState, case_insensitive
from .openapi_schemas import component_schemas, ref
from .ui.sessions import CSRF_HEADER, SESSION_COOKIE

_JSON = "application/json"
_PROBLEM = "application/problem+json"
_SSE = "text/event-stream"

_PROBLEM_TEXT = {
    400: "Malformed request: a field or parameter the document refuses (`field` and `errors` name them)",
    401: "Missing or wrong bearer token, or an ended dashboard session (with WWW-Authenticate)",
    403: f"A dashboard session's request without its {CSRF_HEADER} header",
    404: "No task with this id",
    409: "The task's state does not allow this (or the id is taken)",
    413: "Body over the size limit (1 MiB by default)",
    415: "Body of a media type the operation does not take",
    422: "Well formed, but not possible: the code does not compile (`diagnostics`), or a named parent or "
    "directory does not exist, or a field needs process isolation, or a listing cursor was not given out",
    500: "Unexpected error, logged under `requestId`",
}

_REQUEST_ID = {
    "description": "The request's id, also in the daemon's log lines.",
    "required": True,
    "schema": {"type": "string", "pattern": "^[0-9a-f]{16}$"},
}


def _headers(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"X-Request-Id": {"$ref": "#/components/headers/RequestId"}, **(extra or {})}


def _ok(
    description: str,
    schema: dict[str, Any] | None = None,
    media: str = _JSON,
    headers: dict[str, Any] | None = None,
    links: dict[str, Any] | None = None,
    more: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description, "headers": _headers(headers)}
    if schema is not None:
        out["content"] = {media: {"schema": schema}, **(more or {})}
    if links:
        out["links"] = links
    return out


def _problems(*statuses: int) -> dict[str, Any]:
    """Problem responses for ``statuses``, plus 500 (every operation can fail unexpectedly)."""
    out: dict[str, Any] = {}
    for status in (*statuses, 500):
        response: dict[str, Any] = {
            "description": _PROBLEM_TEXT[status],
            "headers": _headers(),
            "content": {_PROBLEM: {"schema": ref("Problem")}},
        }
        if status == 401:
            response["headers"]["WWW-Authenticate"] = {
                "description": 'The challenge: Bearer realm="krtasks" (RFC 6750 §3).',
                "required": True,
                "schema": {"type": "string", "pattern": "^Bearer "},
            }
        out[str(status)] = response
    return out


_ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH, "pattern": NO_CONTROL},
    "description": "Task id (case-insensitive; percent-encoded in the path).",
}

_LOCATION = {
    "Location": {
        "description": "Path of the task.",
        "required": True,
        "schema": {"type": "string", "pattern": "^/api/v1/tasks/"},
    }
}

_SECURED: list[dict[str, list[str]]] = [{"bearer": []}, {"session": []}]


def _query(name: str, schema: dict[str, Any], description: str, example: Any = None) -> dict[str, Any]:
    out = {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description + " Parameter names are case-insensitive.",
    }
    if example is not None:
        out["example"] = example
    return out


_STATE_PATTERN = "^(?:" + "|".join(case_insensitive(s.value) for s in TaskState) + ")$"

_PER_TASK = {
    "getTask": "One task.",
    "renameTask": "Rename it.",
    "removeTask": "Remove it.",
    "startTask": "Start it.",
    "cancelTask": "Cancel it.",
    "getTaskResult": "Its result, once finished.",
    "getTaskStreams": "Its stream records.",
    "waitTask": "Wait for its end.",
    "getTaskEvents": "Follow its events.",
    "getTaskDefinition": "What it was created with.",
}


_CREATE_EXAMPLES = {
    "powershell": {
        "summary": "PowerShell with an argument, started at once",
        "value": {"Code": '"Hello, $Name"', "Arguments": {"Name": "World"}, "AutoStart": True, "Name": "hello"},
    },
    "csharp": {
        "summary": "A C# snippet: its last expression is the result",
        "value": {"Language": "CSharp", "Code": "return N * (N + 1) / 2;", "Arguments": {"N": 10}, "AutoStart": True},
    },
    "one-call": {
        "summary": "Run and get the result in one call (201 with Output, or 202 after 10 s)",
        "value": {"Code": "Get-Date -AsUTC", "Wait": 10},
    },
    "timeout": {
        "summary": "Created, not started; stopped after 30 s once started",
        "value": {"Code": "Start-Sleep -Seconds 1; 'done'", "TimeoutSeconds": 30},
    },
}


def _links(*operations: str) -> dict[str, Any]:
    """Links to per-task operations with the task id from the response's record (OpenAPI 3.1 §4.8.20)."""
    return {
        op: {"operationId": op, "parameters": {"id": "$response.body#/Id"}, "description": _PER_TASK[op]}
        for op in operations
    }


def _operation(operation_id: str, summary: str, responses: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"operationId": operation_id, "summary": summary, "security": _SECURED, "responses": responses, **more}


def _build() -> dict[str, Any]:
    record = _ok("The task record", ref("TaskRecord"))
    json_body = {
        "required": True,
        "content": {
            _JSON: {
                "schema": ref("RenameTask"),
                "examples": {"rename": {"value": {"Name": "nightly report", "Description": "Sums the day's logs."}}},
            }
        },
    }
    paths: dict[str, Any] = {
        "/api/v1/health": {
            "get": {
                "operationId": "getHealth",
                "summary": "Liveness, version and isolation mode (no token needed).",
                "security": [],
                "responses": {"200": _ok("The daemon answers", ref("Health")), **_problems()},
            }
        },
        "/api/v1/openapi.json": {
            "get": _operation(
                "getOpenApi",
                "This document.",
                {"200": _ok("OpenAPI 3.1 document", {"type": "object"}), **_problems(401)},
            )
        },
        "/api/v1/tasks": {
            "post": _operation(
                "createTask",
                "Create a task (and start it with AutoStart); with Wait, run it and answer with its result in one "
                "call. As CliXml (application/clixml+xml): a hashtable of the same fields, whose Arguments keep "
                "their .NET types.",
                {
                    "201": _ok(
                        "Created; with Wait, finished: the record and its Output (as CliXml: the result, with "
                        "Accept: application/clixml+xml)",
                        ref("TaskRun"),
                        headers=_LOCATION,
                        links=_links(*_PER_TASK),
                        more={CLIXML: {"schema": {"type": "string", "description": "The result as CliXml."}}},
                    ),
                    "202": _ok(
                        "Wait ran out: the task goes on (its record)",
                        ref("TaskRecord"),
                        headers=_LOCATION,
                        links=_links(*_PER_TASK),
                    ),
                    **_problems(400, 401, 403, 409, 413, 415, 422),
                },
                requestBody={
                    "required": True,
                    "content": {
                        _JSON: {"schema": ref("CreateTask"), "examples": _CREATE_EXAMPLES},
                        CLIXML: {
                            "schema": {
                                "type": "string",
                                "description": "PowerShell CliXml (Export-Clixml) of a hashtable of CreateTask's "
                                "fields.",
                            }
                        },
                    },
                },
            ),
            "get": _operation(
                "listTasks",
                "Tasks, filtered, ordered (newest first by default) and paged (keyset or offset).",
                {
                    "200": _ok(
                        "Records",
                        {"type": "array", "items": ref("TaskRecord")},
                        headers={
                            "X-Total-Count": {
                                "description": "Matches before paging.",
                                "required": True,
                                "schema": {"type": "string", "pattern": "^[0-9]+$"},
                            },
                            "X-Next-Cursor": {
                                "description": "Cursor of the next page; absent on the last page.",
                                "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]+$"},
                            },
                            "Link": {
                                "description": 'RFC 8288 link to the next page (rel="next"); absent on the last page.',
                                "schema": {"type": "string", "pattern": '^<.+>; rel="next"$'},
                            },
                        },
                    ),
                    **_problems(400, 401, 422),
                },
                parameters=[
                    _query("State", {"type": "string", "pattern": _STATE_PATTERN}, "Only this state.", "Completed"),
                    _query(
                        "Language",
                        {"type": "string", "pattern": LANGUAGE_PATTERN},
                        "Only this language (PowerShell, CSharp, VBNet or an alias).",
                    ),
                    _query("Name", {"type": "string"}, "Name pattern; * and ? wildcards, case-insensitive."),
                    _query("ParentId", {"type": "string"}, "Only children of this task (empty: root tasks)."),
                    _query(
                        "CreatedAfter",
                        {"type": "string", "format": "date-time"},
                        "Only tasks created at or after this time (RFC 3339).",
                        "2026-11-29T10:00:00Z",
                    ),
                    _query("CreatedBefore", {"type": "string", "format": "date-time"}, "Only tasks created before."),
                    _query(
                        "Sort",
                        {
                            "type": "string",
                            "pattern": "^(?:" + "|".join(case_insensitive(k.value) for k in SortKey) + ")$",
                        },
                        "Order by creation (the default), StartedAt, Duration or Name; ties in creation order; tasks "
                        "without the value (not started, not finished) last.",
                        "created",
                    ),
                    _query(
                        "Order",
                        {
                            "type": "string",
                            "pattern": "^(?:" + case_insensitive("asc") + "|" + case_insensitive("desc") + ")$",
                        },
                        "Direction: desc (the default) or asc.",
                    ),
                    _query(
                        "Cursor",
                        {"type": "string", "pattern": "^[A-Za-z0-9_-]*$"},
                        "Keyset paging: the X-Next-Cursor of the previous page, with the same Sort and Order (a "
                        "cursor the API did not give out, or of another order, is refused with 422). Pages after a "
                        "cursor cost what the first page costs.",
                    ),
                    _query("Limit", {"type": "integer", "minimum": 0}, "At most this many records.", 20),
                    _query(
                        "Offset", {"type": "integer", "minimum": 0}, "Skip this many records first (after the Cursor)."
                    ),
                ],
            ),
        },
        "/api/v1/tasks/{id}": {
            "parameters": [_ID],
            "get": _operation("getTask", "One task.", {"200": record, **_problems(401, 404)}),
            "patch": _operation(
                "renameTask",
                "Set Name and/or Description (blank values refused).",
                {"200": record, **_problems(400, 401, 403, 404, 413, 415)},
                requestBody=json_body,
            ),
            "delete": _operation(
                "removeTask",
                "Remove a task and its children.",
                {"204": _ok("Removed"), **_problems(400, 401, 403, 404, 409)},
                parameters=[
                    _query(
                        "Force",
                        {
                            "type": "string",
                            "pattern": "^(?:" + case_insensitive("true") + "|" + case_insensitive("false") + ")$",
                        },
                        "true (any letter case): cancel a running task and its children first, and wait.",
                    )
                ],
            ),
        },
        "/api/v1/tasks/{id}/start": {
            "parameters": [_ID],
            "post": _operation(
                "startTask",
                "Start a NotStarted task (Running, or Queued when slots are busy).",
                {
                    "202": _ok("Started", ref("TaskRecord"), links=_links("cancelTask", "waitTask", "getTaskEvents")),
                    **_problems(401, 403, 404, 409),
                },
            ),
        },
        "/api/v1/tasks/{id}/cancel": {
            "parameters": [_ID],
            "post": _operation(
                "cancelTask",
                "Cancel a task that has not finished.",
                {"202": _ok("Cancel issued", ref("TaskRecord")), **_problems(401, 403, 404, 409)},
            ),
        },
        "/api/v1/tasks/{id}/result": {
            "parameters": [_ID],
            "get": _operation(
                "getTaskResult",
                "Output and error of a finished task; as CliXml with Accept: application/clixml+xml.",
                {
                    "200": _ok(
                        "The result",
                        ref("TaskResult"),
                        more={CLIXML: {"schema": {"type": "string", "description": "The result as CliXml."}}},
                    ),
                    **_problems(401, 404, 409),
                },
            ),
        },
        "/api/v1/tasks/{id}/streams": {
            "parameters": [_ID],
            "get": _operation(
                "getTaskStreams",
                "Error, Warning, Verbose, Debug and Information records.",
                {"200": _ok("Records", ref("StreamRecords")), **_problems(400, 401, 404)},
                parameters=[_query("Since", {"type": "integer", "minimum": 0}, "First record index to return.")],
            ),
        },
        "/api/v1/tasks/{id}/definition": {
            "parameters": [_ID],
            "get": _operation(
                "getTaskDefinition",
                "What the task was created with: Code, Language, Arguments and settings.",
                {"200": _ok("The definition", ref("TaskDefinition")), **_problems(401, 404)},
            ),
        },
        "/api/v1/tasks/{id}/wait": {
            "parameters": [_ID],
            "get": _operation(
                "waitTask",
                "The record once finished, or after Timeout seconds.",
                {"200": record, **_problems(400, 401, 404)},
                parameters=[_query("Timeout", {"type": "number", "minimum": 0}, "Seconds to wait at most.", 0.1)],
            ),
        },
        "/api/v1/tasks/{id}/events": {
            "parameters": [_ID],
            "get": _operation(
                "getTaskEvents",
                "Server-Sent Events (one schema per event kind); ends after the final state.",
                {
                    "200": _ok("Event stream", ref("TaskEvent"), media=_SSE),
                    "204": _ok("Reconnect (Last-Event-ID) to a finished task: nothing more to send."),
                    **_problems(401, 404),
                },
            ),
        },
        "/api/v1/events": {
            "get": _operation(
                "getServerEvents",
                "Server-Sent Events of every task from now on: created, state (with PreviousState), progress, "
                "removed (one per task of a removed subtree). Each event's id numbers the change; compare it with "
                "the overview's EventSeq. No replay on reconnect; the stream ends at shutdown or when the client "
                "lags too far behind.",
                {"200": _ok("Event stream", ref("ServerEvent"), media=_SSE), **_problems(401)},
            )
        },
        "/api/v1/overview": {
            "get": _operation(
                "getOverview",
                "The daemon at a glance: counts by state, runs per minute, queue, slots, workers, store size, "
                "retention, as of server-wide event EventSeq.",
                {"200": _ok("The overview", ref("Overview")), **_problems(401)},
            )
        },
        "/api/v1/ui/login-codes": {
            "post": _operation(
                "createLoginCode",
                "A one-time code for the dashboard: GET /ui/login?code=... opens a session (once, within 60 s). "
                "`krtasks ui` prints the link.",
                {"201": _ok("The code", ref("LoginCode")), **_problems(401, 403)},
            )
        },
        "/api/v1/nodes": {
            "get": _operation(
                "listNodes",
                "The daemons serving this task set: the nodes registered in a shared PostgreSQL store (a node "
                "leaves when it stops, or after 10 leases without a heartbeat), or this daemon alone.",
                {"200": _ok("Nodes, by id", {"type": "array", "items": ref("Node")}), **_problems(401)},
            )
        },
        "/metrics": {
            "get": _operation(
                "getMetrics",
                "Prometheus metrics (text exposition format 0.0.4).",
                {"200": _ok("Metrics", {"type": "string"}, media="text/plain"), **_problems(401)},
            )
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "KrTasks API",
            "version": __version__,
            "description": "Run PowerShell, C# and VB.NET code as background tasks. Errors are RFC 9457 "
            "problem details (application/problem+json).",
        },
        "servers": [{"url": "/"}],
        "security": _SECURED,
        "paths": paths,
        "components": {
            "schemas": component_schemas(),
            "headers": {"RequestId": _REQUEST_ID},
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
