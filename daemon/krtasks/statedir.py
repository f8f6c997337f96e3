"""The daemon's state directory: where it is, its lock, its token and its ``daemon.json``.

Layout (the directory is 0700, secrets 0600; POSIX only, the lock is ``fcntl.flock``):

- ``cert.pem`` / ``key.pem``: the TLS certificate and key (see :mod:`krtasks.tls`).
- ``token``: the bearer token, one line (RFC 6750 ``b64token`` characters).
- ``daemon.lock``: held (``flock``) by the running daemon for its whole life; holds ``"<pid> <port>"``
  so a second daemon can say who owns the directory even before ``daemon.json`` exists.
- ``daemon.json``: ``{Pid, Port, Host, Url, Version, StartedAt, Auth, CertFile}``, written once the daemon
  answers requests and removed on a clean exit (``StartedAt`` ISO 8601 UTC).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs

STATE_DIR_ENV = "KRTASKS_STATE_DIR"
"""Environment variable overriding the default state directory."""

TOKEN_BYTES = 32
"""Entropy of a generated token (bytes); URL-safe base64 makes it 43 characters."""

CERT_FILE = "cert.pem"
KEY_FILE = "key.pem"
TOKEN_FILE = "token"
NODE_ID_FILE = "node-id"
LOCK_FILE = "daemon.lock"
DAEMON_FILE = "daemon.json"


class StateDirError(Exception):
    """The state directory cannot be used (not a directory, unreadable file, ...); the message says why."""


class StateDirBusyError(StateDirError):
    """Another daemon holds the state directory's lock; ``pid`` and ``port`` say which (None if unknown)."""

    def __init__(self, state_dir: Path, pid: int | None, port: int | None) -> None:
        who = f"pid {pid}" if pid else "another process"
        where = f", port {port}" if port else " (still starting)"
        super().__init__(f"another KrTasks daemon ({who}{where}) already uses the state dir {state_dir}")
        self.pid = pid
        self.port = port


def default_state_dir() -> Path:
    """Return ``$KRTASKS_STATE_DIR`` if set, else the user's data dir (``~/.local/share/krtasks`` on Linux)."""
    env = os.environ.get(STATE_DIR_ENV)
    if env:
        return Path(env).expanduser().resolve()
    return Path(platformdirs.user_data_dir("krtasks", appauthor=False)).resolve()


