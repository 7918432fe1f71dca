"""Model providers behind one async streaming interface (see ``base.py``)."""

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
