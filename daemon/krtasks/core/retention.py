"""Retention: which finished tasks to remove by age (``retention_seconds``) and count (``max_finished``).

A task goes with its whole subtree (as ``remove`` does), so only a task whose subtree has finished
entirely is eligible; a finished parent with a child still NotStarted or running stays.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from ..errors import TaskConflictError, TaskNotFoundError
from .registry import Registry, key

log = logging.getLogger("krtasks.core")

SWEEP_INTERVAL_SECONDS = 30.0
"""How often the service's background sweep runs (seconds); count and age limits may be exceeded by
what finishes in between."""


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd])")


def parse_duration(text: str) -> float:
    """Seconds in a duration such as ``"3600"``, ``"90s"``, ``"45m"``, ``"24h"``, ``"7d"`` or ``"1h30m"``
    (case-insensitive; a bare number is seconds; ``"0"`` is 0).

    Raises:
        ValueError: not such a duration.
    """
    value = text.strip().lower()
    if re.fullmatch(r"\d+(?:\.\d+)?", value):
        return float(value)
    parts = _DURATION.findall(value)
    if not parts or "".join(n + u for n, u in parts) != value:
        raise ValueError(f"'{text}' is not a duration (seconds, or e.g. 90m, 24h, 7d, 1h30m)")
    return sum(float(n) * _UNITS[u] for n, u in parts)


def select_expired(registry: Registry, now: datetime, retention_seconds: float, max_finished: int) -> list[str]:
    """Ids of the tasks to remove (each with its subtree), oldest ``CompletedAt`` first.

    ``now``: current UTC time. ``retention_seconds``:
    finished tasks whose subtree all completed at least this long ago go (0: no age limit).
    ``max_finished``: beyond this many finished tasks, the oldest go (0: no count limit).
    A subtree removed for either reason counts all its finished tasks towards the limit.
    """
    finished = sorted(
        (t for t in registry if t.state.finished and t.data.completed_at is not None),
        key=lambda t: (t.data.completed_at, t.data.seq),
    )
    cutoff = now - timedelta(seconds=retention_seconds) if retention_seconds > 0 else None
    excess = len(finished) - max_finished if max_finished > 0 else 0
    gone: set[str] = set()
    chosen: list[str] = []
    for task in finished:
        completed_at = task.data.completed_at
        if excess <= 0 and (cutoff is None or completed_at is None or completed_at > cutoff):
            break  # sorted by CompletedAt: nothing later is too old either
        if key(task.id) in gone:
            continue
        subtree = registry.subtree(task)
        if not all(t.state.finished for t in subtree):
            continue
        too_old = cutoff is not None and all(
            t.data.completed_at is not None and t.data.completed_at <= cutoff for t in subtree
        )
        if excess > 0 or too_old:
            chosen.append(task.id)
            fresh = {key(t.id) for t in subtree} - gone  # a descendant may have gone on its own before
            gone.update(fresh)
            excess -= len(fresh)
    return chosen


async def sweep(
    registry: Registry,
    now: datetime,
    retention_seconds: float,
    max_finished: int,
    remove: Callable[[str], Awaitable[object]],
) -> int:
    """Remove what :func:`select_expired` picks through ``remove`` (the service's, which frees prepared code
    and deletes from the store), 500 subtrees at a time so concurrent deletes share commits. Returns how many
    subtrees were removed; a failure is logged and the others go on."""
    if retention_seconds <= 0 and max_finished <= 0:
        return 0
    roots = select_expired(registry, now, retention_seconds, max_finished)
    removed = 0
    for start in range(0, len(roots), 500):
        chunk = roots[start : start + 500]
        results = await asyncio.gather(*(remove(i) for i in chunk), return_exceptions=True)
        for task_id, result in zip(chunk, results, strict=True):
            if isinstance(result, BaseException):
                # Gone meanwhile, or started a child meanwhile: nothing to do now.
                if not isinstance(result, TaskNotFoundError | TaskConflictError):
                    log.error("retention could not remove task %s: %s", task_id, result)
            else:
                removed += 1
    if removed:
        log.info("retention removed %d finished tasks (with their subtrees)", removed)
    return removed


async def sweep_forever(sweep: Callable[[], Awaitable[int]]) -> None:
    """Call ``sweep`` every :data:`SWEEP_INTERVAL_SECONDS` until cancelled; a failing sweep is logged."""
    while True:
        try:
            await sweep()
        except Exception:  # retention must keep running whatever one sweep met
            log.exception("retention sweep failed")
        await asyncio.sleep(SWEEP_INTERVAL_SECONDS)


class Sweeper:
    """The background task that runs ``sweep`` every :data:`SWEEP_INTERVAL_SECONDS` (see :func:`sweep_forever`)."""

    def __init__(self, sweep: Callable[[], Awaitable[int]]) -> None:
        self._sweep = sweep
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start sweeping (the first sweep runs at once)."""
        self._task = asyncio.get_running_loop().create_task(sweep_forever(self._sweep), name="krtasks-retention")

    async def stop(self) -> None:
        """Stop sweeping and wait for the task to end; idempotent."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
