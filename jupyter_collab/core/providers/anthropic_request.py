"""The body of a Messages API request, and what each model generation accepts.

Model generations differ (checked against the installed SDK and the API docs,
Nov 2026): models from Claude Opus 4.7 / Sonnet 5 on reject sampling parameters
(``temperature``) with a 400, and the newest (Sonnet 5.5, Opus 5.5, Fable 5.x)
reject a forced ``tool_choice``. So ``temperature`` is only sent to models that
accept it, and structured outputs use JSON outputs (``output_config.format``)
unless the model predates them, in which case forced tool use is used.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from .base import ChatRequest, Message, ToolSpec

# Models that still accept ``temperature``: Claude 3.x and Claude 4 up to 4.6
# (Opus 4.7+ and every Claude 5 model answer a non-default value with a 400).
_ACCEPTS_SAMPLING = re.compile(r"^claude-(?:3-.*|(?:opus|sonnet|haiku)-4(?:-[0-6])?(?:-\d{8})?)$")
# Models without JSON outputs (``output_config.format``): Claude 3.x and 4.0/4.1.
_LACKS_JSON_OUTPUTS = re.compile(r"^claude-(?:3-.*|(?:opus|sonnet)-4(?:-[01])?(?:-\d{8})?)$")


def accepts_sampling_params(model: str) -> bool:
    """Whether ``temperature`` may be sent for ``model`` (ids not named ``claude-*`` may)."""
    return not model.startswith("claude-") or bool(_ACCEPTS_SAMPLING.match(model))


def structured_mode_for(model: str) -> Literal["json_schema", "tool"]:
    """JSON outputs where the model has them (all current models), else forced tool use."""
    if not model.startswith("claude-") or _LACKS_JSON_OUTPUTS.match(model):
        return "tool"
    return "json_schema"


def message_params(request: ChatRequest, model: str) -> dict[str, Any]:
    """The parameters of ``messages.create`` for ``request`` answered by ``model``."""
    params: dict[str, Any] = {
        "model": model,
        "max_tokens": request.max_tokens,
        "messages": [_message(m) for m in request.messages],
    }
    system = _system_blocks(request)
    if system:
        params["system"] = system
    if request.temperature is not None and accepts_sampling_params(model):
        # The SDK no longer types sampling parameters; they go in the body as is.
        params["extra_body"] = {"temperature": request.temperature}
    return params


def add_structured_output(
    params: dict[str, Any], tool: ToolSpec, mode: Literal["json_schema", "tool"]
) -> None:
    """Ask for an answer shaped by ``tool.schema``: forced tool use, or JSON outputs."""
    if mode == "tool":
        params["tools"] = [
            {"name": tool.name, "description": tool.description, "input_schema": tool.schema}
        ]
        params["tool_choice"] = {"type": "tool", "name": tool.name}
        return
    params["output_config"] = {
        "format": {"type": "json_schema", "schema": _json_output_schema(tool.schema)}
    }
    # The instruction goes after the cached context so the cache prefix is unchanged.
    params["system"] = [
        *params.get("system", []),
        {"type": "text", "text": _json_instruction(tool)},
    ]


def _system_blocks(request: ChatRequest) -> list[dict[str, Any]]:
    """System text blocks; ``cache=True`` becomes a ``cache_control`` breakpoint.

    The API rejects empty text blocks, so those are dropped; a breakpoint on a
    dropped block moves to the last block kept before it.
    """
    blocks: list[dict[str, Any]] = []
    for block in request.system:
        if block.text:
            blocks.append({"type": "text", "text": block.text})
        if block.cache and blocks:
            blocks[-1]["cache_control"] = {"type": "ephemeral"}
    return blocks


def _json_output_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema in the subset JSON outputs accept (the SDK's own transform).

    Constraints it drops (lengths, bounds) are still enforced by the core's validation.
    """
    import anthropic  # already imported by the provider that calls this

    try:
        return anthropic.transform_schema(schema)
    except (ValueError, TypeError):
        return schema


def _json_instruction(tool: ToolSpec) -> str:
    what = tool.description.strip() or f"the {tool.name} object"
    return f"Answer with only a JSON object ({tool.name}): {what}"


def _message(message: Message) -> dict[str, Any]:
    """A message; one marked ``cache`` closes a cached prefix (the conversation so far)."""
    if not message.cache:
        return {"role": message.role, "content": message.content}
    block = {"type": "text", "text": message.content, "cache_control": {"type": "ephemeral"}}
    return {"role": message.role, "content": [block]}
