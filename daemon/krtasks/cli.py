"""The ``krtasks`` command (click): ``serve``, ``demo``, ``token``, ``status``, ``ui``, ``stop``.

Exit codes: 0 success; 1 failure (daemon not running for ``status``, cannot start, stop timed out);
2 bad options, reported on one line (``krtasks serve: error: ...``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

from . import __version__
from .core.retention import parse_duration
from .statedir import (
    CERT_FILE,
    StateDirError,
    default_state_dir,
    ensure_state_dir,
    load_or_create_token,
    lock_is_held,
    read_daemon_info,
    read_lock_owner,
    remove_daemon_info,
)

DEFAULT_PORT = 5000

F = TypeVar("F", bound=Callable[..., Any])

if TYPE_CHECKING:
    from .models import ServiceConfig


def _state_dir_option() -> Callable[[F], F]:
    return click.option(
        "--state-dir",
        type=click.Path(file_okay=False, path_type=Path),
        envvar="KRTASKS_STATE_DIR",
        help="Directory of the certificate, token and daemon.json "
        "[default: $KRTASKS_STATE_DIR, else the user data dir, e.g. ~/.local/share/krtasks].",
    )


def _version_option() -> Callable[[F], F]:
    return click.version_option(__version__, "--version", prog_name="krtasks", message="%(prog)s %(version)s")


def _port_option() -> Callable[[F], F]:
    return click.option(
        "--port",
        type=click.IntRange(0, 65535),
        envvar="PORT",
        default=DEFAULT_PORT,
        show_default=True,
        help="TCP port (default: $PORT, else 5000; 0 picks a free port).",
    )


def _task_options(func: F) -> F:
    """The task service's options shared by ``serve`` and ``demo``: slots, isolation and workers."""
    options = [
        click.option(
            "--max-runspaces",
            type=click.IntRange(min=1),
            default=8,
            show_default=True,
            help="Tasks running at once (all languages); more starts queue. With process isolation also "
            "the most worker processes.",
        ),
        click.option(
            "--isolation",
            type=click.Choice(["process", "thread"]),
            default="process",
            show_default=True,
            help="Where task code runs: in worker processes (a crash, stack overflow or ignored cancel "
            "cannot touch the daemon or other tasks; per-task memory limit, directory and environment) or "
            "in the daemon's threads (fastest, for trusted code).",
        ),
        click.option(
            "--min-workers",
            type=click.IntRange(min=0),
            default=2,
            show_default=True,
            help="Idle worker processes kept ready ahead of demand (process isolation).",
        ),
        click.option(
            "--worker-max-tasks",
            type=click.IntRange(min=0),
            default=200,
            show_default=True,
            help="Replace a worker after this many tasks (0: never).",
        ),
        click.option(
            "--worker-max-memory",
            type=click.IntRange(min=0),
            default=1024,
            show_default=True,
            help="Replace a worker whose resident memory after a task passes this many MiB (0: never).",
        ),
        click.option(
            "--reuse-runspaces/--fresh-runspaces",
            default=False,
            show_default=True,
            help="Run PowerShell tasks on runspaces reused after a verified reset (faster; a task's "
            "ReuseRunspace overrides it) or on a fresh runspace each.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _service_config(  # the model is imported here: the light commands (token, status, stop) start fast
    max_runspaces: int, isolation: str, min_workers: int, worker_max_tasks: int, worker_max_memory: int, **settings: Any
) -> ServiceConfig:
    from .models import ServiceConfig

    return ServiceConfig(
        max_runspaces=max_runspaces,
        isolation="thread" if isolation == "thread" else "process",
        min_workers=min_workers,
        worker_max_tasks=worker_max_tasks,
        worker_max_memory_mb=worker_max_memory,
        **settings,
    )


def _log_options(func: F) -> F:
    func = click.option(
        "--log-format",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help="Log lines on stderr as text or JSON.",
    )(func)
    return click.option(
        "--log-level",
        type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
        default="info",
        show_default=True,
        help="Least severe log level shown.",
    )(func)


def _duration(_ctx: click.Context, _param: click.Parameter, value: str) -> float:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _resolve_state_dir(state_dir: Path | None) -> Path:
    return (state_dir or default_state_dir()).expanduser().resolve()


@click.group(context_settings={"help_option_names": ["--help", "-h"]})
@_version_option()
def cli() -> None:
    """KrTasks: run PowerShell, C# and VB.NET code as background tasks behind a local HTTPS API."""


@cli.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (non-loopback binds require --auth token).",
)
@_port_option()
@_state_dir_option()
@_task_options
@click.option(
    "--cert-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="PEM certificate to serve instead of the generated one (needs --key-file).",
)
@click.option(
    "--key-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="PEM private key of --cert-file."
)
@click.option(
    "--auth",
    type=click.Choice(["token", "none"]),
    default="token",
    show_default=True,
    help="Require the bearer token (token) or nothing (none: loopback binds only).",
)
@click.option(
    "--tutorial-routes",
    is_flag=True,
    help="Also serve the Kestrun tutorial routes (/tasks/..., /hello); with --auth token they need the token too.",
)
@click.option(
    "--stop-grace",
    type=click.FloatRange(min=0),
    default=5.0,
    show_default=True,
    help="Seconds a cancelled task may take to end (on cancel and at shutdown).",
)
@click.option(
    "--max-body-bytes",
    type=click.IntRange(min=1024),
    default=1024 * 1024,
    show_default=True,
    help="Largest request body accepted; larger ones get 413.",
)
@click.option(
    "--retention",
    default="24h",
    show_default=True,
    callback=_duration,
    help="Remove finished tasks this long after they completed (seconds, or e.g. 90m, 24h, 7d; 0 keeps them forever).",
)
@click.option(
    "--max-finished",
    type=click.IntRange(min=0),
    default=10_000,
    show_default=True,
    help="Keep at most this many finished tasks, removing the oldest first (0: unlimited).",
)
@click.option(
    "--store",
    "store",
    default="sqlite",
    show_default=True,
    envvar="KRTASKS_STORE",
    help="Where tasks are kept: sqlite (tasks.db in the state dir) or a postgresql:// URI shared by several "
    "daemons (nodes); keep its password in ~/.pgpass or PGPASSFILE, not on the command line [env: KRTASKS_STORE].",
)
@click.option(
    "--lease",
    default="30s",
    show_default=True,
    callback=_duration,
    help="Shared store: how long a node's claim on a run lasts without renewal (renewed every third of it); "
    "a node silent this long has its runs ended as Interrupted.",
)
@click.option(
    "--token-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read the bearer token from this file (created 0600 if missing) instead of the state dir's; nodes "
    "of a shared store share one token.",
)
@click.option(
    "--reset-store",
    is_flag=True,
    help="Move the task store (tasks.db in the state dir) aside, renamed with a UTC timestamp, and "
    "start empty; for a store refused as unreadable, corrupt or too new.",
)
@_log_options
@_version_option()
def serve(
    host: str,
    port: int,
    state_dir: Path | None,
    max_runspaces: int,
    isolation: str,
    min_workers: int,
    worker_max_tasks: int,
    worker_max_memory: int,
    reuse_runspaces: bool,
    cert_file: Path | None,
    key_file: Path | None,
    auth: str,
    tutorial_routes: bool,
    stop_grace: float,
    max_body_bytes: int,
    retention: float,
    max_finished: int,
    store: str,
    lease: float,
    token_file: Path | None,
    reset_store: bool,
    log_level: str,
    log_format: str,
) -> int:
    """Run the daemon in the foreground (HTTPS API v1; Ctrl-C or SIGTERM stops it)."""
    from .server import ServeSettings, is_loopback
    from .store.pglink import is_postgres_dsn

    if store != "sqlite" and not is_postgres_dsn(store):
        raise click.BadParameter("give sqlite or a postgresql:// URI", param_hint="'--store'")
    if reset_store and store != "sqlite":
        raise click.UsageError("--reset-store moves an SQLite store aside; it does not apply to --store postgresql://")
    if lease < 1:
        raise click.BadParameter("must be at least 1 second", param_hint="'--lease'")
    if (cert_file is None) != (key_file is None):
        raise click.UsageError("--cert-file and --key-file go together")
    if auth == "none" and not is_loopback(host):
        raise click.UsageError(f"--auth none is only allowed on a loopback host, not '{host}'")
    settings = ServeSettings(
        host=host,
        port=port,
        state_dir=state_dir,
        cert_file=cert_file,
        key_file=key_file,
        auth=auth,
        tutorial_routes=tutorial_routes,
        max_body_bytes=max_body_bytes,
        reset_store=reset_store,
        store=None if store == "sqlite" else store,
        token_file=token_file,
        service=_service_config(
            max_runspaces,
            isolation,
            min_workers,
            worker_max_tasks,
            worker_max_memory,
            reuse_runspaces=reuse_runspaces,
            stop_grace_seconds=stop_grace,
            retention_seconds=retention,
            max_finished=max_finished,
            lease_seconds=lease,
        ),
    )
    return _run_daemon(settings, log_level, log_format)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address to listen on.")
