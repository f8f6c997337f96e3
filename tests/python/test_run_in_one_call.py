"""One call (``POST /api/v1/tasks`` with ``Wait``) against a real daemon (process isolation, real PowerShell
and Roslyn): each language answers 201 with its Output, the CliXml form answers with a typed result, and a
task that outlasts its wait answers 202 and goes on. The rest of the CliXml form is in test_clixml.py.

CliXml requests are written here as PowerShell writes them (``[PSSerializer]::Serialize`` of a hashtable,
the format of Export-Clixml); results are read back as XML and checked for their CliXml type tags.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from clixml_writer import clixml
from daemon_fixtures import Daemon, start_daemon, wait_until_finished

CLIXML = "application/clixml+xml"
NS = "{http://schemas.microsoft.com/powershell/2004/04}"


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    d = start_daemon(tmp_path_factory.mktemp("one-call"), "--max-runspaces", "2", "--min-workers", "1")
    yield d
    d.close()


@pytest.fixture(scope="module")
def api(daemon: Daemon) -> requests.Session:
    return daemon.session()


def post_clixml(
    api: requests.Session, daemon: Daemon, fields: dict[str, Any], accept: str = "application/json"
) -> requests.Response:
    return api.post(
        f"{daemon.url}/api/v1/tasks",
        data=clixml(fields).encode(),
        headers={"Content-Type": CLIXML, "Accept": accept},
        timeout=60,
    )


def output_tags(text: str) -> list[str]:
    """The CliXml tags of the result's Output items (``DT``, ``I64``, ``Obj``...)."""
    root = ET.fromstring(text)
    for entry in root.iter(f"{NS}En"):
        key = entry.find(f"{NS}S[@N='Key']")
        if key is not None and key.text == "Output":
            value = next(child for child in entry if child.get("N") == "Value")
            items = value.find(f"{NS}LST")
            children = list(items) if items is not None else [value]
            return [child.tag.removeprefix(NS) for child in children]
    raise AssertionError(f"no Output in {text[:300]}")


def test_one_call_in_clixml(api: requests.Session, daemon: Daemon) -> None:
    fields = {"Code": "$Start.AddDays(1)", "Arguments": {"Start": datetime(2026, 1, 1, tzinfo=UTC)}, "Wait": 60}
    r = post_clixml(api, daemon, fields, accept=CLIXML)
    assert r.status_code == 201, r.text
    assert r.headers["Content-Type"].startswith(CLIXML) and r.headers["Location"].startswith("/api/v1/tasks/")
    assert output_tags(r.text) == ["DT"] and "2026-01-02T00:00:00" in r.text


@pytest.mark.parametrize(
    ("body", "output"),
    [
        ({"Code": "param($N) 1..$N | Measure-Object -Sum | ForEach-Object Sum", "Arguments": {"N": 4}}, [10]),
        ({"Language": "CSharp", "Code": "return N * 2;", "Arguments": {"N": 21}}, 42),
        ({"Language": "VBNet", "Code": 'Return "vb"', "Arguments": {}}, "vb"),
    ],
)
def test_one_call_runs_each_language(api: requests.Session, daemon: Daemon, body: dict[str, Any], output: Any) -> None:
    r = api.post(f"{daemon.url}/api/v1/tasks", json={**body, "Wait": 60}, timeout=90)
    assert r.status_code == 201, r.text
    record = r.json()
    assert record["State"] == "Completed" and record["Output"] == output and record["Isolation"] == "process"


def test_one_call_that_outlasts_its_wait_goes_on(api: requests.Session, daemon: Daemon) -> None:
    r = api.post(f"{daemon.url}/api/v1/tasks", json={"Code": "Start-Sleep -Seconds 30", "Wait": 0.5}, timeout=60)
    assert r.status_code == 202, r.text
    assert r.json()["State"] in ("Running", "Queued") and "Output" not in r.json()
    assert api.post(f"{daemon.url}{r.headers['Location']}/cancel", timeout=10).status_code == 202
    assert wait_until_finished(api, daemon.url, r.json()["Id"], 30)["State"] == "Stopped"
