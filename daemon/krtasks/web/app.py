"""The aiohttp application: middlewares (dashboard headers, problems, auth), API routes, the dashboard under
``/ui`` and, on request, the tutorial routes.

The application owns the service's life: a cleanup context opens it at startup and closes it at cleanup;
the shutdown hook first cancels what still runs (with the grace period, so that event streams and waiters
see the tasks end) and then ends the event streams and long polls still open, so open requests finish.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.typedefs import Middleware

from . import routes_api, routes_tutorial
from .auth import bearer_auth_middleware
from .context import SERVICE, SESSIONS, TOKEN
from .middleware import problems_middleware
from .ui import routes as ui_routes
from .ui.headers import ui_headers_middleware
from .ui.sessions import SessionStore

if TYPE_CHECKING:
    from ..core.service import TaskService

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
"""Largest request body accepted (1 MiB); larger ones get 413."""


def create_app(
    service: TaskService,
    *,
    token: str | None,
    tutorial_routes: bool = False,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    close_grace_seconds: float | None = None,
) -> web.Application:
    """Build the application around ``service``, which it opens at startup and closes at cleanup (with
    ``close_grace_seconds`` for running tasks; None: the service's stop grace).

    ``token``: the bearer token every route but ``/api/v1/health`` and the dashboard's requires (None: no
    authentication, for loopback binds only; the caller enforces that); the dashboard's sessions stand in
    for it in the browser. ``max_body_bytes`` bounds request bodies.
    """
    sessions = SessionStore()
    middlewares: list[Middleware] = [ui_headers_middleware, problems_middleware]
    if token is not None:
        middlewares.append(bearer_auth_middleware(token, sessions))
    app = web.Application(middlewares=middlewares, client_max_size=max_body_bytes)
    app[SERVICE] = service
    app[SESSIONS] = sessions
    app[TOKEN] = token

    async def service_context(_app: web.Application) -> AsyncIterator[None]:
        await service.open()
        yield
        await service.close(close_grace_seconds)

    async def end_streams(_app: web.Application) -> None:
        await service.shutdown(close_grace_seconds)

    app.cleanup_ctx.append(service_context)
    app.on_shutdown.append(end_streams)
    app.add_routes(routes_api.routes)
    ui_routes.setup(app)
    if tutorial_routes:
        app.add_routes(routes_tutorial.routes)
    return app
