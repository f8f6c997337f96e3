"""``GET /api/v1/tasks/{id}/events``: a task's life as Server-Sent Events (WHATWG HTML §9.2).

Each event is ``event: <kind>`` / ``id: <n>`` / ``data: <one-line JSON>``:

- ``state``: the full task record; always the first event, then on every state change;
- ``progress``: ``{Id, Progress}``;
- ``stream``: ``{Id, Index, Stream, Message, Time}`` (one PowerShell stream record / console line).

The stream ends after the ``state`` event of a finished state (Completed, Failed, Stopped). A client that
reconnects (``Last-Event-ID`` header) to a finished task gets 204 No Content, which tells an EventSource
to stop reconnecting (HTML §9.2.3). Comments (``: ping``) keep idle connections alive every 15 s.
"""

from __future__ import annotations

import contextlib
import logging

from aiohttp import web
from aiohttp_sse import sse_response

from ..errors import TaskError
from ..models import FINISHED, TaskState
from .context import SERVICE
from .jsonio import dumps
from .middleware import REQUEST_ID_HEADER, request_id_var

log = logging.getLogger(__name__)

PING_SECONDS = 15.0
"""Interval of keep-alive comments on an idle stream."""


async def task_events(request: web.Request) -> web.StreamResponse:
    """Stream the task's events until its final state (404 problem first if the id is unknown)."""
    service = request.app[SERVICE]
    task_id = request.match_info["id"]
    await service.known(task_id)
    record = service.get(task_id)  # TaskNotFoundError → 404 before anything is streamed
    if request.headers.get("Last-Event-ID") is not None and TaskState(record["State"]) in FINISHED:
        return web.Response(status=204, headers={REQUEST_ID_HEADER: request_id_var.get()})
    counter = 0
    iterator = service.events(task_id)
    async with sse_response(
        request, ping_interval=PING_SECONDS, headers={REQUEST_ID_HEADER: request_id_var.get()}
    ) as resp:
        try:
            async for kind, data in iterator:
                counter += 1
                await resp.send(dumps(data), event=kind, id=str(counter))
        except TaskError as exc:
            # Headers are gone already: the task vanished (removed) mid-stream; end the stream quietly.
            log.info("Event stream of task %s ended early: %s", task_id, exc.detail)
        except (ConnectionResetError, TimeoutError):
            log.debug("Event stream client of task %s went away", task_id)
        finally:
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()
    return resp
