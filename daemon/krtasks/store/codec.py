"""The JSON text codec both stores use for Arguments, ExtraImports/ExtraRefs, Progress, Error, Output and
Environment: compact UTF-8 JSON text (text, not PostgreSQL ``jsonb``, which would reorder an object's keys)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any


def dumps(value: Any) -> str:
    """``value`` as compact JSON text (non-ASCII kept as is)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


_EMPTY: dict[str, Callable[[], Any]] = {"[]": list, "{}": dict, "null": lambda: None}


def loads(text: str | None) -> Any:
    """Inverse of :func:`dumps`; None stays None. Loading 10 000 tasks parses 50 000 small documents, so the
    common empty ones need no parser."""
    if text is None:
        return None
    make = _EMPTY.get(text)
    return make() if make is not None else json.loads(text)
