"""The REST API's CliXml form (``application/clixml+xml``): PowerShell's own serialisation, for PowerShell
clients, as jobs and remoting use it.

A creation request may be CliXml of a hashtable with the JSON body's fields: its ``Arguments`` keep their
.NET types (a ``[datetime]`` stays a DateTime, a hashtable a hashtable), and the task keeps its output as
CliXml too, so a result asked for with ``Accept: application/clixml+xml`` comes back typed (rich objects as
Deserialized.*, exactly like Receive-Job). Encoding and decoding use the PowerShell SDK the daemon has
loaded (for parsing and compiling), off the event loop.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from .errors import TaskValidationError

CLIXML = "application/clixml+xml"
"""The media type of PowerShell's CliXml serialisation in the API."""

DEFAULT_DEPTH = 4
"""How deep a task created in the CliXml form serialises its output unless it says otherwise (as the module's
``-SerializationDepth`` defaults)."""

REQUEST_DEPTH = 16
"""Depth of the JSON view of a CliXml request (and of re-serialising its arguments: deep enough to lose
nothing the client sent)."""


REQUEST_JSON_MAX_BYTES = 16 * 1024 * 1024
"""Most bytes of that JSON view (bodies are bounded by ``--max-body-bytes`` long before)."""


def _net() -> Any:
    from .runtime import load_runtime

    return load_runtime().net


def wants_clixml(accept: str) -> bool:
    """True when an ``Accept`` header asks for CliXml."""
    return CLIXML in accept.lower()


async def decode_create_body(text: str) -> tuple[dict[str, Any], str | None]:
    """A CliXml creation request as the JSON body's fields (``Arguments`` as a JSON view), and the arguments
    as CliXml (None without arguments).

    Raises:
        TaskValidationError: not CliXml, or not a hashtable (field ``body``).
        krtasks.runtime.RuntimeNotAvailableError: this daemon has no .NET runtime to read CliXml with.
    """

    def decode() -> str:
        try:
            return str(_net().CliXmlCodec.RequestToJson(text, REQUEST_DEPTH, REQUEST_JSON_MAX_BYTES))
        except Exception as exc:  # .NET's ArgumentException through pythonnet
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise TaskValidationError("body", message.removeprefix("System.ArgumentException: ")) from None

    fields = json.loads(await asyncio.to_thread(decode))
    if not isinstance(fields, dict):
        raise TaskValidationError("body", "the body must be CliXml of a hashtable of the request's fields")
    arguments_clixml = fields.pop("ArgumentsCliXml", None)
    return fields, arguments_clixml if isinstance(arguments_clixml, str) else None


async def encode_result(result: dict[str, Any], output_clixml: str | None, depth: int) -> str:
    """A task's result (``{Id, CreatedAt, State, Output, Error}``) as CliXml: the output from the task's own
    CliXml when it kept one, else from its JSON output."""

    def encode() -> str:
        error = result["Error"]
        return str(
            _net().CliXmlCodec.Result(
                result["Id"],
                result["CreatedAt"],
                str(result["State"]),
                output_clixml,
                json.dumps(result["Output"]),
                None if error is None else json.dumps(error),
                depth,
            )
        )

    return await asyncio.to_thread(encode)
