"""The OpenAPI 3.1 description of the REST API, next to the routes.

The document is the contract the contract test (schemathesis, ``tests/python/test_api_contract.py``) holds
the server to: every status an operation can answer, with its media type and headers; request bodies as
strict as the server; links from ``createTask`` to the per-task operations. A unit test compares its paths
and methods with the registered routes. Schemas live in :mod:`krtasks.web.openapi_schemas`, the building blocks in
:mod:`krtasks.web.openapi_parts`.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

from .. import __version__
from ..clixml import CLIXML
from ..core.listing import SortKey
from ..models import LANGUAGE_PATTERN, case_insensitive
from . import openapi_parts as doc
from .openapi_schemas import component_schemas, ref
from .ui.sessions import CSRF_HEADER, SESSION_COOKIE


def _build() -> dict[str, Any]:
    record = doc.ok("The task record", ref("TaskRecord"))
    json_body = {
        "required": True,
        "content": {
            doc.JSON: {
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
                "responses": {"200": doc.ok("The daemon answers", ref("Health")), **doc.problems()},
            }
        },
        "/api/v1/openapi.json": {
            "get": doc.operation(
                "getOpenApi",
                "This document.",
                {"200": doc.ok("OpenAPI 3.1 document", {"type": "object"}), **doc.problems(401)},
            )
        },
        "/api/v1/tasks": {
            "post": doc.operation(
                "createTask",
                "Create a task (and start it with AutoStart); with Wait, run it and answer with its result in one "
                "call. As CliXml (application/clixml+xml): a hashtable of the same fields, whose Arguments keep "
                "their .NET types.",
                {
                    "201": doc.ok(
                        "Created; with Wait, finished: the record and its Output (as CliXml: the result, with "
                        "Accept: application/clixml+xml)",
                        ref("TaskRun"),
                        headers=doc.LOCATION,
                        links=doc.links(*doc.PER_TASK),
                        more={CLIXML: {"schema": {"type": "string", "description": "The result as CliXml."}}},
                    ),
                    "202": doc.ok(
                        "Wait ran out: the task goes on (its record)",
                        ref("TaskRecord"),
                        headers=doc.LOCATION,
                        links=doc.links(*doc.PER_TASK),
                    ),
                    **doc.problems(400, 401, 403, 409, 413, 415, 422),
                },
                requestBody={
                    "required": True,
                    "content": {
                        doc.JSON: {"schema": ref("CreateTask"), "examples": doc.CREATE_EXAMPLES},
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
            "get": doc.operation(
                "listTasks",
                "Tasks, filtered, ordered (newest first by default) and paged (keyset or offset).",
                {
                    "200": doc.ok(
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
                    **doc.problems(400, 401, 422),
                },
                parameters=[
                    doc.query(
                        "State", {"type": "string", "pattern": doc.STATE_PATTERN}, "Only this state.", "Completed"
                    ),
                    doc.query(
                        "Language",
                        {"type": "string", "pattern": LANGUAGE_PATTERN},
                        "Only this language (PowerShell, CSharp, VBNet or an alias).",
                    ),
                    doc.query("Name", {"type": "string"}, "Name pattern; * and ? wildcards, case-insensitive."),
                    doc.query("ParentId", {"type": "string"}, "Only children of this task (empty: root tasks)."),
                    doc.query(
                        "CreatedAfter",
                        {"type": "string", "format": "date-time"},
                        "Only tasks created at or after this time (RFC 3339).",
                        "2026-11-29T10:00:00Z",
                    ),
                    doc.query("CreatedBefore", {"type": "string", "format": "date-time"}, "Only tasks created before."),
                    doc.query(
                        "Sort",
                        {
                            "type": "string",
                            "pattern": "^(?:" + "|".join(case_insensitive(k.value) for k in SortKey) + ")$",
                        },
                        "Order by creation (the default), StartedAt, Duration or Name; ties in creation order; tasks "
                        "without the value (not started, not finished) last.",
                        "created",
                    ),
                    doc.query(
                        "Order",
                        {
                            "type": "string",
                            "pattern": "^(?:" + case_insensitive("asc") + "|" + case_insensitive("desc") + ")$",
                        },
                        "Direction: desc (the default) or asc.",
                    ),
                    doc.query(
                        "Cursor",
                        {"type": "string", "pattern": "^[A-Za-z0-9_-]*$"},
                        "Keyset paging: the X-Next-Cursor of the previous page, with the same Sort and Order (a "
                        "cursor the API did not give out, or of another order, is refused with 422). Pages after a "
                        "cursor cost what the first page costs.",
                    ),
                    doc.query("Limit", {"type": "integer", "minimum": 0}, "At most this many records.", 20),
                    doc.query(
                        "Offset", {"type": "integer", "minimum": 0}, "Skip this many records first (after the Cursor)."
                    ),
                ],
            ),
        },
        "/api/v1/tasks/{id}": {
            "parameters": [doc.ID_PARAMETER],
            "get": doc.operation("getTask", "One task.", {"200": record, **doc.problems(401, 404)}),
            "patch": doc.operation(
                "renameTask",
                "Set Name and/or Description (blank values refused).",
                {"200": record, **doc.problems(400, 401, 403, 404, 413, 415)},
                requestBody=json_body,
            ),
            "delete": doc.operation(
                "removeTask",
                "Remove a task and its children.",
                {"204": doc.ok("Removed"), **doc.problems(400, 401, 403, 404, 409)},
                parameters=[
                    doc.query(
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
            "parameters": [doc.ID_PARAMETER],
            "post": doc.operation(
                "startTask",
                "Start a NotStarted task (Running, or Queued when slots are busy).",
                {
                    "202": doc.ok(
                        "Started", ref("TaskRecord"), links=doc.links("cancelTask", "waitTask", "getTaskEvents")
                    ),
                    **doc.problems(401, 403, 404, 409),
                },
            ),
        },
        "/api/v1/tasks/{id}/cancel": {
            "parameters": [doc.ID_PARAMETER],
            "post": doc.operation(
                "cancelTask",
                "Cancel a task that has not finished.",
                {"202": doc.ok("Cancel issued", ref("TaskRecord")), **doc.problems(401, 403, 404, 409)},
            ),
        },
        "/api/v1/tasks/{id}/result": {
            "parameters": [doc.ID_PARAMETER],
            "get": doc.operation(
                "getTaskResult",
                "Output and error of a finished task; as CliXml with Accept: application/clixml+xml.",
                {
                    "200": doc.ok(
                        "The result",
                        ref("TaskResult"),
                        more={CLIXML: {"schema": {"type": "string", "description": "The result as CliXml."}}},
                    ),
                    **doc.problems(401, 404, 409),
                },
            ),
        },
        "/api/v1/tasks/{id}/streams": {
            "parameters": [doc.ID_PARAMETER],
            "get": doc.operation(
                "getTaskStreams",
                "Error, Warning, Verbose, Debug and Information records.",
                {"200": doc.ok("Records", ref("StreamRecords")), **doc.problems(400, 401, 404)},
                parameters=[doc.query("Since", {"type": "integer", "minimum": 0}, "First record index to return.")],
            ),
        },
        "/api/v1/tasks/{id}/definition": {
            "parameters": [doc.ID_PARAMETER],
            "get": doc.operation(
                "getTaskDefinition",
                "What the task was created with: Code, Language, Arguments and settings.",
                {"200": doc.ok("The definition", ref("TaskDefinition")), **doc.problems(401, 404)},
            ),
        },
        "/api/v1/tasks/{id}/wait": {
            "parameters": [doc.ID_PARAMETER],
            "get": doc.operation(
                "waitTask",
                "The record once finished, or after Timeout seconds.",
                {"200": record, **doc.problems(400, 401, 404)},
                parameters=[doc.query("Timeout", {"type": "number", "minimum": 0}, "Seconds to wait at most.", 0.1)],
            ),
        },
        "/api/v1/tasks/{id}/events": {
            "parameters": [doc.ID_PARAMETER],
            "get": doc.operation(
                "getTaskEvents",
                "Server-Sent Events (one schema per event kind); ends after the final state.",
                {
                    "200": doc.ok("Event stream", ref("TaskEvent"), media=doc.SSE),
                    "204": doc.ok("Reconnect (Last-Event-ID) to a finished task: nothing more to send."),
                    **doc.problems(401, 404),
                },
            ),
        },
        "/api/v1/events": {
            "get": doc.operation(
                "getServerEvents",
                "Server-Sent Events of every task from now on: created, state (with PreviousState), progress, "
                "removed (one per task of a removed subtree). Each event's id numbers the change; compare it with "
                "the overview's EventSeq. No replay on reconnect; the stream ends at shutdown or when the client "
                "lags too far behind.",
                {"200": doc.ok("Event stream", ref("ServerEvent"), media=doc.SSE), **doc.problems(401)},
            )
        },
        "/api/v1/overview": {
            "get": doc.operation(
                "getOverview",
                "The daemon at a glance: counts by state, runs per minute, queue, slots, workers, store size, "
                "retention, as of server-wide event EventSeq.",
                {"200": doc.ok("The overview", ref("Overview")), **doc.problems(401)},
            )
        },
        "/api/v1/ui/login-codes": {
            "post": doc.operation(
                "createLoginCode",
                "A one-time code for the dashboard: GET /ui/login?code=... opens a session (once, within 60 s). "
                "`krtasks ui` prints the link.",
                {"201": doc.ok("The code", ref("LoginCode")), **doc.problems(401, 403)},
            )
        },
        "/api/v1/nodes": {
            "get": doc.operation(
                "listNodes",
                "The daemons serving this task set: the nodes registered in a shared PostgreSQL store (a node "
                "leaves when it stops, or after 10 leases without a heartbeat), or this daemon alone.",
                {"200": doc.ok("Nodes, by id", {"type": "array", "items": ref("Node")}), **doc.problems(401)},
            )
        },
        "/metrics": {
            "get": doc.operation(
                "getMetrics",
                "Prometheus metrics (text exposition format 0.0.4).",
                {"200": doc.ok("Metrics", {"type": "string"}, media="text/plain"), **doc.problems(401)},
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
        "security": doc.SECURED,
        "paths": paths,
        "components": {
            "schemas": component_schemas(),
            "headers": {"RequestId": doc.REQUEST_ID},
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
