"""The ``krtasks`` command (click): ``serve`` and ``demo`` here; ``token``, ``status``, ``ui`` and ``stop`` in
:mod:`krtasks.cli_client`; the shared options in :mod:`krtasks.cli_options`.

Exit codes: 0 success; 1 failure (daemon not running for ``status``, cannot start, stop timed out);
2 bad options, reported on one line (``krtasks serve: error: ...``).
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from .cli_client import COMMANDS
from .cli_options import (
    duration_option,
    log_options,
    port_option,
    resolve_state_dir,
    service_config,
    state_dir_option,
    task_options,
    version_option,
)
from .statedir import StateDirError


@click.group(context_settings={"help_option_names": ["--help", "-h"]})
@version_option()
def cli() -> None:
    """KrTasks: run PowerShell, C# and VB.NET code as background tasks behind a local HTTPS API."""


@cli.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (non-loopback binds require --auth token).",
)
@port_option()
@state_dir_option()
@task_options
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
    callback=duration_option,
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
    callback=duration_option,
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
@log_options
@version_option()
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
        service=service_config(
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
@port_option()
@state_dir_option()
@task_options
@log_options
@version_option()
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
        service=service_config(
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
    state_dir = resolve_state_dir(settings.state_dir)
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


for _command in COMMANDS:
    cli.add_command(_command)


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
