"""Running the daemon: state dir, lock, TLS, token, task service and HTTPS server, from start to clean exit.

Start: take the state dir's lock, load (or generate) the certificate and token, open the task service
(loads .NET and warms Roslyn: seconds), listen, write ``daemon.json``, print the ready line to stdout.
Stop (SIGINT or SIGTERM): stop listening, cancel running tasks with a grace period, let open requests end,
remove ``daemon.json``, release the lock, exit 0. A second signal exits at once (status 1).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import logging
import os
import signal
import ssl
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from . import __version__
from .logconfig import ACCESS_LOG_FORMAT
from .models import ServiceConfig
from .statedir import (
    DaemonInfo,
    InstanceLock,
    ensure_state_dir,
    load_or_create_node_id,
    load_or_create_token,
    remove_daemon_info,
    write_daemon_info,
)
from .store import SqliteTaskStore, TaskStore, open_store

if TYPE_CHECKING:
    from .store.postgres import PostgresTaskStore
from .tls import WILDCARD_HOSTS, CertificatePaths, ensure_certificate, server_context
from .web.app import DEFAULT_MAX_BODY_BYTES, create_app
from .web.protocol_log import ProtocolLog

log = logging.getLogger("krtasks.server")


@dataclass(frozen=True)
class ServeSettings:
    """What ``krtasks serve`` was asked for. ``port`` 0 picks a free port.

    ``cert_file``/``key_file``: the user's own PEM files (both or neither; None: generated in the state dir).
    ``reset_store``: move the state dir's ``tasks.db`` aside (timestamped) and start with an empty store.
    ``store``: a ``postgresql://`` DSN shared with other daemons (None: the state dir's SQLite file).
    ``token_file``: where the token is (None: the state dir's ``token``).
    ``service``: the task service's settings (slots, isolation and workers, grace period in seconds,
    retention).
    """

    host: str = "127.0.0.1"
    port: int = 5000
    state_dir: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    auth: str = "token"
    tutorial_routes: bool = False
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    reset_store: bool = False
    store: str | None = None
    token_file: Path | None = None
    service: ServiceConfig = field(default_factory=ServiceConfig)


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1); wildcard binds are not loopback."""
    host = host.strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url_host(host: str) -> str:
    """The host part of a URL that reaches a daemon bound to ``host`` (wildcards become loopback)."""
    host = host.strip("[]")
    if host in WILDCARD_HOSTS:
        host = "::1" if host == "::" else "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def daemon_url(host: str, port: int) -> str:
    """``https://<host>:<port>`` for clients (IPv6 in brackets, wildcard binds as loopback)."""
    return f"https://{_url_host(host)}:{port}"


class DaemonStartError(Exception):
    """The daemon cannot start (port in use, unreadable certificate, ...); the message says why."""


def run(settings: ServeSettings, state_dir: Path) -> int:
    """Run the daemon in the foreground until a signal stops it; return the process exit status.

    Raises:
        StateDirError / StateDirBusyError: the state dir is unusable or another daemon holds it.
        CertificateError: the user's certificate or key cannot be loaded.
        DaemonStartError: listening failed.
        StoreError: the task store (``tasks.db``) is unreadable, corrupt or of a newer schema.
    """
    state_dir = ensure_state_dir(state_dir)
    lock = InstanceLock(state_dir)
    lock.acquire()
    try:
        if settings.cert_file is not None and settings.key_file is not None:
            certs = CertificatePaths(settings.cert_file.resolve(), settings.key_file.resolve(), generated=False)
        else:
            certs = ensure_certificate(state_dir, settings.host)
        ssl_context = server_context(certs)
        token = load_or_create_token(state_dir, settings.token_file) if settings.auth == "token" else None
        store = _open_store(settings, state_dir)  # refused before .NET loads, if it is
        try:
            return asyncio.run(_serve(settings, state_dir, lock, certs, ssl_context, token, store))
        finally:
            store.close_sync()  # after the service's close() flushed its last writes
    finally:
        remove_daemon_info(state_dir)
        lock.release()


def _open_store(settings: ServeSettings, state_dir: Path) -> SqliteTaskStore | PostgresTaskStore:
    if settings.store is None:
        return open_store(state_dir, reset=settings.reset_store)
    from .store.postgres import open_postgres_store

    return open_postgres_store(settings.store, load_or_create_node_id(state_dir))


async def _serve(
    settings: ServeSettings,
    state_dir: Path,
    lock: InstanceLock,
    certs: CertificatePaths,
    ssl_context: ssl.SSLContext,
    token: str | None,
    store: TaskStore,
) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()

    def on_signal(signum: int) -> None:
        if stop.is_set():
            log.warning("Second %s: exiting at once", signal.Signals(signum).name)
            os._exit(1)
        log.info("%s received: shutting down", signal.Signals(signum).name)
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)

    from .core.service import TaskService

    service = TaskService(settings.service, store=store)
    app = create_app(
        service,
        token=token,
        tutorial_routes=settings.tutorial_routes,
        max_body_bytes=settings.max_body_bytes,
        close_grace_seconds=settings.service.stop_grace_seconds,
    )
    runner = web.AppRunner(
        app,
        handle_signals=False,
        handler_cancellation=True,
        access_log=logging.getLogger("krtasks.access"),
        access_log_format=ACCESS_LOG_FORMAT,
        logger=ProtocolLog(logging.getLogger("krtasks.http"), service.metrics.malformed_requests),
        # The shutdown hook ends waits and event streams, so open requests end quickly.
        shutdown_timeout=settings.service.stop_grace_seconds + 2.0,
    )
    log.info("Opening the task service (.NET, PowerShell, Roslyn)")
    await runner.setup()
    try:
        if stop.is_set():
            return 0
        site = web.TCPSite(runner, settings.host, settings.port, ssl_context=ssl_context)
        try:
            await site.start()
        except OSError as exc:
            raise DaemonStartError(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}") from exc
        port = int(runner.addresses[0][1])
        lock.set_port(port)
        url = daemon_url(settings.host, port)
        write_daemon_info(
            state_dir,
            DaemonInfo(
                pid=os.getpid(),
                port=port,
                host=settings.host,
                url=url,
                version=__version__,
                started_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
                auth=settings.auth,
                cert_file=str(certs.cert_file),
            ),
        )
        bind = settings.host.strip("[]")
        listen = f"https://[{bind}]:{port}" if ":" in bind else f"https://{bind}:{port}"
        # The one line on stdout: scripts and tests wait for it (the API answers from now on).
        print(f"KrTasks listening on {listen} (state dir {state_dir})", flush=True)
        log.info(
            "Ready: %s, auth %s, tutorial routes %s, isolation %s",
            url,
            settings.auth,
            "on" if settings.tutorial_routes else "off",
            settings.service.isolation,
        )
        await stop.wait()
        log.info("Stopping: no new connections")
        return 0
    finally:
        # Stops listening, ends event streams and waits (on_shutdown), lets open requests finish, then closes
        # the service: running tasks are cancelled with the grace period (cleanup context).
        await runner.cleanup()
        remove_daemon_info(state_dir)
        log.info("Stopped")
        sys.stdout.flush()
