"""The ``krtasks`` command's shared options (click decorators) and their parsing: state dir, version, port, the
task service's options, logging, durations."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from . import __version__
from .core.retention import parse_duration
from .statedir import default_state_dir

if TYPE_CHECKING:
    from .models import ServiceConfig

DEFAULT_PORT = 5000

F = TypeVar("F", bound=Callable[..., Any])

if TYPE_CHECKING:
    from .models import ServiceConfig


def state_dir_option() -> Callable[[F], F]:
    """``--state-dir`` (also ``$KRTASKS_STATE_DIR``)."""
    return click.option(
        "--state-dir",
        type=click.Path(file_okay=False, path_type=Path),
        envvar="KRTASKS_STATE_DIR",
        help="Directory of the certificate, token and daemon.json "
        "[default: $KRTASKS_STATE_DIR, else the user data dir, e.g. ~/.local/share/krtasks].",
    )


def version_option() -> Callable[[F], F]:
    """``--version``: prints ``krtasks <version>``."""
    return click.version_option(__version__, "--version", prog_name="krtasks", message="%(prog)s %(version)s")


def port_option() -> Callable[[F], F]:
    """``--port`` (also ``$PORT``; default 5000, 0 picks a free port)."""
    return click.option(
        "--port",
        type=click.IntRange(0, 65535),
        envvar="PORT",
        default=DEFAULT_PORT,
        show_default=True,
        help="TCP port (default: $PORT, else 5000; 0 picks a free port).",
    )


def task_options(func: F) -> F:
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


def service_config(  # the model is imported here: the light commands (token, status, stop) start fast
    max_runspaces: int, isolation: str, min_workers: int, worker_max_tasks: int, worker_max_memory: int, **settings: Any
) -> ServiceConfig:
    """The :class:`~krtasks.models.ServiceConfig` of ``serve``'s or ``demo``'s options."""
    from .models import ServiceConfig

    return ServiceConfig(
        max_runspaces=max_runspaces,
        isolation="thread" if isolation == "thread" else "process",
        min_workers=min_workers,
        worker_max_tasks=worker_max_tasks,
        worker_max_memory_mb=worker_max_memory,
        **settings,
    )


def log_options(func: F) -> F:
    """``--log-level`` and ``--log-format`` (text or JSON lines on stderr)."""
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


def duration_option(_ctx: click.Context, _param: click.Parameter, value: str) -> float:
    """A click callback: ``value`` (``30s``, ``5m``, ``1h``, ``2d`` or plain seconds) in seconds.

    Raises:
        click.BadParameter: not a duration.
    """
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def resolve_state_dir(state_dir: Path | None) -> Path:
    """The state dir given, else the default one, as an absolute path."""
    return (state_dir or default_state_dir()).expanduser().resolve()
