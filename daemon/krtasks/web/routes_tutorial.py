"""The ten GET routes of Kestrun's Tasks tutorial (``--tutorial-routes``; always on in ``krtasks demo``).

Routes, status codes, keys, error texts and task scripts follow Kestrun's ``20.1-Task.ps1`` as described in
``shared/reference/kestrun-tasks.md``, so that the tutorial's "Try it" and Kestrun clients work as written.
``/tasks/state`` and ``/tasks/list`` answer records shaped as Kestrun serves them (State as the enum number,
``+00:00`` times, Duration as a TimeSpan object; see :mod:`.kestrun_json`), ``/tasks/result`` the unrolled
output. Failures answer ``{error}`` or the route's ``{<verb>: false, id}`` body, not problem+json. Query
names are case-insensitive, as in ASP.NET Core.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from ..errors import TaskConflictError, TaskNotFoundError
from ..models import Language, TaskSpec
from .context import SERVICE
from .inputs import Query
from .jsonio import json_response
from .kestrun_json import kestrun_output, kestrun_record

PS_LOOP = """\
for ($i = 1; $i -le $sec; $i++) {
    if ($i -lt $sec) {
        $TaskProgress.StatusMessage = "Sleeping ($i/$sec)"
        $TaskProgress.PercentComplete = [int][math]::Floor(($i - 1) * 100 / $sec)
    }
    Start-Sleep -Seconds 1
}
$TaskProgress.Complete('Completed')
"""

PS_SCRIPT = PS_LOOP + "'PS task done at ' + (Get-Date).ToString('o')\n"
"""``/tasks/create/ps``: ``$sec`` one-second sleeps, progress while ``i < sec``, then reports the time."""

PS_RUN_SCRIPT = PS_LOOP + "Get-Date\n"
"""``/tasks/run/ps``: the same loop, then the current date as the output."""

CS_SCRIPT = """\
for (var i = 1; i <= 5; i++)
{
    TaskProgress.StatusMessage = $"Working {i}/5";
    TaskProgress.PercentComplete = (i - 1) * 20;
    await Task.Delay(total / 5);
}
TaskProgress.Complete("Completed");
return "CS task done at " + DateTime.UtcNow.ToString("o");
"""
"""``/tasks/create/cs``: five ``Task.Delay(total / 5)`` steps without the token (a cancel lets it finish; it
ends Stopped and keeps its result), then reports the UTC time."""

MISSING_ID = "Missing 'id' query parameter"
NOT_FOUND = "Task not found"
NOT_COMPLETED = "Task is not in a completed state"

HELLO = "Hello, Tasks World!"

routes = web.RouteTableDef()


def _positive_int(request: web.Request, name: str, default: int) -> int:
    """The query value as an int, ``default`` when missing, unparsable or ≤ 0 (Kestrun's leniency)."""
    try:
        value = int(Query(request).get_str(name) or "")
    except ValueError:
        return default
    return value if value > 0 else default


def _required_id(request: web.Request) -> str | None:
    """The ``id`` query value as given (ids may have spaces at either end), None when missing or blank."""
    value = Query(request).get_str("id")
    return value if value is not None and value.strip() else None


def _missing_id() -> web.Response:
    return json_response({"error": MISSING_ID}, status=400)


@routes.get("/tasks/create/ps")
async def create_ps(request: web.Request) -> web.Response:
    """Create (not start) the PowerShell loop for ``seconds`` (≤ 0 or missing → 2): ``{id, language}``."""
    seconds = _positive_int(request, "seconds", 2)
    spec = TaskSpec(code=PS_SCRIPT, language=Language.POWERSHELL, arguments={"sec": seconds})
    record = await request.app[SERVICE].create(spec)
    return json_response({"id": record["Id"], "language": Language.POWERSHELL.value})


@routes.get("/tasks/create/cs")
async def create_cs(request: web.Request) -> web.Response:
    """Create (not start) the C# task for ``ms`` milliseconds (≤ 0 or missing → 1500): ``{id, language}``."""
    total = _positive_int(request, "ms", 1500)
    spec = TaskSpec(code=CS_SCRIPT, language=Language.CSHARP, arguments={"total": total})
    record = await request.app[SERVICE].create(spec)
    return json_response({"id": record["Id"], "language": Language.CSHARP.value})


async def _verb(
    request: web.Request, key: str, action: Callable[[str], Awaitable[object]], ok: int, refused: int
) -> web.Response:
    """Shared shape of start/cancel/remove: ``{<key>: bool, id}`` with ``ok`` or ``refused`` (also for an
    unknown id); 400 ``{error}`` without an id."""
    task_id = _required_id(request)
    if task_id is None:
        return _missing_id()
    try:
        await action(task_id)
        done = True
    except (TaskNotFoundError, TaskConflictError):
        done = False
    return json_response({key: done, "id": task_id}, status=ok if done else refused)


@routes.get("/tasks/start")
async def start(request: web.Request) -> web.Response:
    """202 ``{started: true, id}``; 409 ``{started: false, id}`` when unknown or not NotStarted; 400 no id."""
    return await _verb(request, "started", request.app[SERVICE].start, 202, 409)


@routes.get("/tasks/state")
async def state(request: web.Request) -> web.Response:
    """200 the task record (Kestrun's shape); 404 ``{error}`` when unknown; 400 no id."""
    task_id = _required_id(request)
    if task_id is None:
        return _missing_id()
    try:
        await request.app[SERVICE].known(task_id)
        return json_response(kestrun_record(request.app[SERVICE].get(task_id)))
    except TaskNotFoundError:
        return json_response({"error": NOT_FOUND}, status=404)


@routes.get("/tasks/result")
async def result(request: web.Request) -> web.Response:
    """200 the output, unrolled (one PowerShell output object → that object, none → null); 404 ``{error}``
    unknown; 409 ``{error}`` while not finished; 400 no id."""
    task_id = _required_id(request)
    if task_id is None:
        return _missing_id()
    service = request.app[SERVICE]
    try:
        output = service.result(task_id)["Output"]
        return json_response(kestrun_output(service.get(task_id)["Language"], output))
    except TaskNotFoundError:
        return json_response({"error": NOT_FOUND}, status=404)
    except TaskConflictError:
        return json_response({"error": NOT_COMPLETED}, status=409)


@routes.get("/tasks/cancel")
async def cancel(request: web.Request) -> web.Response:
    """202 ``{cancelled: true, id}``; 409 ``{cancelled: false, id}`` when unknown or finished; 400 no id."""
    return await _verb(request, "cancelled", request.app[SERVICE].cancel, 202, 409)


@routes.get("/tasks/remove")
async def remove(request: web.Request) -> web.Response:
    """200 ``{removed: true, id}``; 404 ``{removed: false, id}`` when unknown or still running; 400 no id."""
    return await _verb(request, "removed", request.app[SERVICE].remove, 200, 404)


@routes.get("/tasks/list")
async def list_all(request: web.Request) -> web.Response:
    """200 every task record (Kestrun's shape), newest first."""
    return json_response([kestrun_record(r) for r in request.app[SERVICE].list()])


@routes.get("/tasks/run/ps")
async def run_ps(request: web.Request) -> web.Response:
    """Create and start the PowerShell loop for ``seconds`` (≤ 0 or missing → 1): 202 ``{id, started}``."""
    seconds = _positive_int(request, "seconds", 1)
    spec = TaskSpec(code=PS_RUN_SCRIPT, language=Language.POWERSHELL, arguments={"sec": seconds}, auto_start=True)
    record = await request.app[SERVICE].create(spec)
    return json_response({"id": record["Id"], "started": True}, status=202)


@routes.get("/hello")
async def hello(request: web.Request) -> web.Response:
    """200 ``text/plain`` greeting."""
    return web.Response(text=HELLO)
