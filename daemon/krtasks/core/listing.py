"""Listing tasks: the filters, the sort orders and keyset paging of ``GET /api/v1/tasks``.

A query selects tasks by exact state and language, a name pattern (``*``/``?`` wildcards,
case-insensitive), a parent ("" for root tasks) and a created-time range, then orders them by one
:class:`SortKey`, ascending or descending. Every order ends with the creation sequence number, so it is
total and a page boundary is exact: the **cursor** of a page is the sort key of its last task, and the next
page holds the tasks after that key. Tasks without a value for the key (StartedAt of a task that never
started, Duration of one that has not finished) come last in either direction.

Cost: one pass over the registry plus a heap of ``offset + limit`` entries, so the page a cursor points at
costs what the first page costs, whatever its position; ``offset`` still works but its cost grows with it.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import heapq
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from operator import itemgetter
from typing import Any

from ..errors import TaskUnprocessableError
from ..models import Language, TaskRecordJson, TaskState
from .entry import TaskEntry
from .registry import key
from .validation import parse_language, parse_state

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


class SortKey(StrEnum):
    """What tasks can be ordered by (``Sort=`` in the API)."""

    CREATED = "created"
    """Creation order (the sequence number; newest first when descending)."""
    STARTED = "started"
    """StartedAt; tasks that never started come last."""
    DURATION = "duration"
    """CompletedAt - StartedAt; tasks that have not finished a run come last."""
    NAME = "name"
    """The name, case-insensitively; ties in creation order."""


SortValue = tuple[int, int | str, int]
"""A task's position in one order: ``(rank, value, seq)``; rank 0 when the task has a value, 1 when not."""


def _created(task: TaskEntry) -> SortValue:
    return 0, task.data.seq, task.data.seq


def _started(task: TaskEntry) -> SortValue:
    started = task.data.started_at
    if started is None:
        return 1, 0, task.data.seq
    return 0, (started - _EPOCH) // _MICROSECOND, task.data.seq


def _duration(task: TaskEntry) -> SortValue:
    d = task.data
    if d.started_at is None or d.completed_at is None:
        return 1, 0, d.seq
    return 0, (d.completed_at - d.started_at) // _MICROSECOND, d.seq


def _name(task: TaskEntry) -> SortValue:
    return 0, task.data.name.casefold(), task.data.seq


_SORT_VALUES: dict[SortKey, Callable[[TaskEntry], SortValue]] = {
    SortKey.CREATED: _created,
    SortKey.STARTED: _started,
    SortKey.DURATION: _duration,
    SortKey.NAME: _name,
}


@dataclass(frozen=True, slots=True)
class TaskQuery:
    """What to list. ``name``: pattern with ``*``/``?`` (case-insensitive); ``parent_id``: "" for root tasks;
    ``created_after`` (inclusive) / ``created_before`` (exclusive): aware datetimes; ``cursor``: the
    ``next_cursor`` of the previous page in the same order; ``offset``: tasks skipped (after the cursor, if
    any); ``limit``: most tasks returned (None: all)."""

    state: TaskState | None = None
    language: Language | None = None
    name: str | None = None
    parent_id: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    sort: SortKey = SortKey.CREATED
    descending: bool = True
    cursor: str | None = None
    offset: int = 0
    limit: int | None = None

    @classmethod
    def parse(cls, state: str | None, language: str | None, **rest: Any) -> TaskQuery:
        """A query with the state and language given by name (case-insensitive; empty or None: any).

        Raises:
            TaskValidationError: an unknown state or language.
        """
        return cls(
            state=parse_state(state) if state else None, language=parse_language(language) if language else None, **rest
        )

    def matcher(self) -> Callable[[TaskEntry], bool]:
        """The filter of this query as one predicate."""
        state, language = self.state, self.language
        pattern = self.name.lower() if self.name else None
        parent = key(self.parent_id) if self.parent_id is not None else None
        after, before = self.created_after, self.created_before

        def matches(task: TaskEntry) -> bool:
            d = task.data
            return (
                (state is None or d.state == state)
                and (language is None or d.language == language)
                and (pattern is None or fnmatch.fnmatchcase(d.name.lower(), pattern))
                and (parent is None or key(d.parent_id) == parent)
                and (after is None or d.created_at >= after)
                and (before is None or d.created_at < before)
            )

        return matches


@dataclass(frozen=True, slots=True)
class TaskPage:
    """One page: its records in order, how many tasks matched the filters (before paging), and the cursor
    of the next page (None when this page is the last)."""

    records: list[TaskRecordJson]
    total: int
    next_cursor: str | None


def _encode(sort: SortKey, descending: bool, value: SortValue) -> str:
    raw = json.dumps([sort.value, "desc" if descending else "asc", *value], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode("utf-8")).decode("ascii").rstrip("=")


def _decode(cursor: str, sort: SortKey, descending: bool) -> SortValue:
    """The position a cursor holds.

    Raises:
        TaskUnprocessableError: not a cursor of this API, or one of another sort order (field ``Cursor``; 422:
            the pattern of a cursor cannot tell).
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        parts = json.loads(raw.decode("utf-8"))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise TaskUnprocessableError("Cursor", "is not a cursor this API gave out") from None
    if not isinstance(parts, list) or len(parts) != 5:
        raise TaskUnprocessableError("Cursor", "is not a cursor this API gave out")
    order, rank, value, seq = parts[1:]
    if parts[0] != sort.value or order != ("desc" if descending else "asc"):
        raise TaskUnprocessableError("Cursor", f"belongs to another order ({parts[0]} {order}); start without it")
    value_type = str if sort == SortKey.NAME else int
    if not (type(rank) is int and type(value) is value_type and type(seq) is int):
        raise TaskUnprocessableError("Cursor", "is not a cursor this API gave out")
    return rank, value, seq


def select(tasks: Iterable[TaskEntry], query: TaskQuery) -> TaskPage:
    """The page of ``tasks`` that ``query`` asks for (see the module docstring).

    Raises:
        TaskUnprocessableError: an invalid cursor (field ``Cursor``).
    """
    value_of = _SORT_VALUES[query.sort]
    descending = query.descending
    start = _decode(query.cursor, query.sort, descending) if query.cursor else None
    matches = list(filter(query.matcher(), tasks))
    # Descending: larger values first, but tasks without a value (rank 1) still last, hence the negated rank.
    keyed = (((-v[0], v[1], v[2]) if descending else v, t) for t in matches for v in (value_of(t),))
    if start is not None:
        keyed = (kt for kt in keyed if (kt[0] < start if descending else kt[0] > start))
    if query.limit is None:
        ordered = sorted(keyed, key=itemgetter(0), reverse=descending)
        window = ordered[query.offset :]
        more = False
    else:
        pick = heapq.nlargest if descending else heapq.nsmallest
        ordered = pick(query.offset + query.limit + 1, keyed, key=itemgetter(0))
        window = ordered[query.offset : query.offset + query.limit]
        more = len(ordered) > query.offset + query.limit
    next_cursor = _encode(query.sort, descending, window[-1][0]) if more and window else None
    return TaskPage([t.record() for _k, t in window], len(matches), next_cursor)
