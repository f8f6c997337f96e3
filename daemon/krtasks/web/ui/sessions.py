"""Browser sessions of the dashboard, and the one-time login codes that open them.

Everything lives in the daemon's memory: sessions and codes end with the daemon (a restart asks every
browser to log in again). Secrets come from :mod:`secrets`; the store keeps only their SHA-256 digests, so
looking one up reveals nothing about the secrets by its timing, and a memory dump holds no usable session.
Tokens and CSRF values are compared with :func:`hmac.compare_digest`.

- A **session** is opened by a login (the bearer token, or a one-time code) and named by a cookie
  (:data:`SESSION_COOKIE`: ``HttpOnly; Secure; SameSite=Strict; Path=/``). It carries a CSRF token the page
  must send as :data:`CSRF_HEADER` on every mutating API request. It ends at logout, after
  :data:`SESSION_IDLE_SECONDS` without use, or with the daemon; at most :data:`MAX_SESSIONS` live at once
  (the one closest to expiry goes first).
- A **login code** (``krtasks ui``) works once, within :data:`CODE_SECONDS`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

SESSION_COOKIE = "__Host-krtasks-session"
"""Name of the session cookie (the ``__Host-`` prefix makes browsers insist on Secure, Path=/ and no Domain)."""

CSRF_HEADER = "X-CSRF-Token"
"""Header that must carry the session's CSRF token on POST, PUT, PATCH and DELETE."""

CODE_SECONDS = 60.0
"""Lifetime of a one-time login code (seconds)."""

SESSION_IDLE_SECONDS = 12 * 3600.0
"""A session unused for this long ends (seconds)."""

MAX_SESSIONS = 1000
"""Most sessions kept at once."""

MAX_CODES = 100
"""Most unused login codes kept at once (the oldest goes first)."""


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8")).digest()


def same_secret(given: str | None, expected: str) -> bool:
    """True when ``given`` is ``expected``, compared in constant time (False for None)."""
    return given is not None and hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


@dataclass(slots=True)
class Session:
    """A logged-in browser: its CSRF token and when it expires (monotonic seconds)."""

    csrf: str
    expires_at: float


class SessionStore:
    """Sessions and login codes (see the module docstring). ``monotonic`` gives the seconds expiry is
    measured in."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._sessions: dict[bytes, Session] = {}
        self._codes: dict[bytes, float] = {}

    def __len__(self) -> int:
        return len(self._sessions)

    def open(self) -> tuple[str, Session]:
        """A new session: ``(session id for the cookie, session)``."""
        now = self._monotonic()
        if len(self._sessions) >= MAX_SESSIONS:
            self._sessions = {k: s for k, s in self._sessions.items() if s.expires_at > now}
            while len(self._sessions) >= MAX_SESSIONS:
                del self._sessions[min(self._sessions, key=lambda k: self._sessions[k].expires_at)]
        session_id = secrets.token_urlsafe(32)
        session = Session(secrets.token_urlsafe(32), now + SESSION_IDLE_SECONDS)
        self._sessions[_digest(session_id)] = session
        return session_id, session

    def find(self, session_id: str | None) -> Session | None:
        """The live session of this cookie value (its idle time starts again), or None."""
        if not session_id:
            return None
        digest = _digest(session_id)
        session = self._sessions.get(digest)
        if session is None:
            return None
        now = self._monotonic()
        if session.expires_at <= now:
            del self._sessions[digest]
            return None
        session.expires_at = now + SESSION_IDLE_SECONDS
        return session

    def end(self, session_id: str | None) -> None:
        """End the session of this cookie value (nothing happens for an unknown one)."""
        if session_id:
            self._sessions.pop(_digest(session_id), None)

    def issue_code(self) -> str:
        """A new one-time login code, valid for :data:`CODE_SECONDS`."""
        now = self._monotonic()
        self._codes = {k: t for k, t in self._codes.items() if t > now}
        while len(self._codes) >= MAX_CODES:
            del self._codes[min(self._codes, key=self._codes.__getitem__)]
        code = secrets.token_urlsafe(24)
        self._codes[_digest(code)] = now + CODE_SECONDS
        return code

    def redeem(self, code: str | None) -> bool:
        """Use up a login code: True when it was issued, unused and not expired (it is gone either way)."""
        if not code:
            return False
        expires_at = self._codes.pop(_digest(code), None)
        return expires_at is not None and expires_at > self._monotonic()
