"""Retention: which finished tasks to remove by age (``retention_seconds``) and count (``max_finished``).

A task goes with its whole subtree (as ``remove`` does), so only a task whose subtree has finished
entirely is eligible; a finished parent with a child still NotStarted or running stays.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .service import TaskEntry

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


def _subtree(tasks: Mapping[str, TaskEntry], root: TaskEntry) -> list[TaskEntry]:
    result: list[TaskEntry] = []
    stack = [root]
    while stack:
        t = stack.pop()
        result.append(t)
        stack.extend(tasks[c.lower()] for c in t.children if c.lower() in tasks)
    return result


def select_expired(tasks: Mapping[str, TaskEntry], now: datetime, retention_seconds: float,
                   max_finished: int) -> list[str]:
    """Ids of the tasks to remove (each with its subtree), oldest ``CompletedAt`` first.

    ``tasks``: the registry (lower-case id → task). ``now``: current UTC time. ``retention_seconds``:
    finished tasks whose subtree all completed at least this long ago go (0: no age limit).
    ``max_finished``: beyond this many finished tasks, the oldest go (0: no count limit).
    A subtree removed for either reason counts all its finished tasks towards the limit.
    """
    finished = sorted((t for t in tasks.values() if t.state.finished and t.completed_at is not None),
                      key=lambda t: (t.completed_at, t.seq))
    cutoff = now - timedelta(seconds=retention_seconds) if retention_seconds > 0 else None
    excess = len(finished) - max_finished if max_finished > 0 else 0
    gone: set[str] = set()
    chosen: list[str] = []
    for task in finished:
        if excess <= 0 and (cutoff is None or task.completed_at is None or task.completed_at > cutoff):
            break  # sorted by CompletedAt: nothing later is too old either
        if task.id.lower() in gone:
            continue
        subtree = _subtree(tasks, task)
        if not all(t.state.finished for t in subtree):
            continue
        too_old = cutoff is not None and all(t.completed_at is not None and t.completed_at <= cutoff for t in subtree)
        if excess > 0 or too_old:
            chosen.append(task.id)
            fresh = {t.id.lower() for t in subtree} - gone  # a descendant may have gone on its own before
            gone.update(fresh)
            excess -= len(fresh)
    return chosen
