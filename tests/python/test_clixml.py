"""The CliXml form of the API and the one-call ``Wait`` against a real daemon (process isolation, real
PowerShell and Roslyn): typed arguments in, typed results out, and bad CliXml refused with 400.

Requests are written here as PowerShell writes them (``[PSSerializer]::Serialize`` of a hashtable, the
format of Export-Clixml); results are read back as XML and checked for their CliXml type tags.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape

import pytest
import requests

from daemon_fixtures import Daemon, start_daemon, wait_until_finished

CLIXML = "application/clixml+xml"
NS = "{http://schemas.microsoft.com/powershell/2004/04}"


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    d = start_daemon(tmp_path_factory.mktemp("clixml"), "--max-runspaces", "2", "--min-workers", "1")
    yield d
    d.close()


@pytest.fixture(scope="module")
def api(daemon: Daemon) -> requests.Session:
    return daemon.session()


class _Writer:
    """CliXml of Python values: str, bool, int (Int32 or Int64), float, datetime, None, dict (Hashtable)."""

    def __init__(self) -> None:
        self.ref = 0

    def value(self, v: Any, name: str | None = None) -> str:
        n = f' N="{escape(name)}"' if name is not None else ""
        if v is None:
            return f"<Nil{n} />"
        if isinstance(v, bool):
            return f"<B{n}>{str(v).lower()}</B>"
        if isinstance(v, int):
            tag = "I32" if -(2**31) <= v < 2**31 else "I64"
            return f"<{tag}{n}>{v}</{tag}>"
        if isinstance(v, float):
            return f"<Db{n}>{v!r}</Db>"
        if isinstance(v, datetime):
            return f"<DT{n}>{v.isoformat().replace('+00:00', 'Z')}</DT>"
        if isinstance(v, str):
            return f"<S{n}>{escape(v)}</S>"
        if isinstance(v, dict):
            ref = self.ref
            self.ref += 1
            entries = "".join(f"<En>{self.value(k, 'Key')}{self.value(item, 'Value')}</En>" for k, item in v.items())
            tn = (
                '<TN RefId="0"><T>System.Collections.Hashtable</T><T>System.Object</T></TN>'
                if ref == 0
                else ('<TNRef RefId="0" />')
            )
            return f'<Obj{n} RefId="{ref}">{tn}<DCT>{entries}</DCT></Obj>'
        raise TypeError(type(v))


def clixml(fields: dict[str, Any]) -> str:
    """CliXml of a hashtable of ``fields``, as ``[PSSerializer]::Serialize(@{...})`` writes it."""
    body = _Writer().value(fields)
    return f'<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">{body}</Objs>'


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


def test_clixml_arguments_keep_their_dotnet_types(api: requests.Session, daemon: Daemon) -> None:
    when = datetime(2026, 12, 2, 10, 30, tzinfo=UTC)
    fields = {
        "Code": "$When.GetType().FullName; $Count.GetType().FullName; $Table.GetType().Name; $When.Minute",
        "Arguments": {"When": when, "Count": 2**40, "Table": {"a": 1}},
        "AutoStart": True,
    }
    r = post_clixml(api, daemon, fields)
    assert r.status_code == 201, r.text
    wait_until_finished(api, daemon.url, r.json()["Id"], 60)
    result = api.get(f"{daemon.url}/api/v1/tasks/{r.json()['Id']}/result", timeout=10).json()
    assert result["State"] == "Completed", result
    assert result["Output"] == ["System.DateTime", "System.Int64", "Hashtable", 30]


def test_clixml_results_are_typed(api: requests.Session, daemon: Daemon) -> None:
    # A JSON request that asks to keep CliXml output (SerializationDepth) gets typed results on request.
    code = "[datetime]'2020-01-02T00:00:00Z'; [long]5; @{ k = 'v' }"
    r = api.post(
        f"{daemon.url}/api/v1/tasks", json={"Code": code, "AutoStart": True, "SerializationDepth": 2}, timeout=60
    )
    assert r.status_code == 201, r.text
    wait_until_finished(api, daemon.url, r.json()["Id"], 60)
    typed = api.get(f"{daemon.url}/api/v1/tasks/{r.json()['Id']}/result", headers={"Accept": CLIXML}, timeout=10)
    assert typed.status_code == 200 and typed.headers["Content-Type"].startswith(CLIXML)
    assert output_tags(typed.text) == ["DT", "I64", "Obj"], typed.text
    as_json = api.get(f"{daemon.url}/api/v1/tasks/{r.json()['Id']}/result", timeout=10).json()
    assert as_json["Output"][1:] == [5, {"k": "v"}]


def test_one_call_in_clixml(api: requests.Session, daemon: Daemon) -> None:
    fields = {"Code": "$Start.AddDays(1)", "Arguments": {"Start": datetime(2026, 1, 1, tzinfo=UTC)}, "Wait": 60}
    r = post_clixml(api, daemon, fields, accept=CLIXML)
    assert r.status_code == 201, r.text
    assert r.headers["Content-Type"].startswith(CLIXML) and r.headers["Location"].startswith("/api/v1/tasks/")
    assert output_tags(r.text) == ["DT"] and "2026-01-02T00:00:00" in r.text


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ("<Objs", "not CliXml"),
        (
            '<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04"><S>x</S></Objs>',
            "hashtable",
        ),
        ("", "CliXml document is required"),
    ],
)
def test_bad_clixml_is_400_naming_the_body(api: requests.Session, daemon: Daemon, body: str, detail: str) -> None:
    r = api.post(f"{daemon.url}/api/v1/tasks", data=body.encode(), headers={"Content-Type": CLIXML}, timeout=30)
    assert r.status_code == 400, r.text
    assert r.json()["field"] == "body" and detail in r.json()["detail"]


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
