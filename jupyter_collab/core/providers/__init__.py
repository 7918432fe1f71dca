"""Model providers behind one async streaming interface (see ``base.py``).

The names below are loaded on first access: the embedded model's worker process
(``python -m jupyter_collab.core.providers.llama_worker``) imports this package
and should not pay for pydantic, which it does not use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .base import (
        ChatRequest,
        Message,
        Provider,
        StreamEnd,
        StreamEvent,
        SystemBlock,
        TextDelta,
        ToolSpec,
        Usage,
    )

__all__ = [
    "ChatRequest",
    "Message",
    "Provider",
    "StreamEnd",
    "StreamEvent",
    "SystemBlock",
    "TextDelta",
    "ToolSpec",
    "Usage",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import base

        return getattr(base, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
