"""Ids with spaces and URL delimiters, blank ids and empty code (issue 12, point 3) against a real
``krtasks serve`` over verified HTTPS. Ids travel percent-encoded in the path; aiohttp routes on the
still-encoded path (``%2F`` and ``%25`` kept) and hands the handlers the decoded id."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import requests

from daemon_fixtures import Daemon, sse_events, start_daemon

IDS = ["job/1", "my task", "a%b", "a?b=c", "x#y", "back\\slash", "%2F", "a%252Fb", " padded ", "ünï/cødé"]


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    d = start_daemon(tmp_path_factory.mktemp("ids"), "--max-runspaces", "2")
    yield d
    d.close()


@pytest.fixture(scope="module")
def api(daemon: Daemon) -> requests.Session:
    return daemon.session()


def task_url(daemon: Daemon, task_id: str, action: str = "") -> str:
    """``/api/v1/tasks/<id>[/<action>]`` with the id percent-encoded as a single path segment."""
    return f"{daemon.url}/api/v1/tasks/{quote(task_id, safe='')}" + (f"/{action}" if action else "")


def create(api: requests.Session, daemon: Daemon, **body: Any) -> dict[str, Any]:
    r = api.post(f"{daemon.url}/api/v1/tasks", json=body, timeout=60)
    assert r.status_code == 201, r.text
    record: dict[str, Any] = r.json()
    return record


def wait_finished(api: requests.Session, daemon: Daemon, task_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        r = api.get(task_url(daemon, task_id, "wait"), params={"Timeout": 5}, timeout=30)
        assert r.status_code == 200, r.text
        record: dict[str, Any] = r.json()
        if record["State"] in ("Completed", "Failed", "Stopped"):
            return record
        assert time.monotonic() < deadline, record


@pytest.mark.parametrize("task_id", IDS)
def test_id_with_delimiters_works_on_every_route(api: requests.Session, daemon: Daemon, task_id: str) -> None:
    record = create(api, daemon, Code="Write-Warning 'w'; 'out'", Id=task_id)
    assert record["Id"] == task_id and record["Name"] == f"Task {task_id}"
    got = api.get(task_url(daemon, task_id), timeout=10)
    assert got.status_code == 200 and got.json()["Id"] == task_id
    # Case-insensitive as ever.
    assert api.get(task_url(daemon, task_id.upper()), timeout=10).json()["Id"] == task_id
    renamed = api.patch(task_url(daemon, task_id), json={"Name": "renamed"}, timeout=10)
    assert renamed.status_code == 200 and renamed.json()["Name"] == "renamed"
    started = api.post(task_url(daemon, task_id, "start"), timeout=10)
    assert started.status_code == 202 and started.json()["Id"] == task_id
    assert wait_finished(api, daemon, task_id)["State"] == "Completed"
    result = api.get(task_url(daemon, task_id, "result"), timeout=10).json()
    assert result["Id"] == task_id and result["Output"] == ["out"]
    streams = api.get(task_url(daemon, task_id, "streams"), timeout=10).json()
    assert [r["Message"] for r in streams["Records"]] == ["w"]
    assert api.post(task_url(daemon, task_id, "cancel"), timeout=10).status_code == 409  # finished
    with api.get(task_url(daemon, task_id, "events"), stream=True, timeout=10) as events:
        assert events.status_code == 200
        events.encoding = "utf-8"  # event streams are UTF-8 by definition; requests would guess Latin-1
        kind, data = next(sse_events(events))
        assert kind == "state" and data["Id"] == task_id
    assert api.delete(task_url(daemon, task_id), timeout=10).status_code == 204
    assert api.get(task_url(daemon, task_id), timeout=10).status_code == 404


def test_ids_differing_only_in_encoding_are_different_tasks(api: requests.Session, daemon: Daemon) -> None:
    # "a/b", "a%2Fb" and "a%252Fb" are three ids: none is decoded twice or left encoded.
    ids = ["a/b", "a%2Fb", "a%252Fb"]
    for task_id in ids:
        create(api, daemon, Code=f"'{task_id}'", Id=task_id)
    for task_id in ids:
        assert api.get(task_url(daemon, task_id), timeout=10).json()["Id"] == task_id
    # Sent unencoded, the slash splits the path: no route matches, it is not the task "a/b".
    assert api.get(f"{daemon.url}/api/v1/tasks/a/b", timeout=10).status_code == 404
    for task_id in ids:
        assert api.delete(task_url(daemon, task_id), timeout=10).status_code == 204


def test_id_length_and_control_characters(api: requests.Session, daemon: Daemon) -> None:
    longest = "L" * 127 + "/"
    assert create(api, daemon, Code="1", Id=longest)["Id"] == longest
    assert api.get(task_url(daemon, longest), timeout=10).status_code == 200
    for bad in ("x" * 129, "tab\there", "new\nline", "nul\x00", "del\x7f", "c1\x85"):
        r = api.post(f"{daemon.url}/api/v1/tasks", json={"Code": "1", "Id": bad}, timeout=10)
        assert r.status_code == 400 and r.json()["field"] == "Id", (bad, r.text)


@pytest.mark.parametrize("blank", ["", "   ", None])
def test_blank_id_gets_a_new_one(api: requests.Session, daemon: Daemon, blank: str | None) -> None:
    record = create(api, daemon, Code="1", Id=blank)
    assert re.fullmatch(r"[0-9a-f]{32}", record["Id"])


@pytest.mark.parametrize(("language", "output"), [("PowerShell", []), ("CSharp", None), ("VBNet", None)])
@pytest.mark.parametrize("code", ["", "  \n\t"])
def test_empty_code_is_a_task_with_no_output(
    api: requests.Session, daemon: Daemon, language: str, output: Any, code: str
) -> None:
    record = create(api, daemon, Code=code, Language=language, AutoStart=True)
    done = wait_finished(api, daemon, record["Id"])
    assert done["State"] == "Completed" and done["Error"] is None
    assert api.get(task_url(daemon, record["Id"], "result"), timeout=10).json()["Output"] == output
