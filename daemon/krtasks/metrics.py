"""Prometheus metrics of the task service, in a registry of its own (served at ``/metrics``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from .models import TaskState


class _StateCollector(Collector):
    """Reads task counts by state and the queue length at scrape time (no bookkeeping to drift)."""

    def __init__(self, by_state: Callable[[], dict[str, int]], queue_length: Callable[[], int]) -> None:
        self._by_state = by_state
        self._queue_length = queue_length

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """Yield ``krtasks_tasks{state}`` and ``krtasks_queue_length``."""
        tasks = GaugeMetricFamily("krtasks_tasks", "Tasks in the registry by state.", labels=["state"])
        counts = self._by_state()
        for state in TaskState:
            tasks.add_metric([state.value], counts.get(state.value, 0))
        yield tasks
        yield GaugeMetricFamily("krtasks_queue_length", "Tasks waiting for a free slot.", value=self._queue_length())


class Metrics:
    """Counters and histograms the service updates; ``registry`` is what ``/metrics`` renders.

    - ``krtasks_runs_total{language,state}``: runs that ended, by final state.
    - ``krtasks_run_duration_seconds{language}``: StartedAt → CompletedAt of runs that started.
    - ``krtasks_abandoned_total``: cancelled runs whose code ignored cancellation past the grace period.
    - ``krtasks_compilations_total{language}``: C#/VB compilations (cache misses).
    """

    def __init__(self, by_state: Callable[[], dict[str, int]], queue_length: Callable[[], int]) -> None:
        self.registry = CollectorRegistry()
        self.runs = Counter("krtasks_runs", "Task runs that ended, by final state.", ["language", "state"],
                            registry=self.registry)
        self.durations = Histogram("krtasks_run_duration_seconds", "Run time of tasks (seconds).", ["language"],
                                   registry=self.registry,
                                   buckets=(0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600))
        self.abandoned = Counter("krtasks_abandoned", "Cancelled runs abandoned after the grace period.",
                                 registry=self.registry)
        self.compilations = Counter("krtasks_compilations", "C#/VB compilations (compile cache misses).",
                                    ["language"], registry=self.registry)
        self.registry.register(_StateCollector(by_state, queue_length))
