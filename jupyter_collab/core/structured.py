"""Structured outputs: ask a provider for JSON matching a pydantic model.

Every provider answers with raw JSON text (tool use for Anthropic, grammar-
constrained JSON for llama.cpp, json_schema for OpenAI-compatible servers);
validation and the retry-once rule live here so all providers behave alike.
"""

from __future__ import annotations

import json
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from .errors import StructuredOutputError
from .providers.base import ChatRequest, Message, Provider, ToolSpec

T = TypeVar("T", bound=BaseModel)


def tool_for(model: type[BaseModel], name: str, description: str) -> ToolSpec:
    return ToolSpec(name=name, description=description, schema=model.model_json_schema())


def _problem(raw: str, model: type[BaseModel]) -> tuple[BaseModel | None, str]:
    try:
        # strict=False: llama-cpp-python's JSON-schema grammar lets raw control
        # characters (a newline) into strings, which strict JSON forbids.
        data = json.loads(raw, strict=False)
    except json.JSONDecodeError as err:
        return None, f"not JSON: {err.msg} at line {err.lineno} column {err.colno}"
    try:
        return model.model_validate(data), ""
    except ValidationError as err:
        first = err.errors()[0]
        location = ".".join(str(p) for p in first["loc"]) or "(top level)"
        return None, f"{location}: {first['msg']}"


async def call_structured(
    provider: Provider, request: ChatRequest, model: type[T], *, name: str, description: str
) -> T:
    """Return a validated ``model``; retry once with the problem stated, then raise."""
    tool = tool_for(model, name, description)
    raw = await provider.complete_structured(request, tool)
    parsed, problem = _problem(raw, model)
    if parsed is not None:
        return parsed  # type: ignore[return-value]
    retry = request.model_copy(
        update={
            "messages": [
                *request.messages,
                Message(role="assistant", content=raw[:4000] or "(empty)"),
                Message(
                    role="user",
                    content=(
                        f"That answer was not valid ({problem}). Answer again with only "
                        f"JSON that matches the {name} schema."
                    ),
                ),
            ]
        }
    )
    raw = await provider.complete_structured(retry, tool)
    parsed, problem = _problem(raw, model)
    if parsed is not None:
        return parsed  # type: ignore[return-value]
    raise StructuredOutputError(name, raw, problem)
