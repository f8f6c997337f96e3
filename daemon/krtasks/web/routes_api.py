"""REST API v1 under ``/api/v1`` (records PascalCase, as the service returns them) and ``/metrics``.

The service runs mutating commands to their end even when a client hangs up mid-request; handlers only
await them. Refusals and bad input arrive as :class:`~krtasks.errors.TaskError` and the problems
middleware answers them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from .. import __version__
from ..clixml import CLIXML, DEFAULT_DEPTH, encode_result, wants_clixml
from ..core.listing import SortKey, TaskQuery
from ..errors import TaskValidationError
from ..models import LoginCodeJson
from .context import SERVICE, SESSIONS
from .events import server_events, task_events
from .inputs import Query, RenameTaskBody, parse_body, parse_create_body
from .jsonio import json_response
from .openapi import openapi_document
from .ui.sessions import CODE_SECONDS

if TYPE_CHECKING:
    from ..core.service import TaskService

API = "/api/v1"
"""Prefix of every API route."""

routes = web.RouteTableDef()


def _task_url(task_id: str) -> str:
    return f"{API}/tasks/{quote(task_id, safe='')}"


@routes.get(API + "/health")
async def health(request: web.Request) -> web.Response:
    """``{Status: "Healthy", Version, Isolation}``; the one route that needs no token."""
    isolation = request.app[SERVICE].config.isolation
    return json_response({"Status": "Healthy", "Version": __version__, "Isolation": isolation})


@routes.get(API + "/nodes")
async def list_nodes(request: web.Request) -> web.Response:
    """The daemons serving this task set: the nodes of a shared store (id, host, started, last heartbeat,
    slots, running), or this daemon alone."""
    return json_response(await request.app[SERVICE].nodes())


@routes.get(API + "/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    """The OpenAPI 3.1 description of these routes."""
    return json_response(openapi_document())


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    """Prometheus text exposition of the service's registry."""
    body = generate_latest(request.app[SERVICE].metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


@routes.post(API + "/tasks")
async def create_task(request: web.Request) -> web.Response:
    """Create a task: 201 + record + ``Location``; 400 invalid field, 409 id taken, 422 compile error (with
    ``diagnostics``) or a request that cannot be carried out (a missing parent or directory).

    With ``Wait`` (one call): the task starts, and the answer comes once it has finished (201 + record +
    ``Output``; with ``Accept: application/clixml+xml``, the result as CliXml) or when the wait ran out
    (202 + record; the task goes on)."""
    spec, wait = await parse_create_body(request)
    service = request.app[SERVICE]
    if wait is None:
        record = await service.create(spec)
        return json_response(record, status=201, headers={"Location": _task_url(record["Id"])})
    record, result = await service.run(spec, wait)
    headers = {"Location": _task_url(record["Id"])}
    if result is None:
        return json_response(record, status=202, headers=headers)
    if wants_clixml(request.headers.get("Accept", "")):
        return await _clixml_result(service, record["Id"], dict(result), status=201, headers=headers)
    return json_response({**record, "Output": result["Output"]}, status=201, headers=headers)


async def _clixml_result(
    service: TaskService, task_id: str, result: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    """A finished task's result as CliXml (its own CliXml output when it kept one)."""
    data = service.data(task_id)
    text = await encode_result(result, data.output_clixml, data.clixml_depth or DEFAULT_DEPTH)
    return web.Response(text=text, status=status, content_type=CLIXML, charset="utf-8", headers=headers)


SORTS = tuple(k.value for k in SortKey)
"""Values of ``Sort``."""

ORDERS = ("asc", "desc")
"""Values of ``Order``."""


@routes.get(API + "/tasks")
async def list_tasks(request: web.Request) -> web.Response:
    """Records filtered by State, Language, Name (wildcards * ?), ParentId and CreatedAfter/CreatedBefore,
    ordered by ``Sort`` (created, started, duration, name) and ``Order`` (desc, the default, or asc), paged by
    ``Cursor`` (keyset) and/or Offset, at most ``Limit``. ``X-Total-Count`` holds the number of matches
    before paging; when more follow, ``X-Next-Cursor`` and ``Link: <...>; rel="next"`` give the next page."""
    query = Query(request)
    page = request.app[SERVICE].page(
        TaskQuery.parse(
            query.state(),
            query.language(),
            name=query.get_str("Name") or None,
            parent_id=query.get_str("ParentId"),
            created_after=query.get_datetime("CreatedAfter"),
            created_before=query.get_datetime("CreatedBefore"),
            sort=SortKey(query.get_choice("Sort", SORTS) or SortKey.CREATED),
            descending=query.get_choice("Order", ORDERS) != "asc",
            cursor=query.get_str("Cursor") or None,
            offset=query.get_int("Offset") or 0,
            limit=query.get_int("Limit"),
        )
    )
    headers = {"X-Total-Count": str(page.total)}
    if page.next_cursor is not None:
        kept = [(k, v) for k, v in request.query.items() if k.lower() not in ("cursor", "offset")]
        following = request.rel_url.with_query([*kept, ("Cursor", page.next_cursor)])
        headers["X-Next-Cursor"] = page.next_cursor
        headers["Link"] = f'<{following}>; rel="next"'
    return json_response(page.records, headers=headers)


@routes.get(API + "/overview")
async def overview(request: web.Request) -> web.Response:
    """The daemon at a glance: counts by state, run history, slots, workers, store, settings (see
    :class:`~krtasks.models.OverviewJson`)."""
    return json_response(request.app[SERVICE].overview())


@routes.get(API + "/tasks/{id}")
async def get_task(request: web.Request) -> web.Response:
    """One record; 404 if unknown."""
    await request.app[SERVICE].known(request.match_info["id"])
    return json_response(request.app[SERVICE].get(request.match_info["id"]))


@routes.patch(API + "/tasks/{id}")
async def rename_task(request: web.Request) -> web.Response:
    """Set Name and/or Description (blank values refused, 400); the updated record."""
    body = await parse_body(request, RenameTaskBody)
    if body.name is None and body.description is None:
        raise TaskValidationError("Name", "give Name, Description or both")
    record = await request.app[SERVICE].rename(request.match_info["id"], name=body.name, description=body.description)
    return json_response(record)


@routes.delete(API + "/tasks/{id}")
async def remove_task(request: web.Request) -> web.Response:
    """204 when removed (with its children); 409 while it or a descendant runs, unless ``Force=true``
    (which cancels, waits for the end, then removes)."""
    force = Query(request).get_bool("Force")
    await request.app[SERVICE].remove(request.match_info["id"], force=force)
    return web.Response(status=204)


@routes.post(API + "/tasks/{id}/start")
async def start_task(request: web.Request) -> web.Response:
    """202 + record (Running, or Queued when every slot is busy); 409 unless the task is NotStarted."""
    return json_response(await request.app[SERVICE].start(request.match_info["id"]), status=202)


@routes.post(API + "/tasks/{id}/cancel")
async def cancel_task(request: web.Request) -> web.Response:
    """202 + record once the cancel is issued (the task may still be Stopping); 409 if already finished."""
    return json_response(await request.app[SERVICE].cancel(request.match_info["id"]), status=202)


@routes.get(API + "/tasks/{id}/result")
async def task_result(request: web.Request) -> web.Response:
    """``{Id, CreatedAt, State, Output, Error}``; 409 while the task has not finished. With ``Accept:
    application/clixml+xml``, the same as CliXml (PowerShell's serialisation: typed output)."""
    service = request.app[SERVICE]
    task_id = request.match_info["id"]
    await service.known(task_id)
    result = service.result(task_id)
    if not wants_clixml(request.headers.get("Accept", "")):
        return json_response(result)
    return await _clixml_result(service, task_id, dict(result))


@routes.get(API + "/tasks/{id}/streams")
async def task_streams(request: web.Request) -> web.Response:
    """``{Records: [{Index, Stream, Message, Time}], Next}``: stream records with Index ≥ ``Since``."""
    since = Query(request).get_int("Since") or 0
    await request.app[SERVICE].known(request.match_info["id"])
    return json_response(request.app[SERVICE].streams(request.match_info["id"], since=since))


@routes.get(API + "/tasks/{id}/definition")
async def task_definition(request: web.Request) -> web.Response:
    """What the task was created with: Code, Language, Arguments and the other settings."""
    return json_response(request.app[SERVICE].definition(request.match_info["id"]))


@routes.get(API + "/tasks/{id}/wait")
async def wait_task(request: web.Request) -> web.Response:
    """The record as soon as the task finishes, or the current one after ``Timeout`` seconds (absent: no
    limit). The task keeps running either way."""
    timeout = Query(request).get_float("Timeout")
    return json_response(await request.app[SERVICE].wait(request.match_info["id"], timeout=timeout))


@routes.post(API + "/ui/login-codes")
async def create_login_code(request: web.Request) -> web.Response:
    """201 ``{Code, Url, ExpiresInSeconds}``: a code that opens a dashboard session once, within 60 s
    (``krtasks ui`` prints the link). Without authentication (``--auth none``) the dashboard needs none."""
    code = request.app[SESSIONS].issue_code()
    answer: LoginCodeJson = {"Code": code, "Url": f"/ui/login?code={code}", "ExpiresInSeconds": CODE_SECONDS}
    return json_response(answer, status=201)


routes.get(API + "/tasks/{id}/events")(task_events)
routes.get(API + "/events")(server_events)
