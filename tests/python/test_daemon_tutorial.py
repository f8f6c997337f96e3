"""The seed tutorial's "Try it" against a real ``krtasks demo`` (tutorial routes, no token) over verified HTTPS,
with the JSON Kestrun's tutorial serves (issue 12, points 11 and 12)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from daemon_fixtures import REPO, Daemon, start_daemon
from krtasks.web.kestrun_json import kestrun_output, timespan_object

SEED = REPO.parent / "shared" / "seed" / "tasks-tutorial.md"
# Kestrun's record fields in the order its tutorial serves them; KrTasks' own follow.
KESTRUN_FIELDS = [
    "Id",
    "Name",
    "Description",
    "State",
    "StartedAt",
    "CompletedAt",
    "Progress",
    "ParentId",
    "ChildrenId",
    "StateText",
    "Duration",
]
TIMESPAN_FIELDS = [
    "Ticks",
    "Days",
    "Hours",
    "Milliseconds",
    "Microseconds",
    "Nanoseconds",
    "Minutes",
    "Seconds",
    "TotalDays",
    "TotalHours",
    "TotalMilliseconds",
    "TotalMicroseconds",
    "TotalNanoseconds",
    "TotalMinutes",
    "TotalSeconds",
]
STATES = {"NotStarted": 0, "Running": 1, "Completed": 2, "Failed": 3, "Stopped": 4, "Stopping": 5, "Queued": 6}
OFFSET_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}\+00:00")
FINISHED = {"Completed", "Failed", "Stopped"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    daemon = start_daemon(tmp_path_factory.mktemp("demo"), command="demo")
    yield daemon
    daemon.close()


@pytest.fixture(scope="module")
def http(demo: Daemon) -> requests.Session:
    return demo.session()


def get(http: requests.Session, demo: Daemon, path: str) -> requests.Response:
    return http.get(demo.url + path, timeout=30)


def wait_state(
    http: requests.Session, demo: Daemon, task_id: str, states: set[str], timeout: float = 20
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        record: dict[str, Any] = get(http, demo, f"/tasks/state?id={task_id}").json()
        if record["StateText"] in states or time.monotonic() > deadline:
            return record
        time.sleep(0.1)


def assert_kestrun_record(record: dict[str, Any]) -> None:
    """The record as Kestrun serves it: its fields first, State a number matching StateText, +00:00 times,
    Duration a TimeSpan object computed from the two times."""
    assert list(record)[: len(KESTRUN_FIELDS)] == KESTRUN_FIELDS
    assert record["State"] == STATES[record["StateText"]]
    assert list(record["Progress"])[:2] == ["PercentComplete", "StatusMessage"]
    for key in ("StartedAt", "CompletedAt", "CreatedAt"):
        assert record[key] is None or OFFSET_TIME.fullmatch(record[key]), record[key]
    if record["CompletedAt"] is None or record["StartedAt"] is None:
        assert record["Duration"] is None
        return
    assert list(record["Duration"]) == TIMESPAN_FIELDS
    started = datetime.fromisoformat(record["StartedAt"])
    completed = datetime.fromisoformat(record["CompletedAt"])
    assert record["Duration"] == timespan_object((completed - started) // timedelta(microseconds=1) * 10)


def test_demo_listens_on_loopback_without_token(demo: Daemon, http: requests.Session) -> None:
    assert demo.url.startswith("https://127.0.0.1:")
    assert demo.token is None
    assert get(http, demo, "/api/v1/tasks").status_code == 200
    info = demo.daemon_json()
    assert info["Auth"] == "none" and info["Port"] == demo.port


def test_certificate_is_verified_not_skipped(demo: Daemon) -> None:
    # The system trust store does not know the self-signed certificate: verification really happens.
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(demo.url + "/hello", timeout=10)
    r = requests.get(demo.url + "/hello", verify=str(demo.cert), timeout=10)
    assert r.status_code == 200
    r = requests.get(f"https://localhost:{demo.port}/hello", verify=str(demo.cert), timeout=10)
    assert r.status_code == 200


def test_hello(demo: Daemon, http: requests.Session) -> None:
    r = get(http, demo, "/hello")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain")
    assert r.text == "Hello, Tasks World!"


def test_powershell_path(demo: Daemon, http: requests.Session) -> None:
    r = get(http, demo, "/tasks/create/ps?seconds=2")
    assert r.status_code == 200
    created = r.json()
    assert set(created) == {"id", "language"} and created["language"] == "PowerShell"
    task_id = created["id"]
    assert re.fullmatch(r"[0-9a-f]{32}", task_id)

    record = get(http, demo, f"/tasks/state?id={task_id}").json()
    assert_kestrun_record(record)
    assert record["State"] == 0 and record["StateText"] == "NotStarted"
    assert record["Name"] == f"Task {task_id}" and record["ParentId"] == "" and record["ChildrenId"] == []
    assert record["Progress"]["StatusMessage"] == "Not started" and record["Duration"] is None
    r = get(http, demo, f"/tasks/result?id={task_id}")
    assert r.status_code == 409 and r.json() == {"error": "Task is not in a completed state"}

    r = get(http, demo, f"/tasks/start?id={task_id}")
    assert r.status_code == 202 and r.json() == {"started": True, "id": task_id}
    r = get(http, demo, f"/tasks/start?id={task_id}")
    assert r.status_code == 409 and r.json() == {"started": False, "id": task_id}

    running = wait_state(http, demo, task_id, {"Running"})
    assert running["State"] == 1 and OFFSET_TIME.fullmatch(running["StartedAt"])
    progress = set()  # the loop reports its 1 s steps through $TaskProgress: poll them while it runs
    deadline = time.monotonic() + 30
    while (record := get(http, demo, f"/tasks/state?id={task_id}").json())["StateText"] == "Running":
        progress.add((record["Progress"]["PercentComplete"], record["Progress"]["StatusMessage"]))
        assert time.monotonic() < deadline
        time.sleep(0.1)
    # Progress only while i < seconds: step 1 of 2 is reported, step 2 of 2 never.
    assert (0, "Sleeping (1/2)") in progress and not any("(2/2)" in m for _, m in progress), progress
    done = record
    assert_kestrun_record(done)
    assert done["State"] == 2 and done["StateText"] == "Completed"
    assert done["Progress"]["PercentComplete"] == 100 and done["Progress"]["StatusMessage"] == "Completed"
    assert 2.0 <= done["Duration"]["TotalSeconds"] < 9 and done["Duration"]["Seconds"] >= 2  # two 1 s steps
    output = get(http, demo, f"/tasks/result?id={task_id}").json()
    assert isinstance(output, str) and output.startswith("PS task done at 20")  # one output: unrolled
    assert datetime.fromisoformat(output.removeprefix("PS task done at ")).tzinfo is not None  # ToString('o')


def test_csharp_path(demo: Daemon, http: requests.Session) -> None:
    created = get(http, demo, "/tasks/create/cs?ms=2000").json()
    assert created["language"] == "CSharp"
    task_id = created["id"]
    assert get(http, demo, f"/tasks/start?id={task_id}").status_code == 202
    progress = set()
    while (record := get(http, demo, f"/tasks/state?id={task_id}").json())["StateText"] not in FINISHED:
        progress.add((record["Progress"]["PercentComplete"], record["Progress"]["StatusMessage"]))
        time.sleep(0.05)
    # "Working i/5" and (i-1)*20 percent before each of the five steps.
    assert progress & {((i - 1) * 20, f"Working {i}/5") for i in range(2, 6)}, progress
    # The code's own TaskProgress.Complete("Completed") may be seen while the task still returns its result.
    allowed = {(0, "Not started"), (0, "Running"), (100, "Completed")}
    assert progress <= allowed | {((i - 1) * 20, f"Working {i}/5") for i in range(1, 6)}
    assert record["StateText"] == "Completed" and record["State"] == 2, record
    assert record["Progress"] == {**record["Progress"], "PercentComplete": 100, "StatusMessage": "Completed"}
    assert_kestrun_record(record)
    output = get(http, demo, f"/tasks/result?id={task_id}").json()
    assert isinstance(output, str) and output.startswith("CS task done at ") and output.endswith("Z")


def test_csharp_cancel_lets_it_finish_stopped_with_its_result(demo: Daemon, http: requests.Session) -> None:
    # No token in the tutorial's C# task: the cancel is asked for, the code runs to its end, the task ends
    # Stopped and keeps what it returned.
    task_id = get(http, demo, "/tasks/create/cs?ms=1500").json()["id"]
    assert get(http, demo, f"/tasks/start?id={task_id}").status_code == 202
    deadline = time.monotonic() + 20
    while get(http, demo, f"/tasks/state?id={task_id}").json()["Progress"]["StatusMessage"] != "Working 2/5":
        assert time.monotonic() < deadline
        time.sleep(0.02)
    r = get(http, demo, f"/tasks/cancel?id={task_id}")
    assert r.status_code == 202 and r.json() == {"cancelled": True, "id": task_id}
    assert get(http, demo, f"/tasks/state?id={task_id}").json()["StateText"] in ("Stopping", "Stopped")
    done = wait_state(http, demo, task_id, FINISHED)
    assert done["State"] == 4 and done["StateText"] == "Stopped"
    assert done["Progress"]["StatusMessage"] == "Cancelled" and done["Duration"]["TotalMilliseconds"] >= 1000
    output = get(http, demo, f"/tasks/result?id={task_id}").json()
    assert isinstance(output, str) and output.startswith("CS task done at ")


def test_defaults_when_query_missing_or_not_positive(demo: Daemon, http: requests.Session) -> None:
    ps = get(http, demo, "/tasks/create/ps?seconds=0").json()
    cs = get(http, demo, "/tasks/create/cs").json()
    api = demo.session()
    assert api.get(f"{demo.url}/api/v1/tasks/{ps['id']}", timeout=10).json()["Language"] == "PowerShell"
    assert api.get(f"{demo.url}/api/v1/tasks/{cs['id']}", timeout=10).json()["Language"] == "CSharp"
    for task_id in (ps["id"], cs["id"]):
        assert get(http, demo, f"/tasks/remove?id={task_id}").json() == {"removed": True, "id": task_id}


def test_cancel_and_remove(demo: Daemon, http: requests.Session) -> None:
    task_id = get(http, demo, "/tasks/create/ps?seconds=30").json()["id"]
    assert get(http, demo, f"/tasks/start?id={task_id}").status_code == 202
    wait_state(http, demo, task_id, {"Running"})
    r = get(http, demo, f"/tasks/remove?id={task_id}")  # still running
    assert r.status_code == 404 and r.json() == {"removed": False, "id": task_id}

    r = get(http, demo, f"/tasks/cancel?id={task_id}")
    assert r.status_code == 202 and r.json() == {"cancelled": True, "id": task_id}
    stopped = wait_state(http, demo, task_id, FINISHED)
    assert stopped["StateText"] == "Stopped" and stopped["State"] == 4
    r = get(http, demo, f"/tasks/cancel?id={task_id}")
    assert r.status_code == 409 and r.json() == {"cancelled": False, "id": task_id}

    r = get(http, demo, f"/tasks/remove?id={task_id}")
    assert r.status_code == 200 and r.json() == {"removed": True, "id": task_id}
    r = get(http, demo, f"/tasks/remove?id={task_id}")
    assert r.status_code == 404 and r.json() == {"removed": False, "id": task_id}
    r = get(http, demo, f"/tasks/state?id={task_id}")
    assert r.status_code == 404 and r.json() == {"error": "Task not found"}
    r = get(http, demo, f"/tasks/result?id={task_id}")
    assert r.status_code == 404 and r.json() == {"error": "Task not found"}


def test_cancel_before_start(demo: Daemon, http: requests.Session) -> None:
    task_id = get(http, demo, "/tasks/create/cs?ms=5000").json()["id"]
    assert get(http, demo, f"/tasks/cancel?id={task_id}").status_code == 202
    record = get(http, demo, f"/tasks/state?id={task_id}").json()
    assert record["State"] == 4 and record["Progress"]["StatusMessage"] == "Cancelled before start"
    assert record["StartedAt"] is None and record["Duration"] is None and OFFSET_TIME.fullmatch(record["CompletedAt"])
    assert get(http, demo, f"/tasks/start?id={task_id}").json() == {"started": False, "id": task_id}


def test_unknown_ids(demo: Daemon, http: requests.Session) -> None:
    unknown = "0" * 32
    assert get(http, demo, f"/tasks/start?id={unknown}").json() == {"started": False, "id": unknown}
    assert get(http, demo, f"/tasks/cancel?id={unknown}").status_code == 409
    r = get(http, demo, f"/tasks/state?id={unknown}")
    assert r.status_code == 404 and r.json() == {"error": "Task not found"}


@pytest.mark.parametrize("route", ["start", "state", "result", "cancel", "remove"])
def test_missing_id_is_400(demo: Daemon, http: requests.Session, route: str) -> None:
    for query in ("", "?id=", "?id=%20%20"):
        r = get(http, demo, f"/tasks/{route}{query}")
        assert r.status_code == 400 and r.json() == {"error": "Missing 'id' query parameter"}


def test_list_returns_records_newest_first(demo: Daemon, http: requests.Session) -> None:
    a = get(http, demo, "/tasks/create/ps?seconds=1").json()["id"]
    b = get(http, demo, "/tasks/create/cs?ms=100").json()["id"]
    listed = get(http, demo, "/tasks/list").json()
    assert isinstance(listed, list)
    ids = [r["Id"] for r in listed]
    assert ids.index(b) < ids.index(a)
    for record in listed:
        assert_kestrun_record(record)
    assert get(http, demo, f"/tasks/state?id={a}").json() == next(r for r in listed if r["Id"] == a)
    # The REST API keeps its own JSON for the same task.
    api = demo.session()
    clean = api.get(f"{demo.url}/api/v1/tasks/{a}", timeout=10).json()
    assert clean["State"] == "NotStarted" and clean["CreatedAt"].endswith("Z") and clean["Duration"] is None


def test_run_ps_one_shot(demo: Daemon, http: requests.Session) -> None:
    r = get(http, demo, "/tasks/run/ps")
    assert r.status_code == 202
    body = r.json()
    assert body["started"] is True and set(body) == {"id", "started"}
    done = wait_state(http, demo, body["id"], FINISHED)
    assert done["StateText"] == "Completed"
    output = get(http, demo, f"/tasks/result?id={body['id']}").json()
    assert isinstance(output, str) and output.startswith("20")  # Get-Date, the one output, unrolled


def test_ids_are_case_insensitive(demo: Daemon, http: requests.Session) -> None:
    task_id = get(http, demo, "/tasks/create/cs?ms=100").json()["id"]
    assert get(http, demo, f"/tasks/state?ID={task_id.upper()}").json()["Id"] == task_id


def test_result_unrolls_as_kestrun(demo: Daemon, http: requests.Session) -> None:
    # Tasks made through the API (served by the demo too) with none, one and several outputs.
    api = demo.session()
    cases = [
        ("PowerShell", "$null = 1", None),
        ("PowerShell", "'one'", "one"),
        ("PowerShell", "[pscustomobject]@{ A = 1 }", {"A": 1}),
        ("PowerShell", "1; 'two'; 3", [1, "two", 3]),
        ("PowerShell", ",@(1, 2)", [1, 2]),
        ("CSharp", "return new[] { 7 };", [7]),
        ("CSharp", "return null;", None),
        ("VBNet", 'Return "vb"', "vb"),
    ]
    ids = []
    for language, code, _ in cases:
        r = api.post(
            f"{demo.url}/api/v1/tasks", json={"Language": language, "Code": code, "AutoStart": True}, timeout=60
        )
        assert r.status_code == 201, r.text
        ids.append(r.json()["Id"])
    for task_id, (language, code, expected) in zip(ids, cases, strict=True):
        assert wait_state(http, demo, task_id, FINISHED)["StateText"] == "Completed"
        r = get(http, demo, f"/tasks/result?id={task_id}")
        assert r.status_code == 200 and r.json() == expected, (language, code, r.text)


def test_ids_with_delimiters_in_the_query(demo: Daemon, http: requests.Session) -> None:
    api = demo.session()
    for task_id in ("job/1 & a%b?#", " padded "):
        r = api.post(f"{demo.url}/api/v1/tasks", json={"Code": "'x'", "Id": task_id}, timeout=30)
        assert r.status_code == 201 and r.json()["Id"] == task_id
        r = http.get(f"{demo.url}/tasks/state", params={"id": task_id}, timeout=10)
        assert r.status_code == 200 and r.json()["Id"] == task_id
        r = http.get(f"{demo.url}/tasks/remove", params={"id": task_id}, timeout=10)
        assert r.json() == {"removed": True, "id": task_id}


def test_timespan_object_matches_dotnet() -> None:
    # [timespan]::FromTicks(20015432) | ConvertTo-Json, in PowerShell 7.6 on .NET 10.
    assert timespan_object(20015432) == {
        "Ticks": 20015432,
        "Days": 0,
        "Hours": 0,
        "Milliseconds": 1,
        "Microseconds": 543,
        "Nanoseconds": 200,
        "Minutes": 0,
        "Seconds": 2,
        "TotalDays": 2.3166009259259258e-05,
        "TotalHours": 0.0005559842222222222,
        "TotalMilliseconds": 2001.5432,
        "TotalMicroseconds": 2001543.2,
        "TotalNanoseconds": 2001543200.0,
        "TotalMinutes": 0.03335905333333333,
        "TotalSeconds": 2.0015432,
    }
    big = timespan_object(((((1 * 24 + 2) * 60 + 3) * 60 + 4) * 1000 + 5) * 10_000 + 67)  # 1.02:03:04.0050067
    assert [big[k] for k in ("Days", "Hours", "Minutes", "Seconds", "Milliseconds", "Microseconds", "Nanoseconds")] == [
        1,
        2,
        3,
        4,
        5,
        6,
        700,
    ]
    assert kestrun_output("CSharp", [1]) == [1] and kestrun_output("PowerShell", []) is None


# ---------------------------------------------------------------------------------------------------------------
# The seed's own code blocks, run as written (only the base URL's port differs), in PowerShell.


def _seed_blocks() -> list[str]:
    if not SEED.exists():
        pytest.skip(f"the seed page is not at {SEED}")
    section = SEED.read_text().split("## Try it", 1)[1]
    return re.findall(r"```powershell\n(.*?)```", section, flags=re.S)


def _run_pwsh(script: str, work: Path) -> subprocess.CompletedProcess[str]:
    if shutil.which("dotnet") is None:
        pytest.skip("dotnet is not on PATH")
    path = work / "try-it.ps1"
    path.write_text(script)
    return subprocess.run(
        ["dotnet", "pwsh", "-NoProfile", "-NonInteractive", "-File", str(path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _json_values(text: str) -> list[Any]:
    decoder, values, i = json.JSONDecoder(), [], 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        value, i = decoder.raw_decode(text, i)
        values.append(value)
    return values


def test_seed_curl_block_verbatim(demo: Daemon, http: requests.Session, tmp_path: Path) -> None:
    if shutil.which("curl") is None or shutil.which("jq") is None:
        pytest.skip("curl or jq is missing")
    block = _seed_blocks()[0]
    assert "$base = 'https://127.0.0.1:5000'" in block
    task_id = get(http, demo, "/tasks/create/ps?seconds=2").json()["id"]
    script = block.replace("https://127.0.0.1:5000", demo.url).replace("REPLACE_WITH_ID", task_id)
    done = _run_pwsh(script, tmp_path)
    assert done.returncode == 0, done.stderr
    values = _json_values(done.stdout)
    assert len(values) == 8, done.stdout
    ps, cs, started, state, result, cancelled, removed, listed = values
    assert ps["language"] == "PowerShell" and cs["language"] == "CSharp"
    assert started == {"started": True, "id": task_id}
    assert state["Id"] == task_id and state["State"] in (1, 2)
    assert result == {"error": "Task is not in a completed state"} or str(result).startswith("PS task done at")
    assert cancelled == {"cancelled": True, "id": task_id}
    assert removed["id"] == task_id and set(removed) == {"removed", "id"}
    assert isinstance(listed, list) and {ps["id"], cs["id"]} <= {r["Id"] for r in listed}


def test_seed_invoke_webrequest_block_verbatim(demo: Daemon, tmp_path: Path) -> None:
    block = _seed_blocks()[1]
    script = block.replace("https://127.0.0.1:5000", demo.url)
    # Print what the block's pipelines emit as JSON so the test can read it back.
    script = (
        "$ErrorActionPreference = 'Continue'\n& {\n"
        + script
        + "\n} | ForEach-Object { $_ | ConvertTo-Json -Depth 5 -Compress }\n"
    )
    done = _run_pwsh(script, tmp_path)
    values = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    state = values[0]
    assert state["State"] == 1 and state["StateText"] == "Running" and state["Progress"]["StatusMessage"]
    # The result of a running task is a 409, which Invoke-WebRequest reports as an error (as with Kestrun).
    assert "409" in done.stderr or "Conflict" in done.stderr or "error" in done.stderr.lower()
    listed = [r for v in values[1:] for r in (v if isinstance(v, list) else [v])]
    assert state["Id"] in {r["Id"] for r in listed}
