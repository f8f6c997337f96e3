"""The aiohttp application: middlewares (problems, auth), API routes and, on request, the tutorial routes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.typedefs import Middleware

from . import routes_api, routes_tutorial
from .auth import bearer_auth_middleware
from .context import SERVICE
from .middleware import problems_middleware

if TYPE_CHECKING:
    from ..service import TaskService

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
"""Largest request body accepted (1 MiB); larger ones get 413."""


def create_app(service: TaskService, *, token: str | None, tutorial_routes: bool = False,
               max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> web.Application:
    """Build the application around an opened ``service``.

    ``token``: the bearer token every route but ``/api/v1/health`` requires (None: no authentication,
    for loopback binds only; the caller enforces that). ``max_body_bytes`` bounds request bodies.
    """
    middlewares: list[Middleware] = [problems_middleware]
    if token is not None:
        middlewares.append(bearer_auth_middleware(token))
    app = web.Application(middlewares=middlewares, client_max_size=max_body_bytes)
    app[SERVICE] = service
    app.add_routes(routes_api.routes)
    if tutorial_routes:
        app.add_routes(routes_tutorial.routes)
    return app
