"""Filling ``{name}`` in a prompt from the kernel's namespace.

A name is looked up in the user namespace (``{df}``, or an attribute path such
as ``{df.shape}``; nothing is evaluated beyond attribute access). Its value is
``str(obj)``, except for table-like objects (pandas and polars frames and
series), whose ``repr`` is already a short, truncated view. Every value is cut
to ``max_chars`` characters (2,000 by default, ``c.CollabMagics.value_max_chars``)
and the cut is said in the prompt, so a large object cannot flood the model.
Unknown names stay as written; ``{{`` and ``}}`` are literal braces.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..core.cellsource import fill_variables

DEFAULT_MAX_CHARS = 2000
_TABLE_MODULES = ("pandas", "polars", "pyarrow", "xarray")
_MISSING = object()


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


def namespace_lookup(
    namespace: Mapping[str, Any], max_chars: int = DEFAULT_MAX_CHARS
) -> Callable[[str], str | None]:
    def lookup(name: str) -> str | None:
        head, *attributes = name.split(".")
        value = namespace.get(head, _MISSING)
        if value is _MISSING:
            return None
        for attribute in attributes:
            try:
                value = getattr(value, attribute)
            except Exception:
                return None
        return format_value(value, max_chars)

    return lookup


def fill_prompt(
    prompt: str, namespace: Mapping[str, Any], max_chars: int = DEFAULT_MAX_CHARS
) -> tuple[str, list[str]]:
    """The prompt with known names filled, and the names that were filled."""
    return fill_variables(prompt, namespace_lookup(namespace, max_chars))
