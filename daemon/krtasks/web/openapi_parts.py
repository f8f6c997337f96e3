"""The building blocks of the OpenAPI document (:mod:`krtasks.web.openapi`): media types, the problem
responses of each status, the request-id and Location headers, the task-id path parameter, query
parameters, the security requirement, the links from a task record to the per-task operations, and the
create request's examples."""

from __future__ import annotations

from typing import Any

from ..core.validation import MAX_ID_LENGTH
from ..models import NO_CONTROL, TaskState, case_insensitive
from .openapi_schemas import ref
from .ui.sessions import CSRF_HEADER

JSON = "application/json"
PROBLEM = "application/problem+json"
SSE = "text/event-stream"

PROBLEM_TEXT = {
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

REQUEST_ID = {
    "description": "The request's id, also in the daemon's log lines.",
    "required": True,
    "schema": {"type": "string", "pattern": "^[0-9a-f]{16}$"},
}


def response_headers(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """A response's headers: X-Request-Id plus ``extra``."""
    return {"X-Request-Id": {"$ref": "#/components/headers/RequestId"}, **(extra or {})}


def ok(
    description: str,
    schema: dict[str, Any] | None = None,
    media: str = JSON,
    headers: dict[str, Any] | None = None,
    links: dict[str, Any] | None = None,
    more: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A success response: ``schema`` under ``media`` (and ``more`` media types), headers and links."""
    out: dict[str, Any] = {"description": description, "headers": response_headers(headers)}
    if schema is not None:
        out["content"] = {media: {"schema": schema}, **(more or {})}
    if links:
        out["links"] = links
    return out


def problems(*statuses: int) -> dict[str, Any]:
    """Problem responses for ``statuses``, plus 500 (every operation can fail unexpectedly)."""
    out: dict[str, Any] = {}
    for status in (*statuses, 500):
        response: dict[str, Any] = {
            "description": PROBLEM_TEXT[status],
            "headers": response_headers(),
            "content": {PROBLEM: {"schema": ref("Problem")}},
        }
        if status == 401:
            response["headers"]["WWW-Authenticate"] = {
                "description": 'The challenge: Bearer realm="krtasks" (RFC 6750 §3).',
                "required": True,
                "schema": {"type": "string", "pattern": "^Bearer "},
            }
        out[str(status)] = response
    return out


ID_PARAMETER = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH, "pattern": NO_CONTROL},
    "description": "Task id (case-insensitive; percent-encoded in the path).",
}

LOCATION = {
    "Location": {
        "description": "Path of the task.",
        "required": True,
        "schema": {"type": "string", "pattern": "^/api/v1/tasks/"},
    }
}

SECURED: list[dict[str, list[str]]] = [{"bearer": []}, {"session": []}]


def query(name: str, schema: dict[str, Any], description: str, example: Any = None) -> dict[str, Any]:
    """An optional query parameter (names are case-insensitive)."""
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


STATE_PATTERN = "^(?:" + "|".join(case_insensitive(s.value) for s in TaskState) + ")$"

PER_TASK = {
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


CREATE_EXAMPLES = {
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


def links(*operations: str) -> dict[str, Any]:
    """Links to per-task operations with the task id from the response's record (OpenAPI 3.1 §4.8.20)."""
    return {
        op: {"operationId": op, "parameters": {"id": "$response.body#/Id"}, "description": PER_TASK[op]}
        for op in operations
    }


def operation(operation_id: str, summary: str, responses: dict[str, Any], **more: Any) -> dict[str, Any]:
    """An operation that needs the bearer token or a dashboard session."""
    return {"operationId": operation_id, "summary": summary, "security": SECURED, "responses": responses, **more}
