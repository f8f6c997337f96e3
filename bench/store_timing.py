"""Bench-only instrumentation: how long a daemon's task store is busy, served at ``/metrics``.

The daemon has no store metrics of its own, so ``serve_wrapper.py --store-timing`` wraps the one place
each store does its work before the daemon starts, and adds two counters to the daemon's registry:

- ``krtasks_bench_store_busy_seconds_total{store,role}``: wall-clock seconds (perf_counter) the store was
  busy;
- ``krtasks_bench_store_calls_total{store,role}``: how many units of work that time covers.

What is timed, per store:

- SQLite (``store="sqlite"``, ``role="writer"``): each group-commit batch of the writer thread
  (``SqliteTaskStore._execute``: ``BEGIN IMMEDIATE`` … ``COMMIT``, or the one-by-one retry), counted once
  per batch. It runs on its own thread, concurrently with the event loop.
- PostgreSQL (``store="postgresql"``, ``role`` = the connection's role, ``writes`` or ``background``): each
  unit of work on a :class:`~krtasks.store.pglink.Link` connection (the statements and their commit, from
  sending the first to having the last answer decoded), once the connection is free; the wait for the
  connection's lock and a reconnect are not counted. It runs on the event loop, so a loop busy with other
  work when the answer arrives adds to it. The listening connection (notifications) is not a ``Link`` and
  is not counted.

Either way this is the time a task's durable writes (and, on PostgreSQL, its claims, fenced run writes,
lease renewals, change-feed polls and heartbeats) keep the store busy: it is not CPU time, and with two
cores under load it includes waiting for a core.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

T = TypeVar("T")

_lock = threading.Lock()
_busy: defaultdict[tuple[str, str], float] = defaultdict(float)
_calls: defaultdict[tuple[str, str], int] = defaultdict(int)


def _add(store: str, role: str, seconds: float) -> None:
    with _lock:
        _busy[store, role] += seconds
        _calls[store, role] += 1


class _StoreTimeCollector(Collector):
    def collect(self) -> Iterator[CounterMetricFamily]:
        """Yield the busy seconds and the call counts, by store and role."""
        busy = CounterMetricFamily(
            "krtasks_bench_store_busy_seconds", "Seconds the task store was busy (bench).", labels=["store", "role"]
        )
        calls = CounterMetricFamily(
            "krtasks_bench_store_calls", "Units of store work timed (bench).", labels=["store", "role"]
        )
        with _lock:
            for (store, role), seconds in sorted(_busy.items()):
                busy.add_metric([store, role], seconds)
                calls.add_metric([store, role], _calls[store, role])
        yield busy
        yield calls


def install() -> None:
    """Wrap the stores' work and register the counters with every :class:`krtasks.metrics.Metrics` created."""
    import krtasks.core  # noqa: F401  (first, as the daemon does: krtasks.metrics alone is a circular import)
    from krtasks import metrics
    from krtasks.store import pglink, sqlite

    execute = sqlite.SqliteTaskStore._execute

    def timed_execute(self: sqlite.SqliteTaskStore, batch: list[Any]) -> None:
        t0 = time.perf_counter()
        try:
            execute(self, batch)
        finally:
            _add("sqlite", "writer", time.perf_counter() - t0)

    sqlite.SqliteTaskStore._execute = timed_execute  # type: ignore[method-assign]

    run = pglink.Link.run

    async def timed_run(self: pglink.Link, fn: Callable[[pglink.Conn], Awaitable[T]]) -> T:
        role = self.name.rsplit(" ", 1)[-1]

        async def timed(conn: pglink.Conn) -> T:
            t0 = time.perf_counter()
            try:
                return await fn(conn)
            finally:
                _add("postgresql", role, time.perf_counter() - t0)

        return await run(self, timed)

    pglink.Link.run = timed_run  # type: ignore[method-assign]

    init = metrics.Metrics.__init__

    def init_with_store_time(self: metrics.Metrics, *args: Any, **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        self.registry.register(_StoreTimeCollector())

    metrics.Metrics.__init__ = init_with_store_time  # type: ignore[method-assign]