@_port_option()
@_state_dir_option()
@_task_options
@_log_options
@_version_option()
def demo(
    host: str,
    port: int,
    state_dir: Path | None,
    max_runspaces: int,
    isolation: str,
    min_workers: int,
    worker_max_tasks: int,
    worker_max_memory: int,
    reuse_runspaces: bool,
    log_level: str,
    log_format: str,
) -> int:
    """Serve the Kestrun tutorial routes on loopback without a token (for the tutorial's curl commands).

    Same state dir as `serve` (so `krtasks stop` stops either); the token file is left alone.
    """
    from .server import ServeSettings, is_loopback

    if not is_loopback(host):
        raise click.UsageError(f"demo serves without authentication, so only on loopback, not '{host}'")
    settings = ServeSettings(
        host=host,
        port=port,
        state_dir=state_dir,
        auth="none",
        tutorial_routes=True,
        service=_service_config(
            max_runspaces,
            isolation,
            min_workers,
            worker_max_tasks,
            worker_max_memory,
            reuse_runspaces=reuse_runspaces,
        ),
    )
    return _run_daemon(settings, log_level, log_format)


def _run_daemon(settings: Any, log_level: str, log_format: str) -> NoReturn:
    # Imported here so that the light commands (token, status, stop, --help) start fast.
    from .logconfig import configure_logging
    from .runtime import RuntimeNotAvailableError
    from .server import DaemonStartError, run
    from .store import StoreError
    from .tls import CertificateError

    configure_logging(log_level, log_format)
    state_dir = _resolve_state_dir(settings.state_dir)
    try:
        code = run(settings, state_dir)
    except (StateDirError, CertificateError, DaemonStartError, RuntimeNotAvailableError, StoreError) as exc:
        click.echo(f"krtasks: error: {exc}", err=True)
        code = 1
    except Exception:
        logging.getLogger("krtasks").exception("The daemon failed")
        code = 1
    # Shutdown is complete (tasks ended or abandoned, daemon.json removed, lock released): leave now instead
    # of letting the interpreter join its worker threads, since an abandoned task's code (or Roslyn's
    # warm-up) may still be running in .NET on one of them and would keep the process alive.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


