"""The ``krtasks`` command and the daemon's life cycle: options, state dir, TLS, single instance, stop."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import signal
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from daemon_fixtures import Daemon, run_cli, start_daemon, wait_until_finished
from krtasks.tls import ensure_certificate, generate_certificate

COMMANDS = ["serve", "demo", "token", "status", "ui", "stop"]


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    d = start_daemon(tmp_path_factory.mktemp("cli"))
    yield d
    d.close()


# --------------------------------------------------------------------------------------------------- options


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_and_version_everywhere(command: str | None) -> None:
    prefix = [command] if command else []
    done = run_cli(*prefix, "--help")
    assert done.returncode == 0 and "Usage: krtasks" in done.stdout
    done = run_cli(*prefix, "--version")
    assert done.returncode == 0 and done.stdout.startswith("krtasks ")


@pytest.mark.parametrize(
    "args",
    [
        ["serve", "--no-such-option"],
        ["serve", "--port", "seventy"],
        ["serve", "--port", "70000"],
        ["serve", "--max-runspaces", "0"],
        ["serve", "--auth", "maybe"],
        ["serve", "--cert-file", "/nonexistent/cert.pem", "--key-file", "/nonexistent/key.pem"],
        ["status", "extra-argument"],
        ["no-such-command"],
    ],
)
def test_bad_options_one_line_exit_2(args: list[str]) -> None:
    done = run_cli(*args)
    assert done.returncode == 2, done
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and ": error: " in lines[0], done.stderr


def test_cert_file_needs_key_file(tmp_path: Path) -> None:
    cert, _ = generate_certificate(["localhost"])
    (tmp_path / "c.pem").write_bytes(cert)
    done = run_cli("serve", "--cert-file", str(tmp_path / "c.pem"), "--state-dir", str(tmp_path / "s"))
    assert done.returncode == 2 and "--key-file" in done.stderr


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::", "example.com"])
def test_auth_none_refused_on_non_loopback(host: str, tmp_path: Path) -> None:
    done = run_cli("serve", "--auth", "none", "--host", host, "--state-dir", str(tmp_path))
    assert done.returncode == 2 and "loopback" in done.stderr
    done = run_cli("demo", "--host", host, "--state-dir", str(tmp_path))
    assert done.returncode == 2 and "loopback" in done.stderr
    assert not (tmp_path / "daemon.json").exists()


def test_port_defaults_to_env_port() -> None:
    done = run_cli("serve", "--help", env={"PORT": "5123", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0
    done = run_cli("serve", "--state-dir", "/nonexistent", env={"PORT": "notaport", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 2 and "--port" in done.stderr


# --------------------------------------------------------------------------------------------------- state dir


def test_state_dir_files_and_permissions(daemon: Daemon) -> None:
    d = daemon.state_dir
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    for name in ("key.pem", "token"):
        assert stat.S_IMODE((d / name).stat().st_mode) == 0o600, name
    info = daemon.daemon_json()
    assert info["Pid"] == daemon.proc.pid and info["Port"] == daemon.port and info["Url"] == daemon.url
    assert info["Host"] == "127.0.0.1" and info["Auth"] == "token" and info["CertFile"] == str(daemon.cert)
    assert dt.datetime.fromisoformat(info["StartedAt"].replace("Z", "+00:00")) <= dt.datetime.now(dt.UTC)
    token = (d / "token").read_text()
    assert token.endswith("\n") and len(token.strip()) >= 43 and token.count("\n") == 1


def test_generated_certificate(daemon: Daemon) -> None:
    cert = x509.load_pem_x509_certificate(daemon.cert.read_bytes())
    key = cert.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert set(san.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    }
    bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.digital_signature and ku.key_cert_sign
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert dt.timedelta(days=364) < lifetime < dt.timedelta(days=366)


def test_tls_is_verified_against_the_certificate(daemon: Daemon, tmp_path: Path) -> None:
    url = daemon.url + "/api/v1/health"
    assert requests.get(url, verify=str(daemon.cert), timeout=10).status_code == 200
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(url, verify=True, timeout=10)
    other, _ = generate_certificate(["localhost", "127.0.0.1"])
    (tmp_path / "other.pem").write_bytes(other)
    with pytest.raises(requests.exceptions.SSLError):  # another self-signed certificate is not trusted
        requests.get(url, verify=str(tmp_path / "other.pem"), timeout=10)


def test_token_command(daemon: Daemon) -> None:
    done = run_cli("token", "--state-dir", str(daemon.state_dir))
    assert done.returncode == 0 and done.stdout.strip() == daemon.token


def test_status_command(daemon: Daemon, tmp_path: Path) -> None:
    done = run_cli("status", "--state-dir", str(daemon.state_dir))
    assert done.returncode == 0 and daemon.url in done.stdout
    done = run_cli("status", "--state-dir", str(tmp_path))
    assert done.returncode == 1 and "not running" in done.stdout


def test_second_daemon_on_same_state_dir_is_refused(daemon: Daemon) -> None:
    started = time.monotonic()
    done = run_cli("serve", "--port", "0", "--state-dir", str(daemon.state_dir), timeout=60)
    assert done.returncode == 1
    assert f"pid {daemon.proc.pid}" in done.stderr and f"port {daemon.port}" in done.stderr
    assert time.monotonic() - started < 20  # refused before loading .NET
    assert daemon.proc.poll() is None
    assert daemon.daemon_json()["Pid"] == daemon.proc.pid
    assert requests.get(daemon.url + "/api/v1/health", verify=str(daemon.cert), timeout=10).status_code == 200


def test_stop_when_nothing_runs(tmp_path: Path) -> None:
    done = run_cli("stop", "--state-dir", str(tmp_path))
    assert done.returncode == 0 and "not running" in done.stdout


def test_ui_command(daemon: Daemon, tmp_path: Path) -> None:
    done = run_cli("ui", "--state-dir", str(daemon.state_dir))
    assert done.returncode == 0 and done.stdout.startswith(daemon.url + "/ui/login?code=")
    assert done.stdout.count("\n") == 1 and "once" in done.stderr
    done = run_cli("ui", "--state-dir", str(tmp_path))
    assert done.returncode == 1 and "not running" in done.stderr and done.stdout == ""


# --------------------------------------------------------------------------------------------------- certificates


def test_certificate_is_reused_then_renewed_near_expiry(tmp_path: Path) -> None:
    now = dt.datetime.now(dt.UTC)
    ensure_certificate(tmp_path, "127.0.0.1", now=now - dt.timedelta(days=340))  # 25 days left today
    old = (tmp_path / "cert.pem").read_bytes()
    ensure_certificate(tmp_path, "127.0.0.1", now=now - dt.timedelta(days=300))  # 65 days left then: reused
    assert (tmp_path / "cert.pem").read_bytes() == old
    ensure_certificate(tmp_path, "127.0.0.1", now=now)
    new = (tmp_path / "cert.pem").read_bytes()
    assert new != old
    assert x509.load_pem_x509_certificate(new).not_valid_after_utc > now + dt.timedelta(days=360)
    assert stat.S_IMODE((tmp_path / "key.pem").stat().st_mode) == 0o600


def test_certificate_covers_a_specific_bind_host(tmp_path: Path) -> None:
    ensure_certificate(tmp_path, "127.0.0.1")
    first = (tmp_path / "cert.pem").read_bytes()
    ensure_certificate(tmp_path, "0.0.0.0")  # wildcard: nothing to add
    assert (tmp_path / "cert.pem").read_bytes() == first
    ensure_certificate(tmp_path, "192.0.2.7")
    cert = x509.load_pem_x509_certificate((tmp_path / "cert.pem").read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("192.0.2.7") in san.get_values_for_type(x509.IPAddress)


# --------------------------------------------------------------------------------------------------- stopping


def test_stop_command_is_graceful_and_leaves_nothing_running(tmp_path: Path) -> None:
    d = start_daemon(tmp_path, "--stop-grace", "2")
    try:
        api = d.session()
        cert_before = d.cert.read_bytes()
        r = api.post(d.url + "/api/v1/tasks", json={"Code": "Start-Sleep -Seconds 60", "AutoStart": True}, timeout=30)
        cs = api.post(
            d.url + "/api/v1/tasks",
            timeout=30,
            json={
                "Language": "CSharp",
                "Code": "await Task.Delay(60000, CancellationToken); return 1;",
                "AutoStart": True,
            },
        )
        # Code that ignores cancellation is abandoned after the grace period; it must not keep the process alive.
        spin = api.post(
            d.url + "/api/v1/tasks",
            timeout=30,
            json={
                "Language": "CSharp",
                "Code": "while (true) { System.Threading.Thread.SpinWait(1000); }",
                "AutoStart": True,
            },
        )
        assert r.status_code == 201 and cs.status_code == 201 and spin.status_code == 201
        with api.get(f"{d.url}/api/v1/tasks/{r.json()['Id']}/events", stream=True, timeout=30) as events:
            pid = d.proc.pid
            children = psutil.Process(pid).children(recursive=True)
            started = time.monotonic()
            done = run_cli("stop", "--state-dir", str(d.state_dir), timeout=60)
            elapsed = time.monotonic() - started
            assert done.returncode == 0, done.stderr
            assert f"pid {pid}" in done.stdout
            assert b"Stopped" in events.raw.read()  # the event stream saw the task end, then closed
        assert d.proc.wait(timeout=10) == 0
        assert elapsed < 20
        assert not psutil.pid_exists(pid)
        assert not any(c.is_running() for c in children)
        assert not (d.state_dir / "daemon.json").exists()
        assert "Cancelling running tasks" in d.stderr() and "Traceback" not in d.stderr()
        assert run_cli("status", "--state-dir", str(d.state_dir)).returncode == 1
    finally:
        d.close()

    # A restart on the same state dir reuses certificate and token; SIGINT stops it just as well.
    again = start_daemon(tmp_path, "--log-format", "json")
    try:
        assert again.cert.read_bytes() == cert_before and again.token == d.token
        api = again.session()
        record = api.post(again.url + "/api/v1/tasks", json={"Code": "'hi'", "AutoStart": True}, timeout=30).json()
        assert wait_until_finished(api, again.url, record["Id"])["State"] == "Completed"
        assert again.signal(signal.SIGINT) == 0
        lines = [json.loads(line) for line in again.stderr().splitlines() if line.strip()]
        assert any(entry["message"].startswith("Ready: ") for entry in lines)
        assert {"time", "level", "name", "request_id", "message"} <= set(lines[0])
        assert not (again.state_dir / "daemon.json").exists()
    finally:
        again.close()


def test_user_certificate_files(tmp_path: Path) -> None:
    cert, key = generate_certificate(["localhost", "127.0.0.1"])
    (tmp_path / "mine.pem").write_bytes(cert)
    (tmp_path / "mine.key").write_bytes(key)
    d = start_daemon(tmp_path, "--cert-file", str(tmp_path / "mine.pem"), "--key-file", str(tmp_path / "mine.key"))
    try:
        r = requests.get(d.url + "/api/v1/health", verify=str(tmp_path / "mine.pem"), timeout=10)
        assert r.status_code == 200
        assert d.daemon_json()["CertFile"] == str(tmp_path / "mine.pem")
        assert not (d.state_dir / "cert.pem").exists()  # nothing generated
        done = run_cli("status", "--state-dir", str(d.state_dir))
        assert done.returncode == 0, done.stdout
    finally:
        assert d.signal() == 0
        d.close()
