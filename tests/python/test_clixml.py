"""The API's CliXml form (``application/clixml+xml``) on a real ``krtasks serve``: creation requests as CliXml keep
their arguments' .NET types, results come back as CliXml on request, JSON stays JSON, bad CliXml is a 400.

Requests are CliXml written here by a small serializer (hashtables, lists, strings, numbers, booleans, dates: what
PowerShell's PSSerializer writes for them); CliXml answers are read with PSSerializer itself, in this process.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
import requests

from clixml_writer import clixml
from daemon_fixtures import Daemon, start_daemon, wait_until_finished
from krtasks.runtime import RuntimeInfo

CLIXML = "application/clixml+xml"
PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    d = start_daemon(tmp_path_factory.mktemp("clixml"), "--max-runspaces", "2")
    yield d
    d.close()


@pytest.fixture(scope="module")
def api(daemon: Daemon) -> requests.Session:
    return daemon.session()


# ------------------------------------------------------------------------------------------------ CliXml writing


def post_clixml(api: requests.Session, daemon: Daemon, body: Any | str) -> requests.Response:
    text = body if isinstance(body, str) else clixml(body)
    headers = {"Content-Type": CLIXML}
    r: requests.Response = api.post(f"{daemon.url}/api/v1/tasks", data=text.encode(), headers=headers, timeout=30)
    return r


def create_clixml(api: requests.Session, daemon: Daemon, **fields: Any) -> dict[str, Any]:
    r = post_clixml(api, daemon, fields)
    assert r.status_code == 201, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    record: dict[str, Any] = r.json()
    return record


def finished(api: requests.Session, daemon: Daemon, task_id: str) -> dict[str, Any]:
    return wait_until_finished(api, daemon.url, task_id)


def json_result(api: requests.Session, daemon: Daemon, task_id: str) -> dict[str, Any]:
    r = api.get(f"{daemon.url}/api/v1/tasks/{task_id}/result", timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    result: dict[str, Any] = r.json()
    return result


def clixml_result(api: requests.Session, daemon: Daemon, task_id: str) -> str:
    r = api.get(f"{daemon.url}/api/v1/tasks/{task_id}/result", headers={"Accept": CLIXML}, timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith(CLIXML)
    return r.text


def deserialize(text: str) -> Any:
    """CliXml read back with PowerShell's own serializer (the runtime must be loaded)."""
    from System.Management.Automation import PSSerializer

    return base(PSSerializer.Deserialize(text))


def base(value: Any) -> Any:
    """The object a PSObject wraps (a deserialized property bag stays the PSObject: it wraps nothing of its own)."""
    from System.Management.Automation import PSCustomObject, PSObject

    if isinstance(value, PSObject) and not isinstance(value.BaseObject, PSCustomObject):
        return value.BaseObject
    return value


