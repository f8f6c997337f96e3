"""The ``krtasks`` commands that talk to a running daemon or its state dir: ``token``, ``status``, ``ui``,
``stop`` (light: they load neither .NET nor the task core). Exit codes as :mod:`krtasks.cli` says."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import click

from .cli_options import resolve_state_dir, state_dir_option, version_option
from .statedir import (
    CERT_FILE,
    StateDirError,
    ensure_state_dir,
    load_or_create_token,
    lock_is_held,
    read_daemon_info,
    read_lock_owner,
    remove_daemon_info,
)

COMMANDS: list[click.Command] = []


@click.command()
@state_dir_option()
@version_option()
def token(state_dir: Path | None) -> int:
    """Print the bearer token (created on first use) for `Authorization: Bearer <token>`."""
    try:
        click.echo(load_or_create_token(ensure_state_dir(resolve_state_dir(state_dir))))
    except StateDirError as exc:
        click.echo(f"krtasks: error: {exc}", err=True)
        return 1
    return 0


def _health(url: str, cert_file: Path, timeout: float = 3.0) -> dict[str, Any] | None:
    """GET ``url``/api/v1/health trusting only ``cert_file``; the JSON answer, or None if none came."""
    from .tls import client_context

    try:
        ctx = client_context(cert_file)
        with urllib.request.urlopen(url + "/api/v1/health", timeout=timeout, context=ctx) as resp:
            data = json.loads(resp.read().decode("utf-8"))
            return data if isinstance(data, dict) else None
    except (OSError, ValueError, urllib.error.URLError):
        return None


@click.command()
@state_dir_option()
@version_option()
def status(state_dir: Path | None) -> int:
    """Say whether a daemon answers for the state dir (exit 0 if it does, 1 if not)."""
    directory = resolve_state_dir(state_dir)
    info = read_daemon_info(directory)
    if info is None:
        if lock_is_held(directory):
            pid, _ = read_lock_owner(directory)
            click.echo(f"KrTasks is starting (pid {pid}, state dir {directory})")
        else:
            click.echo(f"KrTasks is not running (state dir {directory})")
        return 1
    cert = Path(info.cert_file) if info.cert_file else directory / CERT_FILE
    health = _health(info.url, cert)
    if health is None:
        state = "does not answer" if lock_is_held(directory) else "is not running (stale daemon.json)"
        click.echo(f"KrTasks {state}: {info.url} (pid {info.pid}, state dir {directory})")
        return 1
    click.echo(
        f"KrTasks {health.get('Version', '?')} is running: {info.url} (pid {info.pid}, auth {info.auth}, "
        f"state dir {directory})"
    )
    return 0


@click.command()
@state_dir_option()
@version_option()
def ui(state_dir: Path | None) -> int:
    """Print the dashboard's address; with token auth a link that logs a browser in once, within 60 s.

    The link goes to stdout alone (a note about it to stderr). Exit 1 when no daemon answers for the state dir.
    """
    from .tls import client_context

    directory = resolve_state_dir(state_dir)
    info = read_daemon_info(directory)
    if info is None:
        click.echo(
            f"krtasks: error: KrTasks is not running (state dir {directory}); start it with `krtasks serve`", err=True
        )
        return 1
    if info.auth == "none":
        click.echo(f"{info.url}/ui/")
        return 0
    cert = Path(info.cert_file) if info.cert_file else directory / CERT_FILE
    request = urllib.request.Request(
        info.url + "/api/v1/ui/login-codes",
        method="POST",
        headers={"Authorization": f"Bearer {load_or_create_token(directory)}", "Accept": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10, context=client_context(cert)) as resp:
            answer = json.loads(resp.read().decode("utf-8"))
    except (OSError, ValueError, StateDirError) as exc:
        click.echo(f"krtasks: error: the daemon at {info.url} gave no login code: {exc}", err=True)
        return 1
    click.echo(info.url + str(answer["Url"]))
    click.echo(f"(opens a dashboard session once, within {answer['ExpiresInSeconds']:g} s)", err=True)
    return 0


def _process_gone(pid: int) -> bool:
    """True when ``pid`` no longer runs (a zombie waiting for its parent counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    with contextlib.suppress(OSError, IndexError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] == "Z"
    return False


@click.command()
@state_dir_option()
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=30.0,
    show_default=True,
    help="Seconds to wait for the daemon to exit.",
)
@version_option()
def stop(state_dir: Path | None, timeout: float) -> int:
    """Stop the daemon of the state dir (SIGTERM) and wait until it has exited.

    Exit 0 when it stopped or was not running; 1 when it did not exit within --timeout.
    """
    directory = resolve_state_dir(state_dir)
    if not lock_is_held(directory):
        remove_daemon_info(directory)  # left by a daemon that crashed
        click.echo(f"KrTasks is not running (state dir {directory})")
        return 0
    pid, _ = read_lock_owner(directory)
    info = read_daemon_info(directory)
    pid = pid or (info.pid if info else None)
    if pid is None:
        click.echo(f"krtasks: error: cannot tell which process holds {directory}", err=True)
        return 1
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        click.echo(f"KrTasks is not running (state dir {directory})")
        return 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not lock_is_held(directory) and _process_gone(pid):
            click.echo(f"KrTasks stopped (pid {pid})")
            return 0
        time.sleep(0.1)
    click.echo(f"krtasks: error: the daemon (pid {pid}) did not exit within {timeout:g} s", err=True)
    return 1


COMMANDS.extend([token, status, ui, stop])
