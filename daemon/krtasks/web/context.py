"""Typed keys under which the application keeps what its handlers share."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from ..core.service import TaskService

SERVICE: web.AppKey[TaskService] = web.AppKey("krtasks.service")
"""The :class:`~krtasks.service.TaskService` the routes drive."""
