"""Request ids and error handling: every failure leaves the daemon as a problem (RFC 9457), never a traceback."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import uuid

from aiohttp import web
from aiohttp.typedefs import Handler

from ..errors import TaskError
from .problems import http_error_response, problem_response, task_error_response

log = logging.getLogger("krtasks.http")

REQUEST_ID_HEADER = "X-Request-Id"
"""Response header carrying the request's id (also in log lines and 500 problems)."""

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("krtasks_request_id", default="-")
"""The id of the request being handled (``-`` outside requests); read by the log formatter."""


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every log record (the current request's id, or ``-``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Attach the id; never drops a record."""
        record.request_id = request_id_var.get()
        return True


@web.middleware
async def problems_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Give the request an id and turn every exception into a problem+json response.

    - :class:`~krtasks.errors.TaskError` → its status (400/404/409/422) with its detail;
    - aiohttp's HTTP errors (404 route, 405, 413, ...) → the same status as a problem;
    - anything else → logged with the request id and answered 500 without internals.
    A response already streaming (Server-Sent Events) cannot be replaced: its errors are only logged.
    """
    request_id = uuid.uuid4().hex[:16]
    request_id_var.set(request_id)
    try:
        response = await handler(request)
    except TaskError as exc:
        response = task_error_response(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        response = http_error_response(exc)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("Unexpected error while handling %s %s (request %s)", request.method, request.path, request_id)
        response = problem_response(
            500,
            f"An unexpected error occurred; it was logged under request id {request_id}.",
            requestId=request_id,
        )
    if not response.prepared:
        response.headers[REQUEST_ID_HEADER] = request_id
    return response
