"""A real PostgreSQL server for tests: Debian's binaries, a temporary data directory, a free loopback port.

The server refuses to run as root, so under root ``initdb`` and ``pg_ctl`` run as the unprivileged
``postgres`` user (Debian's package creates it) through ``runuser``; the data directory is created owned by
that user and removed after the session. Authentication is ``trust`` on 127.0.0.1 only. ``fsync=off``
(test speed only: the tests kill daemons, never the server); bench/cluster.py starts it with ``fsync=on``,
as durable as the SQLite store it is compared with. Missing binaries fail the test with what to install:
the CI script installs them, so nothing is skipped silently.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

SERVER_USER = "postgres"
DB_USER = "krtasks"


def _binaries() -> Path:
    found = shutil.which("pg_ctl")
    if found:
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if candidates:
        return Path(candidates[-1]).parent
    pytest.fail(
        "PostgreSQL server binaries (initdb, pg_ctl) were not found; install them (Debian: apt-get install "
        "postgresql; .ci/run does this) to run the shared-store tests",
        pytrace=False,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class PgServer:
    """A running server: ``admin_dsn`` reaches its ``postgres`` database as the superuser ``krtasks``."""

    port: int
    data_dir: Path
    bin_dir: Path
    _names: Iterator[int]

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://{DB_USER}@127.0.0.1:{self.port}/postgres"

    def dsn(self, database: str) -> str:
        return f"postgresql://{DB_USER}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """Create an empty database; its DSN."""
        name = f"t{next(self._names)}"
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.dsn(name)


def _as_server_user(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", SERVER_USER, "--", *cmd]


@contextlib.contextmanager
def run_server(fsync: bool = False) -> Iterator[PgServer]:
    """Start a throwaway server; stop it and remove its data directory afterwards. ``fsync``: make commits
    durable (off for the tests' speed)."""
    bin_dir = _binaries()
    base = Path(tempfile.mkdtemp(prefix="krtasks-pg-"))
    data = base / "data"
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam(SERVER_USER)
        except KeyError:
            pytest.fail(f"running as root needs the unprivileged user '{SERVER_USER}' for PostgreSQL", pytrace=False)
        os.chown(base, user.pw_uid, user.pw_gid)
    port = free_port()
    log = base / "server.log"
    try:
        subprocess.run(
            _as_server_user([str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", DB_USER, "--no-sync"]),
            check=True,
            capture_output=True,
        )
        durability = "on" if fsync else "off"
        options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync={durability} -c max_connections=200"
        subprocess.run(
            _as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "start"]),
            check=True,
            capture_output=True,
        )
        yield PgServer(port, data, bin_dir, itertools.count(1))
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(
                _as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]),
                capture_output=True,
            )
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    with run_server() as server:
        yield server


@pytest.fixture
def pg_dsn(pg_server: PgServer) -> str:
    """A fresh, empty database of the session's server."""
    return pg_server.new_database()
