"""The API contract: schemathesis over the served OpenAPI document against a real daemon, with a token.

All checks, the examples, coverage, fuzzing and stateful phases, a fixed seed and a bounded number of
examples (under 90 s on 2 cores). Any failure fails the test, with schemathesis' report attached. Settings
and hooks: ``schemathesis.toml`` and ``contract_hooks.py`` beside this file (each exception is explained
there). ``build.ps1 -Task Fuzz`` runs the same test longer with a random seed
(``KRTASKS_CONTRACT_EXAMPLES``, ``KRTASKS_CONTRACT_SEED``, ``KRTASKS_CONTRACT_REPORT``).

Also here: requests aiohttp's parser refuses (NUL in a header, an oversized header, broken chunked framing)
are answered 400, logged at WARNING in one line with a request id, and counted.
"""

from __future__ import annotations

import os
import re
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from daemon_fixtures import Daemon, start_daemon
from krtasks.web.openapi import openapi_document

METHODS = {"get", "put", "post", "delete", "patch"}

HERE = Path(__file__).resolve().parent
EXAMPLES = int(os.environ.get("KRTASKS_CONTRACT_EXAMPLES", "25"))
SEED = os.environ.get("KRTASKS_CONTRACT_SEED", "20261202")
REPORT_DIR = os.environ.get("KRTASKS_CONTRACT_REPORT")
BUDGET_SECONDS = float(os.environ.get("KRTASKS_CONTRACT_BUDGET", "600"))
"""Hard stop of one schemathesis run (seconds); the default run takes about a minute."""


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    # Two slots and one spare worker: the fuzzer's tasks queue rather than start eight workers on 2 cores.
    d = start_daemon(tmp_path_factory.mktemp("contract"), "--max-runspaces", "2", "--min-workers", "1")
    try:
        yield d
    finally:
        d.close()


def _schemathesis(d: Daemon, seed: str, examples: int, report_dir: Path) -> subprocess.CompletedProcess[str]:
    schemathesis = Path(sys.executable).parent / "schemathesis"
    args = [
        str(schemathesis),
        "--config-file",
        str(HERE / "schemathesis.toml"),
        "run",
        f"{d.url}/api/v1/openapi.json",
        "--url",
        d.url,
        "--header",
        f"Authorization: Bearer {d.token}",
        "--tls-verify",
        str(d.cert),
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing,stateful",
        "--max-examples",
        str(examples),
        "--workers",
        "1",
        "--no-color",
        "--report",
        "junit",
        "--report-dir",
        str(report_dir),
    ]
    if seed != "random":
        args += ["--seed", seed]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": str(HERE / "contract_hooks.py")}
    env.pop("REQUESTS_CA_BUNDLE", None)
    return subprocess.run(
        args, capture_output=True, text=True, timeout=BUDGET_SECONDS, env=env, stdin=subprocess.DEVNULL
    )


@pytest.mark.timeout(BUDGET_SECONDS + 60)
def test_schemathesis_finds_no_failure(daemon: Daemon, tmp_path: Path) -> None:
    report_dir = Path(REPORT_DIR) if REPORT_DIR else tmp_path / "report"
    started = time.monotonic()
    result = _schemathesis(daemon, SEED, EXAMPLES, report_dir)
    output = result.stdout + result.stderr
    summary = output[output.rfind("SUMMARY") :] if "SUMMARY" in output else output[-3000:]
    (report_dir / "schemathesis.txt").write_text(output)
    print(f"schemathesis: {time.monotonic() - started:.1f} s, seed {SEED}, {EXAMPLES} examples\n{summary}")
    assert result.returncode == 0, output[-20000:]
    # Coverage of the document: every operation was tested, and the stateful phase followed links.
    # (schemathesis leaves out the document's own operation, getOpenApi)
    operations = sum(m in METHODS for item in openapi_document()["paths"].values() for m in item) - 1
    assert f"Selected: {operations}/{operations}" in output and f"Tested: {operations}\n" in output, summary
    links = re.search(r"API Links:\s+(\d+) covered", output)
    assert links and int(links.group(1)) > 0, summary
    # The daemon logged no error while being fuzzed (a traceback is a bug even when the answer was right).
    errors = [line for line in daemon.stderr().splitlines() if " ERROR " in line or "Traceback" in line]
    assert not errors, "\n".join(errors[:20])


# --------------------------------------------------------------------------------------------------- malformed HTTP


def _raw_request(d: Daemon, raw: bytes) -> bytes:
    """Send ``raw`` bytes over TLS to the daemon; everything it answers until it closes the connection."""
    context = ssl.create_default_context(cafile=str(d.cert))
    with (
        socket.create_connection(("127.0.0.1", d.port), timeout=10) as plain,
        context.wrap_socket(plain, server_hostname="localhost") as tls,
    ):
        tls.sendall(raw)
        answer = b""
        while chunk := tls.recv(65536):
            answer += chunk
    return answer


def _counter(d: Daemon, reason: str) -> float:
    text = d.session().get(f"{d.url}/metrics", timeout=10).text
    match = re.search(r'^krtasks_http_malformed_requests_total\{reason="' + reason + r'"\} (\S+)$', text, re.M)
    return float(match.group(1)) if match else 0.0


def test_malformed_http_is_one_warning_line_with_an_id_and_counted(daemon: Daemon) -> None:
    auth = f"Authorization: Bearer {daemon.token}\r\n".encode()
    get = b"GET /api/v1/tasks HTTP/1.1\r\nHost: x\r\n"
    cases = {
        "NUL in a header": (get + b"X-Bad: a\x00b\r\n" + auth + b"\r\n", "BadHttpMessage"),
        "oversized header": (get + b"X-Big: " + b"a" * 20000 + b"\r\n\r\n", "LineTooLong"),
        "bad chunk size": (
            b"POST /api/v1/tasks HTTP/1.1\r\nHost: x\r\n" + auth + b"Content-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
            "BadHttpMessage",
        ),
        "chunk without its end": (
            b"POST /api/v1/tasks HTTP/1.1\r\nHost: x\r\n" + auth + b"Content-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n5\r\n{\"Code\r\n",
            "BadHttpMessage",
        ),
    }  # fmt: skip
    before = {reason: _counter(daemon, reason) for _, reason in cases.values()}
    log_before = len(daemon.stderr().splitlines())
    for name, (raw, _) in cases.items():
        answer = _raw_request(daemon, raw)
        assert answer.startswith(b"HTTP/1.0 400 ") or answer.startswith(b"HTTP/1.1 400 "), (name, answer[:200])
    deadline = time.monotonic() + 10
    while True:
        new = daemon.stderr().splitlines()[log_before:]
        warnings = [line for line in new if "WARNING krtasks.http" in line and "Malformed HTTP request" in line]
        if len(warnings) >= len(cases) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert len(warnings) == len(cases), "\n".join(new)
    assert not [line for line in new if "Traceback" in line or " ERROR " in line], "\n".join(new)
    assert all(re.search(r"\[[0-9a-f]{16}\]", line) for line in warnings), warnings
    assert daemon.token is not None and daemon.token not in "\n".join(new)
    expected = dict.fromkeys(before, 0.0)
    for _, reason in cases.values():
        expected[reason] += 1
    for reason, added in expected.items():
        assert _counter(daemon, reason) == before[reason] + added, reason
