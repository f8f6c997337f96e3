"""Server-Sent Events (WHATWG HTML §9.2): a task's life, and every task's changes.

``GET /api/v1/tasks/{id}/events``, one task:

Each event is ``event: <kind>`` / ``id: <n>`` / ``data: <one-line JSON>``:

- ``state``: the full task record; always the first event, then on every state change;
- ``progress``: ``{Id, Progress}``;
- ``stream``: ``{Id, Index, Stream, Message, Time}`` (one PowerShell stream record / console line).

The stream ends after the ``state`` event of a finished state (Completed, Failed, Stopped). A client that
reconnects (``Last-Event-ID`` header) to a finished task gets 204 No Content, which tells an EventSource
to stop reconnecting (HTML §9.2.3).

``GET /api/v1/events``, the whole daemon from the moment of the request on, ``id`` being the change's number
(compare with ``EventSeq`` of ``GET /api/v1/overview``):

- ``created``: the new task's record; ``state``: the record after a state change plus ``PreviousState``;
- ``progress``: ``{Id, Progress}``; ``removed``: ``{Id, State, ParentId, CompletedAt}`` per task removed.

It ends at shutdown, or when the client reads so slowly that more than
:data:`~krtasks.core.hub.FEED_LIMIT` events wait for it; a reconnecting client gets the events from then on
(no replay: read the overview again). Comments (``: ping``) keep idle connections alive every 15 s.
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


async def server_events(request: web.Request) -> web.StreamResponse:
    """Stream every task's created/state/progress/removed events until shutdown (or the client lags)."""
    subscription = request.app[SERVICE].feed()  # subscribed before the answer starts: nothing falls between
    try:
        async with sse_response(
            request, ping_interval=PING_SECONDS, headers={REQUEST_ID_HEADER: request_id_var.get()}
        ) as resp:
            try:
                async for seq, kind, data in subscription:
                    await resp.send(dumps(data), event=kind, id=str(seq))
            except (ConnectionResetError, TimeoutError):
                log.debug("A server-wide event stream client went away")
    finally:
        await subscription.aclose()
    return resp
