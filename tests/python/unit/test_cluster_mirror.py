"""The mirror's rule for rows of the shared store, without a database: a row older than what the node knows
(a notification of an earlier write, fetched after the task finished) never takes the task back."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any, cast

import pytest

from krtasks.core.cluster.mirror import Mirror
from krtasks.core.engineset import EngineSet
from krtasks.core.entry import TaskEntry
from krtasks.core.hub import EventHub
from krtasks.core.journal import NullJournal
from krtasks.core.registry import Registry
from krtasks.core.states import reachable
from krtasks.models import StreamRecord, TaskData, TaskState
from krtasks.store.postgres_schema import Row
from unit.fakes import T0, task_data


def data(state: TaskState) -> TaskData:
    return task_data(
        "job",
        state=state,
        started_at=None if state == TaskState.NOT_STARTED else T0,
        completed_at=T0 if state.finished else None,
    )


def mirror_with(entry: TaskEntry) -> tuple[Mirror, Registry]:
    registry = Registry()
    registry.add(entry)
    hub = EventHub(NullJournal())
    mirror = Mirror(cast(Any, None), registry, hub, EngineSet(lambda _language: None), "node-a", lambda _e: None)
    return mirror, registry


@pytest.mark.parametrize(
    ("old", "new", "forward"),
    [
        (TaskState.NOT_STARTED, TaskState.COMPLETED, True),
        (TaskState.QUEUED, TaskState.STOPPED, True),
        (TaskState.RUNNING, TaskState.RUNNING, True),
        (TaskState.STOPPING, TaskState.FAILED, True),
        (TaskState.COMPLETED, TaskState.RUNNING, False),
        (TaskState.RUNNING, TaskState.QUEUED, False),
        (TaskState.STOPPING, TaskState.RUNNING, False),
        (TaskState.FAILED, TaskState.COMPLETED, False),
    ],
)
def test_reachable_follows_the_transition_table(old: TaskState, new: TaskState, forward: bool) -> None:
    assert reachable(old, new) is forward


def test_a_row_read_mid_run_does_not_undo_the_finished_task() -> None:
    # Seen by the cluster bench: /wait answered Running about once in 200 tasks on one node, because the node's
    # own writes left the entry's version behind and a row fetched for an earlier write then looked newer.
    entry = TaskEntry(data(TaskState.COMPLETED), version=5)
    entry.done.set()
    mirror, registry = mirror_with(entry)
    stale = Row(data(TaskState.RUNNING), version=7, cancel_requested=False, records_count=0)
    mirror._take(stale, [])
    assert registry.get("job").state == TaskState.COMPLETED and registry.get("job") is entry


def test_the_rescuers_row_replaces_a_lost_run_that_ended_here() -> None:
    # A node paused past its lease ends the run locally (Completed, its fenced write refused, not durable):
    # the Failed/Interrupted row another node wrote must win, though Completed -> Failed is not a transition.
    entry = TaskEntry(data(TaskState.COMPLETED), version=5)  # done not set: never durable
    mirror, registry = mirror_with(entry)
    rescued = Row(data(TaskState.FAILED), version=8, cancel_requested=False, records_count=0)
    mirror._take(rescued, [])
    assert registry.get("job").state == TaskState.FAILED


def test_a_newer_row_is_taken_in() -> None:
    entry = TaskEntry(data(TaskState.RUNNING), version=5)
    mirror, registry = mirror_with(entry)
    finished = Row(dataclasses.replace(data(TaskState.COMPLETED), name="renamed"), 6, False, 0)
    mirror._take(finished, [])
    assert registry.get("job").state == TaskState.COMPLETED and registry.get("job").data.name == "renamed"
    assert entry.version == 6


class FetchRecorder:
    """A stand-in for the store's fetch: records the keys asked for and answers each known one's row."""

    def __init__(self, rows: dict[str, Row]) -> None:
        self.rows = rows
        self.fetched: list[list[str]] = []

    async def fetch(self, keys: list[str]) -> list[Row]:
        self.fetched.append(list(keys))
        return [self.rows[k] for k in keys if k in self.rows]


async def test_a_notified_version_the_node_has_is_not_fetched() -> None:
    # The cluster bench: 5.3 fetches per task on one node, most of them rows of the node's own writes.
    entry = TaskEntry(data(TaskState.RUNNING), version=5)
    mirror, _registry = mirror_with(entry)
    store = FetchRecorder({"job": Row(data(TaskState.COMPLETED), 6, False, 0)})
    mirror._store = cast(Any, store)
    mirror.notified("t:job:5")  # this node's own write, already taken in
    await asyncio.sleep(0.01)
    assert store.fetched == [] and mirror.skipped == 1
    mirror.notified("t:job:6")  # someone else's
    await asyncio.sleep(0.01)
    assert store.fetched == [["job"]] and entry.state == TaskState.COMPLETED and entry.version == 6


@pytest.mark.parametrize(
    ("payload", "key"),
    [("t:a:b:7", "a:b"), ("t:job", "job"), ("t:job:x", "job:x"), ("t:url:8080", "url")],
)
async def test_notification_payloads_name_the_key(payload: str, key: str) -> None:
    # Keys may hold ":" (ids are free text); the version is the last, all-digit part (schema 3), else absent.
    mirror, _registry = mirror_with(TaskEntry(data(TaskState.RUNNING), version=1))
    store = FetchRecorder({})
    mirror._store = cast(Any, store)
    mirror.notified(payload)
    await asyncio.sleep(0.01)
    assert store.fetched == [[key]]


def record(index: int, message: str) -> StreamRecord:
    return StreamRecord(index, "Warning", message, "2026-01-01T00:00:00.0000000Z")


def test_a_lost_runs_records_that_never_became_durable_go_with_the_stored_row() -> None:
    # CI (test_a_paused_node_past_its_lease_cannot_finish_its_task): the paused node ended the run here
    # (Completed, 'after' written locally), its final write was refused, and the rescuer's Failed row came in:
    # the node went on serving 'after', a record the store never had.
    entry = TaskEntry(data(TaskState.COMPLETED), records=[record(0, "before"), record(1, "after")], version=5)
    mirror, registry = mirror_with(entry)
    rescued = Row(data(TaskState.FAILED), version=8, cancel_requested=False, records_count=1)
    mirror._take(rescued, [])
    assert [r.message for r in registry.get("job").records] == ["before"]
    assert entry.state == TaskState.FAILED and entry.done.is_set()


def test_a_lost_runs_final_state_is_announced_once_its_own_was_dropped() -> None:
    # The row was taken in while the refused write was in flight (same state), then that write's held
    # events were dropped: the stored final state must still be announced, so /wait and SSE end.
    entry = TaskEntry(data(TaskState.FAILED), version=0)
    mirror, _registry = mirror_with(entry)
    mirror._take(Row(data(TaskState.FAILED), version=8, cancel_requested=False, records_count=0), [])
    assert entry.done.is_set()


async def test_a_row_older_than_the_nodes_own_write_in_flight_changes_only_the_names() -> None:
    # A rename on another node, read while this node's final write is in flight: the row still says Running.
    entry = TaskEntry(data(TaskState.COMPLETED), records=[record(0, "pending")], version=5)
    entry.saved = asyncio.get_running_loop().create_future()
    mirror, _registry = mirror_with(entry)
    renamed = Row(dataclasses.replace(data(TaskState.RUNNING), name="renamed"), 6, False, 0)
    mirror._take(renamed, [])
    assert entry.state == TaskState.COMPLETED and entry.data.name == "renamed" and len(entry.records) == 1
    entry.saved.set_result(7)
