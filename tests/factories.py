"""Objects many tests need, with plausible values; each test overrides what it checks."""

from __future__ import annotations

from typing import Any

from jupyter_collab.core.context_model import Mode, utcnow
from jupyter_collab.core.operation_models import CompletionResult
from jupyter_collab.core.providers.base import Usage


def completion_result(**fields: Any) -> CompletionResult:
    """A model's answer as both doors record it; ``fields`` replace the defaults."""
    values: dict[str, Any] = {
        "answer": "Use a log scale for the yields.",
        "prompt": "p",
        "response_id": "msg_1",
        "provider": "anthropic",
        "model": "claude-sonnet-5-5",
        "mode": Mode.research,
        "usage": Usage(),
        "context_revision": 0,
        "context_hash": "sha256:x",
        "input_hash": "sha256:y",
        "answer_hash": "sha256:z",
        "created": utcnow(),
    }
    values.update(fields)
    return CompletionResult(**values)
