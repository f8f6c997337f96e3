"""Mutating commands run as tasks the service tracks, so a client that hangs up never leaves one half done."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

log = logging.getLogger("krtasks.core")

T = TypeVar("T")


class Commands:
    """Runs each command to its end whatever happens to its caller; :meth:`drain` awaits those in flight."""

    def __init__(self) -> None:
        self._running: set[asyncio.Future[Any]] = set()

    async def run(self, command: Coroutine[Any, Any, T]) -> T:
        """Run ``command`` as a tracked task and return its result (or raise its error). A cancelled caller
        stops waiting; the command goes on."""
        task = asyncio.ensure_future(command)
        self._running.add(task)
        task.add_done_callback(self._done)
        return await asyncio.shield(task)

    def _done(self, task: asyncio.Future[Any]) -> None:
        self._running.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # Retrieved here so that a command whose caller left does not warn; its caller (if any) gets it too.
            log.debug("command ended with %r", task.exception())

    async def drain(self) -> None:
        """Wait for every command in flight (their errors went to their callers)."""
        while self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
