"""The seed tutorial's "Try it" against a real ``krtasks demo`` (tutorial routes, no token) over verified HTTPS."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from daemon_fixtures import REPO, Daemon, start_daemon

SEED = REPO.parent / "shared" / "seed" / "tasks-tutorial.md"
RECORD_KEYS = {
    "Id",
    "Name",
    "Description",
    "State",
    "StateText",
    "StartedAt",
    "CompletedAt",
    "Progress",
    "ParentId",
    "ChildrenId",
    "Duration",
}


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
        if record["State"] in states or time.monotonic() > deadline:
            return record
        time.sleep(0.1)


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
    assert set(record) >= RECORD_KEYS and record["State"] == "NotStarted"
    assert record["Name"] == f"Task {task_id}" and record["ParentId"] == "" and record["ChildrenId"] == []
    r = get(http, demo, f"/tasks/result?id={task_id}")
    assert r.status_code == 409 and set(r.json()) == {"error"}

    r = get(http, demo, f"/tasks/start?id={task_id}")
    assert r.status_code == 202 and r.json() == {"started": True, "id": task_id}
    r = get(http, demo, f"/tasks/start?id={task_id}")
    assert r.status_code == 409 and r.json() == {"started": False, "id": task_id}

    running = wait_state(http, demo, task_id, {"Running"})
    assert running["StartedAt"].endswith("Z")
    messages = set()  # the loop reports its 1 s steps through $TaskProgress: poll them while it runs
    deadline = time.monotonic() + 30
    while (record := get(http, demo, f"/tasks/state?id={task_id}").json())["State"] == "Running":
        messages.add(record["Progress"]["StatusMessage"])
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert messages & {"Sleeping (1/2)", "Sleeping (2/2)"}, messages
    done = record
    assert done["State"] == done["StateText"] == "Completed"
    assert done["Progress"]["PercentComplete"] == 100 and done["Progress"]["StatusMessage"] == "Completed"
    assert re.fullmatch(r"00:00:0[2-9]\.\d{7}", done["Duration"])  # two 1 s steps
    output = get(http, demo, f"/tasks/result?id={task_id}").json()
    assert isinstance(output, list) and len(output) == 1
    assert output[0].startswith("PS task done at 20")


def test_csharp_path(demo: Daemon, http: requests.Session) -> None:
    created = get(http, demo, "/tasks/create/cs?ms=1500").json()
    assert created["language"] == "CSharp"
    task_id = created["id"]
    assert get(http, demo, f"/tasks/start?id={task_id}").status_code == 202
    done = wait_state(http, demo, task_id, {"Completed", "Failed", "Stopped"})
    assert done["State"] == "Completed", done
    output = get(http, demo, f"/tasks/result?id={task_id}").json()
    assert isinstance(output, str) and output.startswith("CS task done at ") and output.endswith("Z")


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
    stopped = wait_state(http, demo, task_id, {"Stopped", "Completed", "Failed"})
    assert stopped["State"] == "Stopped"
    r = get(http, demo, f"/tasks/cancel?id={task_id}")
    assert r.status_code == 409 and r.json() == {"cancelled": False, "id": task_id}

    r = get(http, demo, f"/tasks/remove?id={task_id}")
    assert r.status_code == 200 and r.json() == {"removed": True, "id": task_id}
    r = get(http, demo, f"/tasks/remove?id={task_id}")
    assert r.status_code == 404 and r.json() == {"removed": False, "id": task_id}
    r = get(http, demo, f"/tasks/state?id={task_id}")
    assert r.status_code == 404 and set(r.json()) == {"error"}
    assert get(http, demo, f"/tasks/result?id={task_id}").status_code == 404


def test_cancel_before_start(demo: Daemon, http: requests.Session) -> None:
    task_id = get(http, demo, "/tasks/create/cs?ms=5000").json()["id"]
    assert get(http, demo, f"/tasks/cancel?id={task_id}").status_code == 202
    record = get(http, demo, f"/tasks/state?id={task_id}").json()
    assert record["State"] == "Stopped"
    assert get(http, demo, f"/tasks/start?id={task_id}").json() == {"started": False, "id": task_id}


def test_unknown_ids(demo: Daemon, http: requests.Session) -> None:
    unknown = "0" * 32
    assert get(http, demo, f"/tasks/start?id={unknown}").json() == {"started": False, "id": unknown}
    assert get(http, demo, f"/tasks/cancel?id={unknown}").status_code == 409
    assert get(http, demo, f"/tasks/state?id={unknown}").status_code == 404


@pytest.mark.parametrize("route", ["start", "state", "result", "cancel", "remove"])
def test_missing_id_is_400(demo: Daemon, http: requests.Session, route: str) -> None:
    r = get(http, demo, f"/tasks/{route}")
    assert r.status_code == 400 and set(r.json()) == {"error"}


def test_list_returns_records_newest_first(demo: Daemon, http: requests.Session) -> None:
    a = get(http, demo, "/tasks/create/ps?seconds=1").json()["id"]
    b = get(http, demo, "/tasks/create/cs?ms=100").json()["id"]
    listed = get(http, demo, "/tasks/list").json()
    assert isinstance(listed, list)
    ids = [r["Id"] for r in listed]
    assert ids.index(b) < ids.index(a)
    assert all(set(r) >= RECORD_KEYS for r in listed)
    api = demo.session()
    assert api.get(f"{demo.url}/api/v1/tasks/{a}", timeout=10).json() == next(r for r in listed if r["Id"] == a)


def test_run_ps_one_shot(demo: Daemon, http: requests.Session) -> None:
    r = get(http, demo, "/tasks/run/ps")
    assert r.status_code == 202
    body = r.json()
    assert body["started"] is True and set(body) == {"id", "started"}
    done = wait_state(http, demo, body["id"], {"Completed", "Failed", "Stopped"})
    assert done["State"] == "Completed"
    output = get(http, demo, f"/tasks/result?id={body['id']}").json()
    assert isinstance(output, list) and len(output) == 1  # Get-Date as the last output
    assert str(output[0]).startswith("20")


def test_ids_are_case_insensitive(demo: Daemon, http: requests.Session) -> None:
    task_id = get(http, demo, "/tasks/create/cs?ms=100").json()["id"]
    assert get(http, demo, f"/tasks/state?ID={task_id.upper()}").json()["Id"] == task_id


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
    assert state["Id"] == task_id and state["State"] in ("Running", "Completed")
    assert set(result) == {"error"} or isinstance(result, list)
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
    assert state["State"] == "Running" and state["Progress"]["StatusMessage"]
    # The result of a running task is a 409, which Invoke-WebRequest reports as an error (as with Kestrun).
    assert "409" in done.stderr or "Conflict" in done.stderr or "error" in done.stderr.lower()
    listed = [r for v in values[1:] for r in (v if isinstance(v, list) else [v])]
    assert state["Id"] in {r["Id"] for r in listed}
