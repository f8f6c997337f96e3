"""Bearer-token authentication (RFC 6750 §2.1 header form) for everything but the health check."""

from __future__ import annotations

import hmac
from collections.abc import Collection

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from .problems import problem_response

REALM = "krtasks"

PUBLIC_PATHS = frozenset({"/api/v1/health"})
"""Paths answered without a token (the liveness check must work before a client has the token)."""


def _challenge(error: str | None = None, description: str | None = None) -> str:
    """A ``WWW-Authenticate`` value (RFC 6750 §3): no error code when no credentials were sent."""
    value = f'Bearer realm="{REALM}"'
    if error:
        value += f', error="{error}"'
    if description:
        value += f', error_description="{description}"'
    return value


def bearer_auth_middleware(token: str, public_paths: Collection[str] = PUBLIC_PATHS) -> Middleware:
    """Return a middleware that requires ``Authorization: Bearer <token>`` on every path not in ``public_paths``.

    Tokens are compared in constant time (``hmac.compare_digest``). Failures answer 401 problem+json with
    ``WWW-Authenticate: Bearer realm="krtasks"`` (plus ``error="invalid_request"`` for a malformed header or
    ``error="invalid_token"`` for a wrong token, RFC 6750 §3.1).
    """
    expected = token.encode("utf-8")

    @web.middleware
    async def bearer_auth(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in public_paths:
            return await handler(request)
        header = request.headers.get("Authorization")
        if header is None:
            return problem_response(
                401,
                "This request needs the header 'Authorization: Bearer <token>' "
                "(the token is in the state dir; `krtasks token` prints it).",
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
        if not hmac.compare_digest(credentials.encode("utf-8"), expected):
            return problem_response(
                401,
                "The bearer token is not valid for this daemon.",
                headers={"WWW-Authenticate": _challenge("invalid_token", "The token is not valid")},
            )
        return await handler(request)

    return bearer_auth
