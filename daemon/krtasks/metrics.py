"""Prometheus metrics of the task service, in a registry of its own (served at ``/metrics``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from .core.entry import TaskEntry
from .core.observers import TaskObserver
from .core.states import StateChange
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
    - ``krtasks_http_malformed_requests_total{reason}``: requests the HTTP parser refused (400), by the
      parser's exception class (:mod:`krtasks.web.protocol_log`).
    """

    def __init__(self, by_state: Callable[[], dict[str, int]], queue_length: Callable[[], int]) -> None:
        self.registry = CollectorRegistry()
        self.runs = Counter(
            "krtasks_runs", "Task runs that ended, by final state.", ["language", "state"], registry=self.registry
        )
        self.durations = Histogram(
            "krtasks_run_duration_seconds",
            "Run time of tasks (seconds).",
            ["language"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600),
        )
        self.abandoned = Counter(
            "krtasks_abandoned", "Cancelled runs abandoned after the grace period.", registry=self.registry
        )
        self.compilations = Counter(
            "krtasks_compilations", "C#/VB compilations (compile cache misses).", ["language"], registry=self.registry
        )
        self.malformed_requests = Counter(
            "krtasks_http_malformed_requests",
            "Requests the HTTP parser refused with 400, by the parser's reason.",
            ["reason"],
            registry=self.registry,
        )
        self.registry.register(_StateCollector(by_state, queue_length))


class MetricsObserver(TaskObserver):
    """Counts finished runs with their duration, and abandoned runs, as the tasks change."""

    name = "metrics"

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def changed(self, task: TaskEntry, change: StateChange) -> None:
        """A run that ended: count it by final state and observe StartedAt → CompletedAt."""
        if not change.ended_run:
            return
        d = task.data
        self._metrics.runs.labels(d.language.value, change.new.value).inc()
        if d.started_at is not None and d.completed_at is not None:
            self._metrics.durations.labels(d.language.value).observe((d.completed_at - d.started_at).total_seconds())

    def abandoned(self, task: TaskEntry) -> None:
        """Count the abandoned run."""
        self._metrics.abandoned.inc()
