"""Typed keys under which the application keeps what its handlers share."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from ..core.service import TaskService
    from .ui.sessions import SessionStore

SERVICE: web.AppKey[TaskService] = web.AppKey("krtasks.service")
"""The :class:`~krtasks.service.TaskService` the routes drive."""

SESSIONS: web.AppKey[SessionStore] = web.AppKey("krtasks.sessions")
"""The dashboard's sessions and login codes."""

TOKEN: web.AppKey[str | None] = web.AppKey("krtasks.token")
"""The bearer token (None: the daemon runs without authentication, ``--auth none``)."""
