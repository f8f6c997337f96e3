"""Schemathesis hooks of the API contract test (loaded through ``SCHEMATHESIS_HOOKS``).

Two hooks, each for something the fuzzer cannot know from the document:

- cases whose body is CliXml (``application/clixml+xml``) are not sent. The document declares that media
  type for ``createTask``, but its schema can only say "a string": no JSON Schema describes a valid
  PowerShell serialisation, so every generated body would be refused with 400 and count as "valid data
  rejected". The CliXml form is tested with real PowerShell in ``test_clixml.py`` and the Pester suite;
- ``waitTask`` waits at most :data:`WAIT_SECONDS`: without ``Timeout`` it waits, by design, for a task that
  may never start, and a generated ``Timeout`` may be hours. A ``Timeout`` the schema refuses (negative,
  not a number) is sent as generated.
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


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    """Bound ``waitTask``'s long poll (absent or longer ``Timeout`` → :data:`WAIT_SECONDS`)."""
    if case.operation.method.upper() != "GET" or not case.operation.path.endswith("/wait"):
        return
    query = dict(case.query) if isinstance(case.query, dict) else {}
    timeouts = [key for key in query if key.lower() == "timeout"]
    if not timeouts:
        query["Timeout"] = WAIT_SECONDS
    for key in timeouts:
        value = query[key]
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > WAIT_SECONDS:
            query[key] = WAIT_SECONDS
    case.query = query