@cli.command()
@_state_dir_option()
@_version_option()
def token(state_dir: Path | None) -> int:
    """Print the bearer token (created on first use) for `Authorization: Bearer <token>`."""
    try:
        click.echo(load_or_create_token(ensure_state_dir(_resolve_state_dir(state_dir))))
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


@cli.command()
@_state_dir_option()
@_version_option()
def status(state_dir: Path | None) -> int:
    """Say whether a daemon answers for the state dir (exit 0 if it does, 1 if not)."""
    directory = _resolve_state_dir(state_dir)
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


@cli.command()
@_state_dir_option()
@_version_option()
def ui(state_dir: Path | None) -> int:
    """Print the dashboard's address; with token auth a link that logs a browser in once, within 60 s.

    The link goes to stdout alone (a note about it to stderr). Exit 1 when no daemon answers for the state dir.
    """
    from .tls import client_context

    directory = _resolve_state_dir(state_dir)
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


@cli.command()
@_state_dir_option()
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=30.0,
    show_default=True,
    help="Seconds to wait for the daemon to exit.",
)
@_version_option()
def stop(state_dir: Path | None, timeout: float) -> int:
    """Stop the daemon of the state dir (SIGTERM) and wait until it has exited.

    Exit 0 when it stopped or was not running; 1 when it did not exit within --timeout.
    """
    directory = _resolve_state_dir(state_dir)
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


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``krtasks`` script: run the command and exit with its status.

    Usage errors are printed on one line (``krtasks <command>: error: <message>``) and exit 2.
    """
    try:
        result = cli.main(args=argv, prog_name="krtasks", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help() if exc.ctx is not None else exc.format_message())
        sys.exit(exc.exit_code)
    except click.UsageError as exc:
        where = exc.ctx.command_path if exc.ctx is not None else "krtasks"
        hint = f" (see '{where} --help')"
        click.echo(f"{where}: error: {exc.format_message()}{hint}", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        click.echo(f"krtasks: error: {exc.format_message()}", err=True)
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("krtasks: aborted", err=True)
        sys.exit(1)
    sys.exit(result if isinstance(result, int) else 0)


if __name__ == "__main__":
    main()
