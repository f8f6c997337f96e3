"""Schemathesis hooks of the API contract test (loaded through ``SCHEMATHESIS_HOOKS``).

Two hooks, each for something the fuzzer cannot know from the document:

- cases whose body is CliXml (``application/clixml+xml``) are not sent. The document declares that media
  type for ``createTask``, but its schema can only say "a string": no JSON Schema describes a valid
  PowerShell serialisation, so every generated body would be refused with 400 and count as "valid data
  rejected". The CliXml form is tested with real PowerShell in ``test_clixml.py`` and the Pester suite;
- ``waitTask`` and a one-call ``createTask`` wait at most :data:`WAIT_SECONDS`: without ``Timeout`` a wait
  lasts, by design, until a task that may never start has finished, and a generated ``Timeout`` or ``Wait``
  may be hours. Values the schema refuses (negative, not a number) are sent as generated.
"""

from __future__ import annotations

from typing import Any

import schemathesis

CLIXML = "application/clixml+xml"

WAIT_SECONDS = 0.1
"""Longest long poll of ``waitTask`` in the contract run (seconds)."""


@schemathesis.hook
def filter_case(context: Any, case: Any) -> bool:
    """Keep every case but those with a CliXml body."""
    return bool(case.media_type != CLIXML)


def _bounded(value: Any) -> Any:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > WAIT_SECONDS:
        return WAIT_SECONDS
    return value


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    """Bound the long polls: ``waitTask``'s ``Timeout`` (absent or longer → :data:`WAIT_SECONDS`) and a
    one-call ``createTask``'s ``Wait``."""
    method, path = case.operation.method.upper(), case.operation.path
    if method == "POST" and path == "/api/v1/tasks" and isinstance(case.body, dict):
        body = dict(case.body)
        for key in [k for k in body if isinstance(k, str) and k.lower() == "wait"]:
            body[key] = _bounded(body[key])
        case.body = body
        return
    if method != "GET" or not path.endswith("/wait"):
        return
    query = dict(case.query) if isinstance(case.query, dict) else {}
    timeouts = [key for key in query if key.lower() == "timeout"]
    if not timeouts:
        query["Timeout"] = WAIT_SECONDS
    for key in timeouts:
        query[key] = _bounded(query[key])
    case.query = query
