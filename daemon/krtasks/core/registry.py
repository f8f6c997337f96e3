"""The registry: every task by id (case-insensitively), parent/child links and subtree walks (listing is in
:mod:`krtasks.core.listing`)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from ..errors import TaskConflictError, TaskNotFoundError
from .entry import TaskEntry


def key(task_id: str) -> str:
    """The registry key of an id: ids compare case-insensitively (the one place that folds case)."""
    return str(task_id).lower()


class Registry:
    """Tasks by id. Ids being created are reserved first, so two concurrent creations cannot take one id.

    A child may be registered before its parent (a shared store's rows arrive as other nodes wrote them): it
    waits in an index by parent key and is linked when the parent comes, in O(1) per task.
    """

    def __init__(self) -> None:
        self._tasks: dict[str, TaskEntry] = {}
        self._reserved: set[str] = set()
        self._orphans: dict[str, dict[str, str]] = {}  # parent key -> child key -> child id
        self._seq = 0

    def __len__(self) -> int:
        return len(self._tasks)

    def __iter__(self) -> Iterator[TaskEntry]:
        return iter(list(self._tasks.values()))

    def next_seq(self) -> int:
        """The next creation sequence number (1, 2, ...; above every restored task's)."""
        self._seq += 1
        return self._seq

    def find(self, task_id: str) -> TaskEntry | None:
        """The task with this id, or None."""
        return self._tasks.get(key(task_id))

    def get(self, task_id: str) -> TaskEntry:
        """The task with this id.

        Raises:
            TaskNotFoundError: no task has it.
        """
        task = self._tasks.get(key(task_id))
        if task is None:
            raise TaskNotFoundError(str(task_id))
        return task

    @contextlib.contextmanager
    def reserve(self, task_id: str) -> Iterator[None]:
        """Hold ``task_id`` while a task is being prepared under it.

        Raises:
            TaskConflictError: a task (or a creation in progress) has the id.
        """
        k = key(task_id)
        if k in self._tasks or k in self._reserved:
            raise TaskConflictError(f"A task with id '{task_id}' already exists.")
        self._reserved.add(k)
        try:
            yield
        finally:
            self._reserved.discard(k)

    def add(self, task: TaskEntry) -> None:
        """Register ``task``, link it to its parent (or, while the parent is not registered, keep it for the
        parent) and link the registered children that were waiting for it."""
        k = key(task.id)
        self._tasks[k] = task
        self._seq = max(self._seq, task.data.seq)
        parent = self.parent(task)
        if parent is not None:
            parent.children.append(task.id)
        elif task.data.parent_id:
            self._orphans.setdefault(key(task.data.parent_id), {})[k] = task.id
        waiting = self._orphans.pop(k, None)
        if waiting:
            known = {key(c) for c in task.children}
            task.children.extend(i for c, i in waiting.items() if c not in known and c in self._tasks)

    def parent(self, task: TaskEntry) -> TaskEntry | None:
        """The task's parent, if it has one and it is registered."""
        return self._tasks.get(key(task.data.parent_id)) if task.data.parent_id else None

    def subtree(self, task: TaskEntry) -> list[TaskEntry]:
        """``task`` and all its registered descendants (the task first)."""
        result: list[TaskEntry] = []
        stack = [task]
        while stack:
            t = stack.pop()
            result.append(t)
            stack.extend(c for c in (self._tasks.get(key(i)) for i in t.children) if c is not None)
        return result

    def discard(self, subtree: list[TaskEntry]) -> None:
        """Unregister these tasks (a subtree, root first) and unlink the root from its parent."""
        for t in subtree:
            if self._tasks.get(key(t.id)) is t:
                del self._tasks[key(t.id)]
                if t.data.parent_id:
                    waiting = self._orphans.get(key(t.data.parent_id))
                    if waiting is not None:
                        waiting.pop(key(t.id), None)
                        if not waiting:
                            del self._orphans[key(t.data.parent_id)]
        if subtree:
            parent = self.parent(subtree[0])
            if parent is not None:
                gone = key(subtree[0].id)
                parent.children = [c for c in parent.children if key(c) != gone]

    def count_by_state(self) -> dict[str, int]:
        """How many tasks are in each state (states with none are absent)."""
        counts: dict[str, int] = {}
        for task in self._tasks.values():
            counts[task.state.value] = counts.get(task.state.value, 0) + 1
        return counts
