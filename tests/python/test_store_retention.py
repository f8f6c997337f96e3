"""Retention selection and duration parsing (issue 6), on plain registry entries (no engines needed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from krtasks.core.entry import TaskEntry
from krtasks.core.registry import Registry
from krtasks.core.retention import parse_duration, select_expired
from krtasks.models import Language, TaskData, TaskState

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def entry(
    task_id: str, seq: int, state: TaskState = TaskState.COMPLETED, completed: float | None = None, parent: str = ""
) -> TaskEntry:
    return TaskEntry(
        TaskData(
            id=task_id,
            name=task_id,
            description="",
            language=Language.POWERSHELL,
            code="1",
            arguments={},
            timeout_seconds=None,
            parent_id=parent,
            extra_imports=[],
            extra_refs=[],
            created_at=T0,
            seq=seq,
            state=state,
            completed_at=None if completed is None else T0 + timedelta(seconds=completed),
        )
    )


def registry(*tasks: TaskEntry) -> Registry:
    reg = Registry()
    for t in tasks:  # parents before their children, as in creation order
        reg.add(t)
    return reg


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_age_limit_removes_exactly_the_old_finished_tasks() -> None:
    reg = registry(
        entry("a", 1, completed=0),
        entry("b", 2, TaskState.FAILED, completed=50),
        entry("c", 3, TaskState.STOPPED, completed=100),
        entry("run", 4, TaskState.RUNNING),
        entry("new", 5, TaskState.NOT_STARTED),
    )
    assert select_expired(reg, at(150), 100, 0) == ["a", "b"]  # completed at or before now - 100 s
    assert select_expired(reg, at(99), 100, 0) == []
    assert select_expired(reg, at(10_000), 100, 0) == ["a", "b", "c"]  # never NotStarted or Running
    assert select_expired(reg, at(10_000), 0, 0) == []  # 0 and 0: keep everything


def test_count_limit_removes_the_oldest_by_completion_not_creation() -> None:
    reg = registry(
        entry("first", 1, completed=30),
        entry("second", 2, completed=10),
        entry("third", 3, completed=20),
        entry("idle", 4, TaskState.NOT_STARTED),
    )
    assert select_expired(reg, at(40), 0, 2) == ["second"]
    assert select_expired(reg, at(40), 0, 1) == ["second", "third"]
    assert select_expired(reg, at(40), 0, 3) == []
    assert select_expired(reg, at(40), 0, 0) == []


def test_age_and_count_together() -> None:
    reg = registry(*(entry(f"t{i}", i, completed=i * 10) for i in range(10)))
    # Age takes t0..t4 (completed at or before 40 s); count keeps at most 3 → t5, t6 go too.
    assert select_expired(reg, at(100), 60, 3) == [f"t{i}" for i in range(7)]


def test_subtrees_go_whole_and_only_when_all_of_them_finished() -> None:
    reg = registry(
        entry("p", 1, completed=0),
        entry("c1", 2, completed=5, parent="p"),
        entry("c2", 3, TaskState.RUNNING, parent="p"),
        entry("solo", 4, completed=1),
    )
    # The parent has a running child: it stays; its finished child may go on its own.
    assert select_expired(reg, at(1000), 10, 0) == ["solo", "c1"]
    c2 = reg.get("c2").data
    c2.state, c2.completed_at = TaskState.COMPLETED, at(995)
    assert select_expired(reg, at(1000), 10, 0) == ["solo", "c1"]  # c2 is young, so p's subtree is not old
    assert select_expired(reg, at(1005), 10, 0) == ["p", "solo"]  # all old: the parent takes its children
    # By count, a subtree counts all its tasks: removing p (3 tasks) is enough to get from 4 to 1.
    assert select_expired(reg, at(1005), 0, 1) == ["p"]


def test_a_child_removed_first_is_not_counted_twice() -> None:
    reg = registry(entry("p", 1, completed=20), entry("c", 2, completed=10, parent="p"), entry("x", 3, completed=30))
    # Oldest first: c (1 task), then p (p only, c already counted) → 3 - 2 = 1 left.
    assert select_expired(reg, at(40), 0, 1) == ["c", "p"]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0", 0),
        ("3600", 3600),
        ("1.5", 1.5),
        ("90s", 90),
        ("45m", 2700),
        ("24h", 86400),
        ("7d", 604800),
        ("1h30m", 5400),
        ("1D2H", 93600),
        (" 10m ", 600),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "h", "-1", "1x", "1h 30m", "forever", "1.h"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)
