"""Logging of the daemon: one stderr handler, text or JSON lines, each carrying the request id."""

from __future__ import annotations

import logging
import sys

from pythonjsonlogger.json import JsonFormatter

from .web.middleware import RequestIdFilter

TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s [%(request_id)s] %(message)s"
JSON_FIELDS = ["asctime", "levelname", "name", "request_id", "message"]

ACCESS_LOG_FORMAT = '%a "%r" %s %b %Tfs "%{User-Agent}i"'
"""aiohttp access-log line: client, request line, status, bytes, duration (s), user agent."""


def configure_logging(level: str = "info", fmt: str = "text") -> None:
    """Send every log record to stderr at ``level`` (debug/info/warning/error) as text or JSON lines.

    JSON lines carry ``asctime, levelname, name, request_id, message`` (python-json-logger), plus
    ``exc_info`` for exceptions.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter(JSON_FIELDS, rename_fields={"asctime": "time", "levelname": "level"}))
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
