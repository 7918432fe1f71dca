"""The one interface every model provider implements.

A request is provider-neutral: system blocks (the last one marked ``cache``
closes the cacheable context), then alternating user/assistant messages.
A stream yields :class:`TextDelta` events and ends with exactly one
:class:`StreamEnd` carrying the usage (including prompt-cache tokens).
:meth:`Provider.complete` answers the same request whole, for callers that
read nothing until the answer has ended (which calls take it is decided in one
place, ``operations/fanout.answer_text``).
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field

from ..errors import ProviderError


class SystemBlock(BaseModel):
    text: str
    # True on the block that closes the context: Anthropic puts a
    # cache_control breakpoint there; other providers ignore it.
    cache: bool = False


class Message(BaseModel):
    role: Literal["user", "assistant"]
    content: str
    # True on the last message of the earlier conversation and on the prompt:
    # Anthropic caches the request up to there too, so a notebook's growing
    # history is read from the cache on the next call. Other providers ignore it.
    cache: bool = False


class ChatRequest(BaseModel):
    model: str | None = None  # None: the provider's default model
    system: list[SystemBlock] = Field(default_factory=list)
    messages: list[Message]
    max_tokens: int = 1024
    temperature: float | None = None

    def system_text(self) -> str:
        return "\n\n".join(block.text for block in self.system)


class Usage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0

    @property
    def total_input_tokens(self) -> int:
        return self.input_tokens + self.cache_read_input_tokens + self.cache_creation_input_tokens


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class StreamEnd:
    usage: Usage
    model: str
    response_id: str
    stop_reason: str | None = None


StreamEvent = TextDelta | StreamEnd


@dataclass(frozen=True)
class Completion:
    """A whole answer: its text and what the stream's end would have carried."""

    text: str
    end: StreamEnd


@dataclass
class ToolSpec:
    """A structured-output request: the model must answer with JSON matching ``schema``."""

    name: str
    description: str
    schema: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)


class Provider(abc.ABC):
    """A model backend. Implementations never block the event loop."""

    name: str = "provider"
    #: Whether this backend, as the preview's judge, agrees poorly with the labelled
    #: calibration cases (``tests/data/judge_calibration.json``, measured by
    #: ``benchmarks/bench_judge.py``): its verdicts are then shown as a weak signal
    #: behind the deterministic measures.
    weak_judge: bool = False
    #: How many old turns of a conversation are dropped at a time once more than
    #: ``core.assembly.DEFAULT_HISTORY_TURNS`` are held (``core.assembly.history_window``):
    #: each drop changes the conversation's prefix, so a provider with a prompt cache
    #: writes the kept turns to it again.
    history_step: int = 3

    @property
    @abc.abstractmethod
    def default_model(self) -> str: ...

    def resolve_model(self, request: ChatRequest) -> str:
        return request.model or self.default_model

    @abc.abstractmethod
    def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """Stream an answer; closing the iterator cancels the upstream request."""

    async def complete(self, request: ChatRequest) -> Completion:
        """The whole answer at once. This default reads :meth:`stream` to its end
        (a backend where streaming costs nothing extra keeps it); an HTTP backend
        asks its API for one response instead, which spares the parsing of an
        event per token on both sides."""
        parts: list[str] = []
        end: StreamEnd | None = None
        async with aclosing(self.stream(request)) as stream:  # type: ignore[type-var]
            async for event in stream:
                if isinstance(event, TextDelta):
                    parts.append(event.text)
                elif isinstance(event, StreamEnd):
                    end = event
        if end is None:
            raise ProviderError(f"{self.name}: the stream ended without a final message")
        return Completion("".join(parts), end)

    @abc.abstractmethod
    async def complete_structured(self, request: ChatRequest, tool: ToolSpec) -> str:
        """Ask for JSON matching ``tool.schema``; return the raw JSON text the model produced.

        Validation and the retry-once rule live in the core (``structured.py``),
        shared by every provider.
        """

    @abc.abstractmethod
    async def count_tokens(self, request: ChatRequest) -> int:
        """Input tokens the request would use."""

    def answers_vary(self, request: ChatRequest) -> bool:
        """Whether two calls of ``request`` are expected to answer differently: sampling
        is on (no temperature, or above 0). A preview then draws a probe's extra baseline
        samples alongside its first answers instead of after them. Only timing depends on
        it: the noise floor is measured whenever the answers differ, whatever this says."""
        return request.temperature is None or request.temperature > 0

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release clients and models."""

    def describe(self) -> dict[str, Any]:
        """What the UI may show: never a secret."""
        return {"provider": self.name, "model": self.default_model}
