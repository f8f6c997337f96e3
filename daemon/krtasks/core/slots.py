"""The slot queue: at most ``limit`` tasks run at once (all languages together); more wait, first in, first out."""

from __future__ import annotations

import contextlib
from collections import deque

from .entry import TaskEntry


class SlotQueue:
    """Run slots and the FIFO queue of tasks waiting for one (the state of the tasks is not its business)."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("max_runspaces must be at least 1")
        self.limit = limit
        self.in_use = 0
        self._waiting: deque[TaskEntry] = deque()

    def __len__(self) -> int:
        """Tasks waiting for a slot."""
        return len(self._waiting)

    def try_acquire(self) -> bool:
        """Take a free slot if there is one (True), else leave everything as it is (False)."""
        if self.in_use < self.limit:
            self.in_use += 1
            return True
        return False

    def enqueue(self, task: TaskEntry) -> None:
        """Queue ``task`` behind the others."""
        self._waiting.append(task)

    def withdraw(self, task: TaskEntry) -> None:
        """Take ``task`` out of the queue (nothing happens when it is not queued)."""
        with contextlib.suppress(ValueError):
            self._waiting.remove(task)

    def release(self) -> list[TaskEntry]:
        """Give back one slot; return the queued tasks that now get a slot each (their slots are taken)."""
        self.in_use -= 1
        granted = []
        while self._waiting and self.in_use < self.limit:
            granted.append(self._waiting.popleft())
            self.in_use += 1
        return granted
