"""JSON responses (UTF-8, non-ASCII kept as is)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aiohttp import web


def dumps(value: Any) -> str:
    """Serialise a JSON-ready value (records, outputs) compactly, keeping non-ASCII characters."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def json_response(value: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    """An ``application/json; charset=utf-8`` response with ``value`` as its body."""
    return web.Response(status=status, text=dumps(value), content_type="application/json", headers=headers)
