"""The registry's parent/child links, in either arrival order: a shared store's rows may bring a child before
its parent, and restoring 10 000 tasks must not walk the registry once per task (the CI run that found it:
10 000 tasks restored from PostgreSQL in 5.07 s, 3.7 s of it such walks)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

from krtasks.core.cluster.mirror import Mirror
from krtasks.core.engineset import EngineSet
from krtasks.core.entry import TaskEntry
from krtasks.core.hub import EventHub
from krtasks.core.journal import NullJournal
from krtasks.core.registry import Registry
from krtasks.models import TaskState
from krtasks.store.postgres_schema import Row
from unit.fakes import task_data


def entry(task_id: str, seq: int, parent: str = "") -> TaskEntry:
    return TaskEntry(task_data(task_id, seq, parent_id=parent, state=TaskState.COMPLETED))


def test_a_child_registered_first_is_linked_when_its_parent_comes() -> None:
    registry = Registry()
    registry.add(entry("Child-1", 2, parent="Parent"))
    registry.add(entry("child-2", 3, parent="PARENT"))
    parent = entry("parent", 1)
    registry.add(parent)
    assert parent.children == ["Child-1", "child-2"]
    assert [t.id for t in registry.subtree(parent)] == ["parent", "child-2", "Child-1"]


def test_a_child_registered_after_its_parent_is_linked_once() -> None:
    registry = Registry()
    parent = entry("p", 1)
    registry.add(parent)
    registry.add(entry("c", 2, parent="p"))
    assert parent.children == ["c"]


def test_a_waiting_child_removed_before_its_parent_comes_is_not_linked() -> None:
    registry = Registry()
    child = entry("c", 2, parent="p")
    registry.add(child)
    registry.discard([child])
    parent = entry("p", 1)
    registry.add(parent)
    assert parent.children == [] and registry.subtree(parent) == [parent]


class CountingRegistry(Registry):
    walks = 0

    def __iter__(self) -> Iterator[TaskEntry]:
        self.walks += 1
        return super().__iter__()


def test_the_mirror_takes_rows_in_without_walking_the_registry() -> None:
    registry = CountingRegistry()
    mirror = Mirror(
        cast(Any, None), registry, EventHub(NullJournal()), EngineSet(lambda _l: None), "node-a", lambda _e: None
    )
    done = TaskState.COMPLETED
    rows = [Row(task_data(f"c{i}", i + 2, parent_id="root", state=done), 1, False, 0) for i in range(500)]
    rows.append(Row(task_data("root", 1, state=done), 1, False, 0))
    for row in rows:
        mirror._take(row, [])
    assert registry.walks == 0
    assert len(registry.get("root").children) == 500
