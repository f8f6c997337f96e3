"""The daemon ↔ worker protocol: versioned JSON messages, one per line, over a Unix socket.

Framing is JSON Lines: orjson never writes a raw line break inside a document (it escapes them), so a
newline always ends a message; the daemon frames with asyncio's ``StreamReader.readline`` and the worker
with a buffered file's ``readline``. Every message carries ``v`` (:data:`VERSION`) and ``type``.

Daemon → worker (the worker trusts these; they come from its parent):

- ``start``: run one task — ``task`` (id), ``language``, ``code`` (PowerShell) or ``script`` (a compiled
  C#/VB image: ``id``, ``pe`` and ``pdb`` base64, ``is_script``, ``file``), ``arguments`` (JSON text) or
  ``arguments_clixml`` (CliXml text), ``clixml_depth`` (also send the output as CliXml; or null),
  ``reuse_runspace`` (PowerShell: a reset runspace of an earlier such task may run it),
  ``directory`` (or null), ``environment`` (name → value);
- ``stop``: ask the running task to stop (cooperatively); ``shutdown``: exit when idle.

Worker → daemon (validated strictly: the worker runs untrusted code, so anything else — bad JSON, an unknown
type or version, a field of the wrong type, a message about another task — is a :class:`ProtocolError`,
and the daemon kills that worker):

- ``hello``: ready (``pid``, ``dotnet``, ``powershell`` versions);
- ``step``: a running task's new stream records (``[stream, message, time]``) and changed progress;
- ``outcome``: how the task ended (``output`` JSON, ``error``, ``prompt``, ``notes``, ``records``, and
  ``output_clixml`` when asked for);
- ``failed``: the task could not be started (``error``);
- ``heartbeat``: alive, with the worker's resident set size (``rss``, bytes), every second.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, TypeAdapter, ValidationError

VERSION = 1
"""The protocol version both sides speak; a message of another version is refused."""

MAX_MESSAGE_BYTES = 64 * 1024 * 1024
"""Longest message line (bytes): a 16 MiB output encoded as JSON, with room to spare."""


class ProtocolError(Exception):
    """A worker sent something that is not a valid message of this protocol; the message says what."""


# Scalars are strict (no "1" for 1); JSON arrays are read as the tuples below.
Record = tuple[StrictStr, StrictStr, StrictStr]
"""``[stream, message, time]``."""


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1]


class Hello(_Message):
    """The worker is ready for tasks."""

    type: Literal["hello"]
    pid: StrictInt
    dotnet: StrictStr
    powershell: StrictStr


class Step(_Message):
    """News from a running task: records written and, when it changed, its progress
    ``[percent, status, activity, operation, seconds_remaining]``."""

    type: Literal["step"]
    task: StrictStr
    records: list[Record]
    progress: tuple[StrictInt, StrictStr, StrictStr | None, StrictStr | None, StrictInt | None] | None


class ErrorJson(BaseModel):
    """A task error as it travels (the record's ``Error`` shape)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    Type: StrictStr
    Message: StrictStr
    Category: StrictStr | None = None
    StackTrace: StrictStr | None = None
    Line: StrictInt | None = None
    Column: StrictInt | None = None


class OutcomeMessage(_Message):
    """How the task's code ended."""

    type: Literal["outcome"]
    task: StrictStr
    output: Any
    error: ErrorJson | None
    prompt: StrictStr | None
    notes: list[StrictStr]
    records: list[Record]
    output_clixml: StrictStr | None = None


class Failed(_Message):
    """The task could not be started in this worker."""

    type: Literal["failed"]
    task: StrictStr
    error: ErrorJson


class Heartbeat(_Message):
    """The worker is alive; ``rss`` is its resident set size in bytes."""

    type: Literal["heartbeat"]
    rss: StrictInt


WorkerMessage = Annotated[Hello | Step | OutcomeMessage | Failed | Heartbeat, Field(discriminator="type")]
_WORKER_MESSAGE: TypeAdapter[Hello | Step | OutcomeMessage | Failed | Heartbeat] = TypeAdapter(WorkerMessage)


def encode(message: dict[str, Any]) -> bytes:
    """One daemon or worker message as a line (``v`` added)."""
    return orjson.dumps({"v": VERSION, **message}) + b"\n"


def decode_from_worker(line: bytes) -> Hello | Step | OutcomeMessage | Failed | Heartbeat:
    """Parse and validate one line a worker sent.

    Raises:
        ProtocolError: not JSON, not an object, another version, an unknown type or a field of the wrong
            shape.
    """
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(f"the worker sent a line that is not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ProtocolError(f"the worker sent a {type(data).__name__}, not a message object")
    if data.get("v") != VERSION:
        raise ProtocolError(f"the worker speaks protocol version {data.get('v')!r}, not {VERSION}")
    try:
        return _WORKER_MESSAGE.validate_python(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ProtocolError(
            f"the worker sent an invalid {data.get('type')!r} message ({where}: {first['msg']})"
        ) from None
