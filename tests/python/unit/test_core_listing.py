"""Listing: filters, sort orders (missing values last), keyset cursors and offsets, on plain registry entries."""

from __future__ import annotations

import dataclasses
import itertools
import random
from datetime import UTC, datetime, timedelta

import pytest

from krtasks.core.entry import TaskEntry
from krtasks.core.listing import SortKey, TaskQuery, select
from krtasks.core.registry import Registry
from krtasks.errors import TaskValidationError
from krtasks.models import Language, TaskState
from unit.fakes import task_data

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def entry(
    seq: int, *, name: str = "", started: float | None = None, ran: float | None = None, **kw: object
) -> TaskEntry:
    """Task ``t<seq>`` created at T0 + seq s; started ``started`` s after T0 and, with ``ran``, finished."""
    started_at = None if started is None else T0 + timedelta(seconds=started)
    completed_at = None if started_at is None or ran is None else started_at + timedelta(seconds=ran)
    state = TaskState.COMPLETED if completed_at else TaskState.RUNNING if started_at else TaskState.NOT_STARTED
    data = task_data(
        f"t{seq}",
        seq,
        name=name or f"task {seq:03d}",
        created_at=T0 + timedelta(seconds=seq),
        state=state,
        started_at=started_at,
        completed_at=completed_at,
        **kw,
    )
    return TaskEntry(data)


@pytest.fixture
def tasks() -> list[TaskEntry]:
    """60 tasks: names with case and ties, a third never started, a third still running."""
    rng = random.Random(7)
    out = []
    for seq in range(1, 61):
        kind = seq % 3
        started = None if kind == 0 else rng.uniform(0, 1000)
        ran = rng.choice([1.0, 2.5, 2.5, 7.0]) if kind == 1 else None
        name = rng.choice(["Alpha", "alpha", "beta", "Gamma", "delta"]) + ("" if seq % 4 else f" {seq}")
        out.append(entry(seq, name=name, started=started, ran=ran))
    return out


def ids(tasks: list[TaskEntry], query: TaskQuery) -> list[str]:
    return [r["Id"] for r in select(tasks, query).records]


def walk(tasks: list[TaskEntry], query: TaskQuery) -> list[list[str]]:
    """Every page from the first on, following the cursors."""
    pages = []
    cursor = None
    while True:
        page = select(tasks, dataclasses.replace(query, cursor=cursor))
        pages.append([r["Id"] for r in page.records])
        assert page.total == len(select(tasks, dataclasses.replace(query, limit=None)).records)
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor


def expected_order(tasks: list[TaskEntry], sort: SortKey, descending: bool) -> list[str]:
    """The documented order, written out independently: by value, ties by creation, missing values last."""

    def value(t: TaskEntry) -> object:
        d = t.data
        if sort == SortKey.CREATED:
            return d.seq
        if sort == SortKey.STARTED:
            return d.started_at
        if sort == SortKey.DURATION:
            return None if d.completed_at is None or d.started_at is None else d.completed_at - d.started_at
        return d.name.casefold()

    present = [t for t in tasks if value(t) is not None]
    missing = [t for t in tasks if value(t) is None]
    present.sort(key=lambda t: (value(t), t.data.seq), reverse=descending)
    missing.sort(key=lambda t: t.data.seq, reverse=descending)
    return [t.id for t in present + missing]


@pytest.mark.parametrize(("sort", "descending"), list(itertools.product(SortKey, [False, True])))
def test_orders_and_keyset_pages_cover_every_task_once(tasks: list[TaskEntry], sort: SortKey, descending: bool) -> None:
    everything = ids(tasks, TaskQuery(sort=sort, descending=descending))
    assert everything == expected_order(tasks, sort, descending)
    pages = walk(tasks, TaskQuery(sort=sort, descending=descending, limit=7))
    assert [len(p) for p in pages] == [7] * 8 + [4]
    assert list(itertools.chain(*pages)) == everything