def ensure_state_dir(path: Path) -> Path:
    """Create ``path`` (and parents) if needed, restrict it to its owner (0700) and return it resolved.

    Raises:
        StateDirError: the path exists and is not a directory, or cannot be created.
    """
    path = path.expanduser().resolve()
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:
        raise StateDirError(f"the state dir {path} is not a directory") from exc
    except OSError as exc:
        raise StateDirError(f"cannot create the state dir {path}: {exc.strerror}") from exc
    # mkdir's mode is masked by the umask and ignored for an existing directory, hence chmod.
    os.chmod(path, 0o700)
    return path


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temp file + rename) with mode 0600 from the first byte."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def create_private_once(path: Path, data: bytes) -> bool:
    """Create ``path`` with ``data`` (mode 0600) unless it exists; False when another process (a node starting
    at the same moment with the same ``--token-file``) created it first. Atomic: the file appears complete
    (temp file + ``link``, which refuses an existing name), and exactly one of concurrent callers wins."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def load_or_create_node_id(state_dir: Path) -> str:
    """This daemon's node id in a shared store, kept in ``state_dir/node-id`` (created on first use as
    ``<host name>-<6 hex digits>``), so a restart with the same state dir is the same node.

    Raises:
        StateDirError: the file exists but is empty or unreadable.
    """
    path = state_dir / NODE_ID_FILE
    if not path.exists():
        host = "".join(c if c.isalnum() or c in "-." else "-" for c in socket.gethostname())[:40] or "node"
        write_private(path, f"{host}-{secrets.token_hex(3)}\n".encode("ascii"))
    try:
        node = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise StateDirError(f"cannot read the node id file {path}: {exc}") from exc
    if not node:
        raise StateDirError(f"the node id file {path} is empty; delete it to get a new node id")
    return node


def load_or_create_token(state_dir: Path, path: Path | None = None) -> str:
    """Return the token stored in ``path`` (default ``state_dir/token``), creating it (0600) on first use.
    Nodes sharing a store share one token file (``--token-file``).

    The token is ``secrets.token_urlsafe(32)``: 256 bits of entropy, RFC 6750 ``b64token`` characters.

    Raises:
        StateDirError: the file exists but is empty or unreadable.
    """
    path = path or state_dir / TOKEN_FILE
    if not path.exists():
        # Nodes started together on one --token-file: one creates it, the others read that one.
        create_private_once(path, (secrets.token_urlsafe(TOKEN_BYTES) + "\n").encode("ascii"))
    try:
        token = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise StateDirError(f"cannot read the token file {path}: {exc}") from exc
    if not token:
        raise StateDirError(f"the token file {path} is empty; delete it to get a new token")
    # Tighten a token file someone loosened by hand: it is a credential.
    os.chmod(path, 0o600)
    return token


class InstanceLock:
    """The single-instance lock of a state directory (``flock`` on ``daemon.lock``).

    The kernel drops the lock when the holding process dies, so a crashed daemon never blocks the next.
    """

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock and record this pid in it.

        Raises:
            StateDirBusyError: another process holds it (its pid and port read from the lock file).
        """
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            pid, port = read_lock_owner(self.path.parent)
            raise StateDirBusyError(self.path.parent, pid, port) from None
        self._fd = fd
        self.set_port(None)

    def set_port(self, port: int | None) -> None:
        """Rewrite the lock file as ``"<pid> <port>"`` (port 0 while unknown)."""
        if self._fd is None:
            raise RuntimeError("the lock is not held")
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{os.getpid()} {port or 0}\n".encode("ascii"), 0)

    def release(self) -> None:
        """Release the lock (idempotent). The file stays; its content no longer means anything."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            os.close(self._fd)
            self._fd = None


def read_lock_owner(state_dir: Path) -> tuple[int | None, int | None]:
    """Return ``(pid, port)`` recorded in the lock file (None for what is missing or unreadable)."""
    try:
        parts = (state_dir / LOCK_FILE).read_text(encoding="ascii").split()
        pid = int(parts[0]) if parts else None
        port = int(parts[1]) if len(parts) > 1 and int(parts[1]) > 0 else None
    except (OSError, ValueError, UnicodeDecodeError):
        return None, None
    return pid, port


def lock_is_held(state_dir: Path) -> bool:
    """True when some process holds the state directory's lock (i.e. a daemon is alive there)."""
    try:
        fd = os.open(state_dir / LOCK_FILE, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


@dataclass(frozen=True)
class DaemonInfo:
    """The content of ``daemon.json``: how to reach the running daemon.

    ``url`` is connectable (a wildcard bind host is replaced by loopback); ``started_at`` ISO 8601 UTC.
    """

    pid: int
    port: int
    host: str
    url: str
    version: str
    started_at: str
    auth: str
    cert_file: str

    def to_json(self) -> dict[str, Any]:
        """The PascalCase JSON object written to ``daemon.json``."""
        return {
            "Pid": self.pid,
            "Port": self.port,
            "Host": self.host,
            "Url": self.url,
            "Version": self.version,
            "StartedAt": self.started_at,
            "Auth": self.auth,
            "CertFile": self.cert_file,
        }


def write_daemon_info(state_dir: Path, info: DaemonInfo) -> None:
    """Write ``daemon.json`` atomically (0600)."""
    write_private(state_dir / DAEMON_FILE, (json.dumps(info.to_json(), indent=2) + "\n").encode("utf-8"))


def read_daemon_info(state_dir: Path) -> DaemonInfo | None:
    """Return the parsed ``daemon.json``, or None when it is missing or malformed."""
    try:
        data = json.loads((state_dir / DAEMON_FILE).read_text(encoding="utf-8"))
        return DaemonInfo(
            pid=int(data["Pid"]),
            port=int(data["Port"]),
            host=str(data["Host"]),
            url=str(data["Url"]),
            version=str(data["Version"]),
            started_at=str(data["StartedAt"]),
            auth=str(data.get("Auth", "token")),
            cert_file=str(data.get("CertFile", state_dir / CERT_FILE)),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def remove_daemon_info(state_dir: Path) -> None:
    """Delete ``daemon.json`` if present."""
    with contextlib.suppress(FileNotFoundError):
        (state_dir / DAEMON_FILE).unlink()
