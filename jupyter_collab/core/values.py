"""How a kernel value becomes prompt text when a prompt references ``{name}``.

The value is ``str(obj)``, except for table-like objects (pandas, polars,
pyarrow and xarray), whose ``repr`` is already a short, truncated view. Every
value is cut to ``max_chars`` characters (2,000 by default) and the cut is said
in the prompt, so a large object cannot flood the model. A ``__str__`` that
raises gives a note instead of failing the cell.

The kernel door calls :func:`format_value` in its own process. The lab front
end reads values from a kernel that may not have this package installed, so
:func:`value_expression` ships this function's own source inside the Python
expression it evaluates there: one implementation, whichever door reads.
"""

from __future__ import annotations

import inspect
import json
import re
from functools import cache
from typing import Any

DEFAULT_MAX_CHARS = 2000
_TABLE_MODULES = ("pandas", "polars", "pyarrow", "xarray")
# ``name`` or ``name.attr``: nothing but attribute access is evaluated.
_REFERENCE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def format_value(value: Any, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    module = type(value).__module__.split(".")[0]
    try:
        text = repr(value) if module in _TABLE_MODULES else str(value)
    except Exception as err:  # a broken __str__ must not break the cell
        text = f"<{type(value).__name__}: str() failed: {err}>"
    if max_chars > 0 and len(text) > max_chars:
        more = len(text) - max_chars
        text = text[:max_chars] + f"… [truncated: {more} more characters]"
    return text


@cache
def _format_value_source() -> str:
    return (
        "from __future__ import annotations\n"
        f"DEFAULT_MAX_CHARS = {DEFAULT_MAX_CHARS!r}\n"
        f"_TABLE_MODULES = {_TABLE_MODULES!r}\n" + inspect.getsource(format_value)
    )


def value_expression(name: str, max_chars: int = DEFAULT_MAX_CHARS) -> str:
    """A Python expression that, evaluated in a kernel's namespace (as a
    ``user_expressions`` entry), gives ``format_value(<name>, max_chars)``
    JSON-encoded in a str; it defines nothing in that namespace."""
    if not _REFERENCE.fullmatch(name):
        raise ValueError(f"not a variable reference: {name!r}")
    source = json.dumps(_format_value_source())
    return (
        "(lambda scope: (exec(" + source + ", scope), "
        "__import__('json').dumps(scope['format_value']("
        + name
        + f", {int(max_chars)})))[1])({{}})"
    )