def test_default_is_newest_first_and_offset_still_works(tasks: list[TaskEntry]) -> None:
    assert ids(tasks, TaskQuery())[:3] == ["t60", "t59", "t58"]
    assert ids(tasks, TaskQuery(offset=2, limit=3)) == ["t58", "t57", "t56"]
    first = select(tasks, TaskQuery(limit=3))
    # An offset after a cursor skips from the cursor on.
    assert ids(tasks, TaskQuery(cursor=first.next_cursor, offset=1, limit=2)) == ["t56", "t55"]
    assert select(tasks, TaskQuery(limit=0)).records == [] and select(tasks, TaskQuery(limit=0)).next_cursor is None
    assert select(tasks, TaskQuery(limit=60)).next_cursor is None  # exactly the last page: no next
    assert select(tasks, TaskQuery(limit=59)).next_cursor is not None


def test_a_cursor_stays_exact_when_tasks_come_and_go(tasks: list[TaskEntry]) -> None:
    first = select(tasks, TaskQuery(limit=10))
    newer = [*tasks, entry(61), entry(62)]  # created after the first page was read
    fewer = [t for t in newer if t.id not in ("t50", "t49")]  # the next page's first two were removed
    assert ids(fewer, TaskQuery(cursor=first.next_cursor, limit=3)) == ["t48", "t47", "t46"]


def test_filters(tasks: list[TaskEntry]) -> None:
    tasks[0].data.parent_id = "T2"
    tasks[1].data.language = Language.CSHARP
    assert ids(tasks, TaskQuery(parent_id="t2")) == ["t1"]
    assert ids(tasks, TaskQuery(language=Language.CSHARP)) == ["t2"]
    assert len(ids(tasks, TaskQuery(parent_id=""))) == 59
    assert set(ids(tasks, TaskQuery(state=TaskState.NOT_STARTED))) == {f"t{i}" for i in range(3, 61, 3)}
    named = ids(tasks, TaskQuery(name="ALPHA ?2", sort=SortKey.NAME, descending=False))
    assert named and all(t.data.name.lower().startswith("alpha ") for t in tasks if t.id in named)
    # Created range: from CreatedAfter (inclusive) to CreatedBefore (exclusive).
    window = TaskQuery(created_after=T0 + timedelta(seconds=10), created_before=T0 + timedelta(seconds=13))
    page = select(tasks, window)
    assert [r["Id"] for r in page.records] == ["t12", "t11", "t10"] and page.total == 3
    assert select(tasks, TaskQuery(state=TaskState.RUNNING, limit=2)).total == 20


def test_parse_names_the_faulty_field() -> None:
    assert TaskQuery.parse("running", "cs").state == TaskState.RUNNING
    with pytest.raises(TaskValidationError) as err:
        TaskQuery.parse("Sleeping", None)
    assert err.value.field == "State"


@pytest.mark.parametrize(
    "cursor",
    ["not base64!", "bm90IGpzb24", "WzEsMiwzXQ", "WyJjcmVhdGVkIiwiZGVzYyIsMCwieCIsMV0"],
)
def test_a_foreign_cursor_is_refused(tasks: list[TaskEntry], cursor: str) -> None:
    with pytest.raises(TaskValidationError) as err:
        select(tasks, TaskQuery(cursor=cursor))
    assert err.value.field == "Cursor"


def test_a_cursor_of_another_order_is_refused(tasks: list[TaskEntry]) -> None:
    cursor = select(tasks, TaskQuery(sort=SortKey.NAME, limit=5)).next_cursor
    with pytest.raises(TaskValidationError, match="another order"):
        select(tasks, TaskQuery(sort=SortKey.NAME, descending=False, cursor=cursor))
    with pytest.raises(TaskValidationError, match="another order"):
        select(tasks, TaskQuery(sort=SortKey.STARTED, cursor=cursor))


def test_registry_is_the_source(tasks: list[TaskEntry]) -> None:
    registry = Registry()
    for t in tasks:
        registry.add(t)
    assert [r["Id"] for r in select(registry, TaskQuery(limit=2)).records] == ["t60", "t59"]
