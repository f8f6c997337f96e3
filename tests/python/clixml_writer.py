"""CliXml documents written as PowerShell writes them (``[PSSerializer]::Serialize``, the format of
Export-Clixml), for the tests of the API's CliXml form."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape, quoteattr


def clixml(value: Any) -> str:
    """``value`` as a CliXml document: dict → Hashtable, list → ArrayList, str, bool, int (Int32 or Int64), float,
    naive datetime (a DateTime of unspecified kind)."""
    ids = itertools.count()
    namespace = "http://schemas.microsoft.com/powershell/2004/04"
    return f'<Objs Version="1.1.0.1" xmlns="{namespace}">{_item(value, None, ids)}</Objs>'


def _item(value: Any, name: str | None, ids: Iterator[int]) -> str:
    n = "" if name is None else f" N={quoteattr(name)}"
    if value is None:
        return f"<Nil{n} />"
    if isinstance(value, bool):
        return f"<B{n}>{str(value).lower()}</B>"
    if isinstance(value, int):
        tag = "I32" if -(2**31) <= value < 2**31 else "I64"
        return f"<{tag}{n}>{value}</{tag}>"
    if isinstance(value, float):
        return f"<Db{n}>{value!r}</Db>"
    if isinstance(value, str):
        return f"<S{n}>{escape(value)}</S>"
    if isinstance(value, datetime):
        return f"<DT{n}>{value.isoformat()}</DT>"
    ref = next(ids)
    if isinstance(value, dict):
        entries = "".join(f"<En>{_item(k, 'Key', ids)}{_item(v, 'Value', ids)}</En>" for k, v in value.items())
        types = "<T>System.Collections.Hashtable</T><T>System.Object</T>"
        return f'<Obj{n} RefId="{ref}"><TN RefId="{ref}">{types}</TN><DCT>{entries}</DCT></Obj>'
    if isinstance(value, list):
        items = "".join(_item(v, None, ids) for v in value)
        types = "<T>System.Collections.ArrayList</T><T>System.Object</T>"
        return f'<Obj{n} RefId="{ref}"><TN RefId="{ref}">{types}</TN><LST>{items}</LST></Obj>'
    raise TypeError(f"no CliXml for {type(value).__name__}")
