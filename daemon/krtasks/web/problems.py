"""Errors as ``application/problem+json`` (RFC 9457 "Problem Details for HTTP APIs").

Every error response of the daemon is a problem object ``{type, title, status, detail}`` plus, where they
apply, ``field`` (400: the request field at fault), ``errors`` (400: every invalid field),
``diagnostics`` (422: compiler messages) and ``requestId`` (500: the id under which the error was logged).
``type`` is a URN naming the kind of problem (RFC 9457 §3.1.1 allows non-resolvable URIs), stable for
clients to switch on.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from ..errors import (
    CompileError,
    TaskConflictError,
    TaskError,
    TaskNotFoundError,
    TaskUnprocessableError,
    TaskValidationError,
)

PROBLEM_JSON = "application/problem+json"
"""Media type of problem documents (RFC 9457 §3)."""

TYPE_PREFIX = "urn:krtasks:problem:"
"""Prefix of every problem ``type``."""

_TYPES: dict[int, tuple[str, str]] = {
    400: ("invalid-request", "Invalid request"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    409: ("conflict", "Conflict with the task's state"),
    413: ("payload-too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("compile-error", "Compilation failed"),
    500: ("internal-error", "Internal server error"),
}

_TASK_TYPES: dict[type[TaskError], str] = {
    TaskNotFoundError: "task-not-found",
    TaskConflictError: "conflict",
    TaskUnprocessableError: "unprocessable",
    TaskValidationError: "invalid-request",
    CompileError: "compile-error",
}
"""Problem type slugs by error class (the first match wins: subclasses before their bases)."""


def problem_type(slug: str) -> str:
    """The full ``type`` URI for a problem slug, e.g. ``urn:krtasks:problem:task-not-found``."""
    return TYPE_PREFIX + slug


def problem_response(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    slug: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> web.Response:
    """Build a problem+json response with ``status``; ``extra`` members are added as they are (JSON values)."""
    default_slug, default_title = _TYPES.get(status, ("http-error", "HTTP error"))
    body: dict[str, Any] = {
        "type": problem_type(slug or default_slug),
        "title": title or default_title,
        "status": status,
        "detail": detail,
    }
    body.update(extra)
    return web.Response(
        status=status, text=json.dumps(body, ensure_ascii=False), content_type=PROBLEM_JSON, headers=headers
    )


class BodyValidationError(TaskValidationError):
    """A request body failed validation; ``errors`` lists every fault as ``{field, message}`` (HTTP 400)."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        first = errors[0]
        super().__init__(first["field"], first["message"])
        self.errors = errors


def task_error_response(exc: TaskError) -> web.Response:
    """Map a service error to its problem response (status from the exception class).

    ``TaskValidationError`` adds ``field`` (and ``errors`` for body validation); ``CompileError`` adds
    ``diagnostics``.
    """
    slug = next((s for cls, s in _TASK_TYPES.items() if isinstance(exc, cls)), None)
    extra: dict[str, Any] = {}
    if isinstance(exc, TaskValidationError):
        extra["field"] = exc.field
        if isinstance(exc, BodyValidationError):
            extra["errors"] = exc.errors
    if isinstance(exc, CompileError):
        extra["diagnostics"] = exc.diagnostics
    return problem_response(exc.status, exc.detail, title=exc.title, slug=slug, **extra)


def http_error_response(exc: web.HTTPException) -> web.Response:
    """Turn one of aiohttp's own HTTP errors (unknown route, wrong method, body too large) into a problem."""
    status = exc.status
    headers = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "www-authenticate")}
    if status == 404:
        detail = "No such route. The API lives under /api/v1 (see /api/v1/openapi.json)."
        return problem_response(404, detail, slug="route-not-found", title="Route not found", headers=headers)
    if status == 413:
        return problem_response(413, f"The request body is too large: {exc.text}", headers=headers)
    if status == 405:
        allowed = headers.get("Allow", "")
        return problem_response(405, f"This route does not accept that method (allowed: {allowed}).", headers=headers)
    detail = exc.text or exc.reason
    return problem_response(status, detail, title=exc.reason, headers=headers)
