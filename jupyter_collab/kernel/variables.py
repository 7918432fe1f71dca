"""Filling ``{name}`` in a prompt from the kernel's namespace.

A name is looked up in the user namespace (``{df}``, or an attribute path such
as ``{df.shape}``; nothing is evaluated beyond attribute access) and formatted
by the core's rule (``core/values.py``), cut to ``c.CollabMagics.value_max_chars``.
Unknown names stay as written; ``{{`` and ``}}`` are literal braces.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..core.cellsource import fill_variables
from ..core.values import DEFAULT_MAX_CHARS, format_value

_MISSING = object()


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
