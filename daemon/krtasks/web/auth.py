"""Authentication of the API: a bearer token (RFC 6750 §2.1 header form) or a dashboard session.

Every path needs the token except the health check and the dashboard under ``/ui`` (whose pages check the
session themselves and hold no task data). ``/api/v1/*`` and ``/metrics`` also accept the dashboard's
session cookie instead; with it, mutating methods need the session's CSRF token in ``X-CSRF-Token``, or the
request is refused with 403. The tutorial routes take the token only (they change tasks on GET).
"""

from __future__ import annotations

from collections.abc import Collection

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from .problems import problem_response
from .ui.sessions import CSRF_HEADER, SESSION_COOKIE, SessionStore, same_secret

REALM = "krtasks"

PUBLIC_PATHS = frozenset({"/api/v1/health", "/favicon.ico"})
"""Paths answered without a token (the liveness check must work before a client has the token; the icon is the
dashboard's, which browsers fetch on any page)."""

UI_PREFIX = "/ui"
"""The dashboard's pages and files: public here; the pages ask for a session themselves."""

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
"""Methods that change nothing, so a session needs no CSRF token for them."""


def _challenge(error: str | None = None, description: str | None = None) -> str:
    """A ``WWW-Authenticate`` value (RFC 6750 §3): no error code when no credentials were sent."""
    value = f'Bearer realm="{REALM}"'
    if error:
        value += f', error="{error}"'
    if description:
        value += f', error_description="{description}"'
    return value


def is_ui_path(path: str) -> bool:
    """True for ``/ui`` and everything under ``/ui/``."""
    return path == UI_PREFIX or path.startswith(UI_PREFIX + "/")


def _takes_session(path: str) -> bool:
    return path.startswith("/api/v1/") or path == "/metrics"


def bearer_auth_middleware(
    token: str, sessions: SessionStore | None = None, public_paths: Collection[str] = PUBLIC_PATHS
) -> Middleware:
    """Return a middleware that requires ``Authorization: Bearer <token>`` on every path not in ``public_paths``
    nor under ``/ui``, or (with ``sessions``, for ``/api/v1/*`` and ``/metrics``) a live session cookie.

    Tokens and CSRF tokens are compared in constant time (``hmac.compare_digest``). Failures answer 401
    problem+json with ``WWW-Authenticate: Bearer realm="krtasks"`` (plus ``error="invalid_request"`` for a
    malformed header or ``error="invalid_token"`` for a wrong token, RFC 6750 §3.1); a session request of a
    mutating method without its CSRF token answers 403.
    """

    @web.middleware
    async def bearer_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        if path in public_paths or is_ui_path(path):
            return await handler(request)
        header = request.headers.get("Authorization")
        cookie = request.cookies.get(SESSION_COOKIE)
        if header is None and cookie is not None and sessions is not None and _takes_session(path):
            session = sessions.find(cookie)
            if session is not None:
                if request.method not in SAFE_METHODS and not same_secret(
                    request.headers.get(CSRF_HEADER), session.csrf
                ):
                    return problem_response(
                        403,
                        f"A request made with a dashboard session must carry the session's {CSRF_HEADER} header "
                        "(the page sends it; scripts use the bearer token instead).",
                        slug="csrf-token",
                        title="CSRF token missing or wrong",
                    )
                return await handler(request)
        if header is None:
            ended = " The dashboard session has ended: log in again at /ui/login." if cookie is not None else ""
            return problem_response(
                401,
                "This request needs the header 'Authorization: Bearer <token>' "
                f"(the token is in the state dir; `krtasks token` prints it).{ended}",
                headers={"WWW-Authenticate": _challenge()},
            )
        scheme, _, credentials = header.strip().partition(" ")
        credentials = credentials.strip()
        if scheme.lower() != "bearer" or not credentials:
            return problem_response(
                401,
                "The Authorization header must use the Bearer scheme.",
                headers={"WWW-Authenticate": _challenge("invalid_request", "Bearer scheme expected")},
            )
        if not same_secret(credentials, token):
            return problem_response(
                401,
                "The bearer token is not valid for this daemon.",
                headers={"WWW-Authenticate": _challenge("invalid_token", "The token is not valid")},
            )
        return await handler(request)

    return bearer_auth