def problem(r: requests.Response, status: int, field: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"].startswith(PROBLEM)
    body: dict[str, Any] = r.json()
    assert body["field"] == field, body
    assert "Traceback" not in r.text
    return body


# ------------------------------------------------------------------------------------------------------- tests

ARGUMENTS = {
    "when": datetime(2030, 1, 1, 8, 30),
    "n": 41,
    "big": 5_000_000_000,
    "ratio": 0.5,
    "flag": True,
    "h": {"inner": {"x": 1}},
    "l": [1, "two"],
}


def test_a_clixml_creation_keeps_the_arguments_types_in_powershell(api: requests.Session, daemon: Daemon) -> None:
    code = (
        "param($when, $n, $big, $ratio, $flag, $h, $l) "
        "foreach ($v in $when, $n, $big, $ratio, $flag, $h, $h.inner, $l) { $v.GetType().FullName }; "
        "$when.AddDays(1).ToString('yyyy-MM-dd HH:mm'); $h.inner.x + $n"
    )
    record = create_clixml(api, daemon, Code=code, Arguments=ARGUMENTS, AutoStart=True, Name="typed")
    assert record["Name"] == "typed"
    assert finished(api, daemon, record["Id"])["State"] == "Completed"
    assert json_result(api, daemon, record["Id"])["Output"] == [
        "System.DateTime",
        "System.Int32",
        "System.Int64",
        "System.Double",
        "System.Boolean",
        "System.Collections.Hashtable",
        "System.Collections.Hashtable",
        "System.Collections.ArrayList",
        "2030-01-02 08:30",
        42,
    ]


def test_a_clixml_creation_gives_csharp_typed_variables(api: requests.Session, daemon: Daemon) -> None:
    # when.AddDays compiles only on a DateTime variable, n + 1 only on a number.
    code = 'return when.AddDays(1).DayOfWeek + "|" + (n + 1) + "|" + big.GetType().Name + "|" + h.GetType().Name;'
    record = create_clixml(api, daemon, Language="CSharp", Code=code, Arguments=ARGUMENTS, AutoStart=True)
    assert finished(api, daemon, record["Id"])["State"] == "Completed"
    assert json_result(api, daemon, record["Id"])["Output"] == "Wednesday|42|Int64|Hashtable"


def test_the_other_fields_of_a_clixml_creation_apply(api: requests.Session, daemon: Daemon) -> None:
    record = create_clixml(
        api,
        daemon,
        code="Start-Sleep -Seconds 20",
        Id="clixml-fields",
        Description="from CliXml",
        TimeoutSeconds=0.5,
        AutoStart=True,
    )
    assert record["Id"] == "clixml-fields" and record["Description"] == "from CliXml"
    assert record["TimeoutSeconds"] == 0.5
    done = finished(api, daemon, record["Id"])
    assert done["State"] == "Failed" and "Timeout" in done["Error"]["Type"]
    r = post_clixml(api, daemon, {"Code": "1", "Id": "clixml-fields"})
    assert r.status_code == 409 and r.headers["Content-Type"].startswith(PROBLEM)
    r = post_clixml(api, daemon, {"Code": "return y;", "Language": "CSharp"})
    assert r.status_code == 422 and r.json()["diagnostics"][0]["Id"] == "CS0103"


def test_a_clixml_result_round_trips(api: requests.Session, daemon: Daemon, runtime: RuntimeInfo) -> None:
    code = (
        "param($when) $when.AddDays(1); 7; @{ key = 'value'; when = $when }; "
        "[pscustomobject]@{ Name = 'n'; Count = 2 }; Get-Item $PSHOME; , @(1, 2)"
    )
    record = create_clixml(api, daemon, Code=code, Arguments={"when": datetime(2030, 1, 1)}, AutoStart=True)
    assert finished(api, daemon, record["Id"])["State"] == "Completed"
    text = clixml_result(api, daemon, record["Id"])
    result = deserialize(text)
    assert type(result).__name__ == "Hashtable"
    assert {str(k) for k in result.Keys} == {"Id", "CreatedAt", "State", "Output", "Error"}
    assert str(result["Id"]) == record["Id"] and str(result["State"]) == "Completed"
    assert str(result["CreatedAt"]) == record["CreatedAt"] and result["Error"] is None
    output = list(base(result["Output"]))
    assert len(output) == 6
    when, seven, table, _custom, _item, pair = (base(o) for o in output)
    assert when.GetType().FullName == "System.DateTime" and when.ToString("yyyy-MM-dd") == "2030-01-02"
    assert seven == 7 and "<I32>7</I32>" in text  # pythonnet hands Int32 over as int: the CliXml says which
    assert table.GetType().FullName == "System.Collections.Hashtable" and str(table["key"]) == "value"
    assert table["when"].GetType().FullName == "System.DateTime"
    assert str(output[3].TypeNames[0]) == "Deserialized.System.Management.Automation.PSCustomObject"
    assert str(output[3].Properties["Name"].Value) == "n" and int(output[3].Properties["Count"].Value) == 2
    assert str(output[4].TypeNames[0]) == "Deserialized.System.IO.DirectoryInfo"
    assert pair.GetType().FullName == "System.Collections.ArrayList" and [int(x) for x in pair] == [1, 2]


def test_accept_json_still_gives_json(api: requests.Session, daemon: Daemon) -> None:
    record = create_clixml(api, daemon, Code="param($n) $n; 'x'", Arguments={"n": 3}, AutoStart=True)
    assert finished(api, daemon, record["Id"])["State"] == "Completed"
    r = api.get(f"{daemon.url}/api/v1/tasks/{record['Id']}/result", headers={"Accept": "application/json"}, timeout=30)
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json()["Output"] == [3, "x"]
    assert json_result(api, daemon, record["Id"])["Output"] == [3, "x"]  # no Accept at all: JSON too


def test_a_json_created_task_answers_in_clixml_from_its_json_output(
    api: requests.Session, daemon: Daemon, runtime: RuntimeInfo
) -> None:
    code = "param($n) $n; [pscustomobject]@{ A = 1 }"
    body: dict[str, Any] = {"Code": code, "Arguments": {"n": 5}, "AutoStart": True}
    r = api.post(f"{daemon.url}/api/v1/tasks", json=body, timeout=30)
    assert r.status_code == 201, r.text
    task_id = r.json()["Id"]
    assert finished(api, daemon, task_id)["State"] == "Completed"
    result = deserialize(clixml_result(api, daemon, task_id))
    first, second = list(base(result["Output"]))
    assert int(base(first)) == 5
    assert int(second.Properties["A"].Value) == 1  # an object as ConvertFrom-Json would give it
    cs = api.post(
        f"{daemon.url}/api/v1/tasks", json={"Code": "return 42;", "Language": "CSharp", "AutoStart": True}, timeout=30
    )
    assert finished(api, daemon, cs.json()["Id"])["State"] == "Completed"
    assert int(base(deserialize(clixml_result(api, daemon, cs.json()["Id"]))["Output"])) == 42


def test_a_json_creation_with_serialization_depth_keeps_its_output_as_clixml(
    api: requests.Session, daemon: Daemon, runtime: RuntimeInfo
) -> None:
    body: dict[str, Any] = {"Code": "Get-Item $PSHOME", "SerializationDepth": 1, "AutoStart": True}
    task_id = api.post(f"{daemon.url}/api/v1/tasks", json=body, timeout=30).json()["Id"]
    assert finished(api, daemon, task_id)["State"] == "Completed"
    item = next(iter(base(deserialize(clixml_result(api, daemon, task_id))["Output"])))
    assert str(item.TypeNames[0]) == "Deserialized.System.IO.DirectoryInfo"
    assert isinstance(item.Properties["Parent"].Value, str)  # one level deep: the property's string
    too_deep = api.post(f"{daemon.url}/api/v1/tasks", json={"Code": "1", "SerializationDepth": 17}, timeout=30)
    problem(too_deep, 400, "SerializationDepth")


@pytest.mark.parametrize(
    "body",
    [
        "not xml at all",
        "<Objs",
        '<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04"><Obj RefId="0"><DCT>',
        "<html><body>hello</body></html>",
        "   ",
    ],
    ids=["text", "truncated", "unclosed", "other xml", "blank"],
)
def test_a_body_that_is_not_clixml_is_a_400_naming_body(api: requests.Session, daemon: Daemon, body: str) -> None:
    problem(post_clixml(api, daemon, body), 400, "body")


@pytest.mark.parametrize("value", ["just a string", 42, ["Code", "1"]], ids=["string", "number", "list"])
def test_clixml_that_is_not_a_hashtable_is_a_400_naming_body(api: requests.Session, daemon: Daemon, value: Any) -> None:
    problem(post_clixml(api, daemon, value), 400, "body")


@pytest.mark.parametrize("arguments", ["x", 1, [1, 2]], ids=["string", "number", "list"])
def test_arguments_that_are_not_a_hashtable_are_a_400(api: requests.Session, daemon: Daemon, arguments: Any) -> None:
    before = len(api.get(f"{daemon.url}/api/v1/tasks", timeout=30).json())
    problem(post_clixml(api, daemon, {"Code": "1", "Arguments": arguments}), 400, "Arguments")
    assert len(api.get(f"{daemon.url}/api/v1/tasks", timeout=30).json()) == before


def test_fields_of_a_clixml_creation_are_validated_as_json_ones(api: requests.Session, daemon: Daemon) -> None:
    problem(post_clixml(api, daemon, {"Code": "1", "Unknown": 1}), 400, "Unknown")
    problem(post_clixml(api, daemon, {"Code": 1}), 400, "Code")
    problem(post_clixml(api, daemon, {"Code": "1", "Arguments": {"1bad": 1}}), 400, "Arguments")
    problem(post_clixml(api, daemon, {"Language": "PowerShell"}), 400, "Code")


def test_errors_stay_problem_json_when_clixml_is_asked_for(api: requests.Session, daemon: Daemon) -> None:
    headers = {"Accept": CLIXML}
    r = api.get(f"{daemon.url}/api/v1/tasks/no-such-task/result", headers=headers, timeout=30)
    assert r.status_code == 404 and r.headers["Content-Type"].startswith(PROBLEM)
    record = create_clixml(api, daemon, Code="Start-Sleep -Seconds 30", AutoStart=True)
    r = api.get(f"{daemon.url}/api/v1/tasks/{record['Id']}/result", headers=headers, timeout=30)
    assert r.status_code == 409 and r.headers["Content-Type"].startswith(PROBLEM)
    assert json.loads(r.text)["status"] == 409
    api.post(f"{daemon.url}/api/v1/tasks/{record['Id']}/cancel", timeout=30)


def test_the_openapi_document_lists_the_clixml_media_type(api: requests.Session, daemon: Daemon) -> None:
    doc = api.get(f"{daemon.url}/api/v1/openapi.json", timeout=30).json()
    assert CLIXML in doc["paths"]["/api/v1/tasks"]["post"]["requestBody"]["content"]
    assert CLIXML in doc["paths"]["/api/v1/tasks/{id}/result"]["get"]["responses"]["200"]["content"]
