"""The dashboard's routes: page shells, login (token form or one-time code), logout, static files.

Page shells are Jinja templates that hold no task data (the page's JavaScript reads the API); they carry the
session's CSRF token in a ``<meta name="krtasks-csrf">`` tag. Under ``--auth token`` a page without a live
session redirects to ``/ui/login?next=<the page>``; under ``--auth none`` the pages open directly.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

from ... import __version__
from ..context import SESSIONS, TOKEN
from .sessions import SESSION_COOKIE, Session, same_secret

STATIC_DIR = Path(__file__).resolve().parent / "static"
"""Stylesheets, scripts (ES modules), the vendored chart library and the icon."""


def _static_version() -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in STATIC_DIR.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(STATIC_DIR)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


STATIC_PREFIX = f"/ui/static/{_static_version()}/"
"""Where the static files are served: the prefix names their content (a hash), so browsers may keep them
for good (``Cache-Control: immutable``) and a changed file comes under a new prefix. Scripts import each
other by relative paths, which stay under the same prefix."""

STATIC_CACHE = "public, max-age=31536000, immutable"

LOGIN_FAILURE_DELAY = 1.0
"""Seconds a wrong token or code waits before its answer (without holding up other requests)."""

PAGES = {"/ui/": "overview", "/ui/tasks": "tasks", "/ui/task": "task", "/ui/new": "new"}
"""Path → template (and page module) of each page."""

routes = web.RouteTableDef()


def setup(app: web.Application) -> None:
    """Add the dashboard to ``app``: templates, routes and the static files under :data:`STATIC_PREFIX`
    (needs ``SESSIONS`` and ``TOKEN``)."""
    aiohttp_jinja2.setup(app, loader=jinja2.PackageLoader("krtasks.web.ui", "templates"), autoescape=True)
    app.add_routes(routes)
    app.router.add_static(STATIC_PREFIX, STATIC_DIR, name="ui-static")
    app.on_response_prepare.append(_cache_static)


async def _cache_static(request: web.Request, response: web.StreamResponse) -> None:
    if request.path.startswith(STATIC_PREFIX) and response.status == 200:
        response.headers["Cache-Control"] = STATIC_CACHE


def _session(request: web.Request) -> Session | None:
    return request.app[SESSIONS].find(request.cookies.get(SESSION_COOKIE))


def _next_page(value: str | None) -> str:
    """Where to go after a login: a dashboard path of this origin, else the overview."""
    if value and value.startswith("/ui") and not value.startswith("//") and "\\" not in value:
        return value
    return "/ui/"


def _render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    context.setdefault("auth", "none" if request.app[TOKEN] is None else "token")
    context.setdefault("version", __version__)
    context.setdefault("csrf", "")
    context.setdefault("static", STATIC_PREFIX)
    response = aiohttp_jinja2.render_template(template + ".html", request, context, status=status)
    response.headers["Cache-Control"] = "no-store"
    return response


@routes.get("/ui")
async def ui_root(request: web.Request) -> web.Response:
    """``/ui`` → ``/ui/``."""
    raise web.HTTPPermanentRedirect("/ui/")


@routes.get("/favicon.ico")
async def favicon(request: web.Request) -> web.Response:
    """Browsers ask for it on pages without an icon (error pages): the dashboard's icon (a temporary
    redirect: the icon's address changes with the files)."""
    raise web.HTTPTemporaryRedirect(STATIC_PREFIX + "favicon.svg")


async def page(request: web.Request) -> web.Response:
    """A page shell; under token auth only with a live session (else a redirect to the login)."""
    name = PAGES[request.path]
    csrf = ""
    if request.app[TOKEN] is not None:
        session = _session(request)
        if session is None:
            raise web.HTTPSeeOther(request.app.router["ui-login"].url_for().with_query(next=request.path_qs))
        csrf = session.csrf
    return _render(request, name, page=name, csrf=csrf)


for _path in PAGES:
    routes.get(_path)(page)


def _login_page(request: web.Request, status: int = 200, message: str = "", next_page: str = "/ui/") -> web.Response:
    response = _render(request, "login", status, page="login", message=message, error=status != 200, next=next_page)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="krtasks"'
    return response


def _logged_in(request: web.Request, next_page: str) -> web.HTTPSeeOther:
    session_id, _session = request.app[SESSIONS].open()
    redirect = web.HTTPSeeOther(next_page)
    redirect.set_cookie(SESSION_COOKIE, session_id, httponly=True, secure=True, samesite="Strict", path="/")
    return redirect


@routes.get("/ui/login", name="ui-login")
async def login_form(request: web.Request) -> web.Response:
    """The token form; with ``?code=`` the exchange of a one-time code for a session (then on to ``next``)."""
    next_page = _next_page(request.query.get("next"))
    if request.app[TOKEN] is None or ("code" not in request.query and _session(request) is not None):
        raise web.HTTPSeeOther(next_page)
    if "code" in request.query:
        if request.app[SESSIONS].redeem(request.query["code"]):
            raise _logged_in(request, next_page)
        await asyncio.sleep(LOGIN_FAILURE_DELAY)
        message = (
            "This login link is not valid: a code works once, for 60 seconds. "
            "Run `krtasks ui` for a new one, or enter the token."
        )
        return _login_page(request, 401, message, next_page)
    message = "You have logged out." if "loggedout" in request.query else ""
    return _login_page(request, message=message, next_page=next_page)


@routes.post("/ui/login")
async def login(request: web.Request) -> web.Response:
    """Exchange the token (form field ``token``) for a session; a wrong one answers 401 after a delay."""
    token = request.app[TOKEN]
    form = await request.post()
    next_page = _next_page(str(form.get("next", "")))
    if token is None:
        raise web.HTTPSeeOther(next_page)
    given = form.get("token")
    if isinstance(given, str) and same_secret(given.strip(), token):
        raise _logged_in(request, next_page)
    await asyncio.sleep(LOGIN_FAILURE_DELAY)
    message = "That token is not valid for this daemon. `krtasks token` prints the right one."
    return _login_page(request, 401, message, next_page)


@routes.post("/ui/logout")
async def logout(request: web.Request) -> web.Response:
    """End the session (form field ``csrf`` must be its CSRF token) and clear the cookie."""
    form = await request.post()
    session = _session(request)
    csrf = form.get("csrf")
    if session is None or not same_secret(csrf if isinstance(csrf, str) else None, session.csrf):
        raise web.HTTPForbidden(text="Logging out needs the page's CSRF token.")
    request.app[SESSIONS].end(request.cookies.get(SESSION_COOKIE))
    redirect = web.HTTPSeeOther("/ui/login?loggedout=1")
    redirect.del_cookie(SESSION_COOKIE, path="/", secure=True, httponly=True, samesite="Strict")
    raise redirect
