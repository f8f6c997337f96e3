"""A cache of prepared code that tasks hold: held entries stay, unheld ones wait in an LRU until they fall out.

Used for compiled C#/VB scripts: identical code (same argument types, imports and references) is compiled
once while any task holds it, and kept for reuse for a while after. Thread-safe.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass
class _Entry(Generic[V]):
    value: V
    holders: int = 0


class HeldCache(Generic[K, V]):
    """Values by key with a hold count; ``idle_size`` unheld values are kept (least recently released ones go
    first, through ``evict``, called outside the lock)."""

    def __init__(self, idle_size: int, evict: Callable[[V], None]) -> None:
        self._idle_size = max(0, idle_size)
        self._evict = evict
        self._lock = threading.Lock()
        self._held: dict[K, _Entry[V]] = {}
        self._idle: OrderedDict[K, _Entry[V]] = OrderedDict()

    def hold(self, key: K) -> V | None:
        """Take one more hold on ``key``'s value; None when there is no value for it."""
        with self._lock:
            entry = self._held.get(key) or self._idle.pop(key, None)
            if entry is None:
                return None
            entry.holders += 1
            self._held[key] = entry
            return entry.value

    def add(self, key: K, value: V) -> V:
        """Hold ``value`` under ``key``; when another thread added one meanwhile, that one is held and returned
        and ``value`` is evicted."""
        duplicate = None
        with self._lock:
            entry = self._held.get(key) or self._idle.pop(key, None)
            if entry is None:
                entry = _Entry(value)
            else:
                duplicate = value
            entry.holders += 1
            self._held[key] = entry
        if duplicate is not None:
            self._evict(duplicate)
        return entry.value

    def get(self, key: K) -> V:
        """The value of a held key.

        Raises:
            KeyError: nothing holds ``key``.
        """
        with self._lock:
            return self._held[key].value

    def release(self, key: K) -> None:
        """Drop one hold; an unheld value moves to the LRU, and the LRU's oldest beyond its size are evicted."""
        gone = []
        with self._lock:
            entry = self._held.get(key)
            if entry is None:
                return
            entry.holders -= 1
            if entry.holders > 0:
                return
            del self._held[key]
            self._idle[key] = entry
            while len(self._idle) > self._idle_size:
                gone.append(self._idle.popitem(last=False)[1].value)
        for value in gone:
            self._evict(value)

    def clear_idle(self) -> None:
        """Evict every unheld value."""
        with self._lock:
            gone = [e.value for e in self._idle.values()]
            self._idle.clear()
        for value in gone:
            self._evict(value)

    @property
    def loaded(self) -> int:
        """Values in the cache (held or idle)."""
        with self._lock:
            return len(self._held) + len(self._idle)

    @property
    def held(self) -> int:
        """Values held by at least one holder."""
        with self._lock:
            return len(self._held)
