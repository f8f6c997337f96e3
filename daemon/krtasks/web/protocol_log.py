"""What aiohttp's protocol handler logs about requests it could not parse, in one line each.

A request with a NUL byte in a header, a header line over 8 KiB or broken chunked framing never reaches the
application: aiohttp answers it 400 itself and reports the parser's exception to its ``logger`` with a
traceback at ERROR. Such requests are the client's fault, so :class:`ProtocolLog` (given to the
``AppRunner`` as ``logger``) logs them at WARNING in one line with a request id of their own, counts them in
``krtasks_http_malformed_requests_total{reason}`` (the parser's exception class) and logs nothing of the
request's bytes (a malformed ``Authorization`` line would carry the token). Anything else aiohttp reports
there is a real fault and stays at ERROR with its traceback.
"""

from __future__ import annotations

import logging
import sys
import uuid
from typing import Any

from aiohttp.http_exceptions import HttpProcessingError
from prometheus_client import Counter

from .middleware import request_id_var

_MAX_REASON = 120
"""Longest description kept from a parser message (characters)."""


def _parser_error(exc_info: Any) -> HttpProcessingError | None:
    exc = exc_info if isinstance(exc_info, BaseException) else sys.exc_info()[1] if exc_info else None
    return exc if isinstance(exc, HttpProcessingError) else None


def describe(exc: HttpProcessingError) -> str:
    """The parser's description without the request bytes it quotes (``Invalid header value char``)."""
    text = " ".join(str(exc.message).split()).partition(":")[0]
    return text[:_MAX_REASON] or type(exc).__name__


class ProtocolLog(logging.LoggerAdapter[logging.Logger]):
    """The ``logger`` of aiohttp's request handler: parser errors as one WARNING line and a counter.

    ``counter`` is labelled by ``reason`` (the exception's class name, e.g. ``BadHttpMessage``,
    ``LineTooLong``). Non-HTTP traffic as the first bytes of a connection (``BadHttpMethod``), which
    aiohttp reports at DEBUG, is counted and stays at DEBUG.
    """

    def __init__(self, logger: logging.Logger, counter: Counter) -> None:
        super().__init__(logger, {})
        self._counter = counter

    def _refused(self, level: int, exc: HttpProcessingError, args: tuple[Any, ...]) -> None:
        self._counter.labels(type(exc).__name__).inc()
        remote = args[0] if args else "?"
        # The id stays set for the access line that follows (aiohttp closes the connection after it).
        request_id_var.set(uuid.uuid4().hex[:16])
        self.logger.log(
            level,
            "Malformed HTTP request from %s answered %s: %s (%s)",
            remote,
            exc.code,
            describe(exc),
            type(exc).__name__,
        )

    def exception(self, msg: object, *args: Any, exc_info: Any = True, **kwargs: Any) -> None:
        """A parser error → one WARNING line; anything else → ERROR with the traceback."""
        parser_error = _parser_error(exc_info)
        if parser_error is not None:
            self._refused(logging.WARNING, parser_error, args)
            return
        self.logger.error(msg, *args, exc_info=exc_info, **kwargs)

    def debug(self, msg: object, *args: Any, **kwargs: Any) -> None:
        """A parser error → counted, one DEBUG line; anything else as given."""
        parser_error = _parser_error(kwargs.get("exc_info"))
        if parser_error is not None:
            self._refused(logging.DEBUG, parser_error, args)
            return
        self.logger.debug(msg, *args, **kwargs)
