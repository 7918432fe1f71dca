"""A scripted Provider double for fast unit tests of the loop's operations.

Answers are a deterministic function of the request (so baseline and amended
answers differ exactly when the system prompt differs); structured answers come
from per-tool scripts. Every call is logged with its kind, and the number of
concurrent calls is tracked. A streamed call also records when it started, gave
its first text and ended, as positions on one counter shared by all calls, so a
test can check the order of events without reading a clock; a whole answer
(``complete``, kind ``"complete"``) records when it started and ended.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from jupyter_collab.core.providers.base import (
    ChatRequest,
    Completion,
    Provider,
    StreamEnd,
    StreamEvent,
    TextDelta,
    ToolSpec,
    Usage,
)


@dataclass
class Call:
    kind: str  # "stream", "complete" (a whole answer) or the tool name
    request: ChatRequest
    tool: ToolSpec | None = None
    # For streamed calls: the order in which it started, gave its first text and
    # ended (positions on the provider's one counter; None: not reached).
    started: int | None = None
    first_text: int | None = None
    ended: int | None = None

    @property
    def is_answer(self) -> bool:
        """An answer, streamed or whole (not a structured call)."""
        return self.kind in ("stream", "complete")


def default_answer(request: ChatRequest) -> str:
    system = request.system_text()
    marker = ""
    if "## " in system:  # a constitution is present: answer shows its last line
        marker = " | rules: " + system.strip().splitlines()[-1]
    return f"Answer to: {request.messages[-1].content}{marker}"


@dataclass
class ScriptedProvider(Provider):
    answer: Callable[[ChatRequest], str] = default_answer
    structured: dict[str, Any] = field(default_factory=dict)  # tool name -> list/dict/callable
    delay: float = 0.0
    delta_delay: float = 0.0
    model_name: str = "scripted-1"
    calls: list[Call] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    fail_on: Callable[[ChatRequest], bool] | None = None
    name: str = "scripted"
    _order: Iterator[int] = field(default_factory=itertools.count, repr=False)

    @property
    def default_model(self) -> str:
        return self.model_name

    def _enter(self) -> None:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _start(self, kind: str, request: ChatRequest) -> Call:
        call = Call(kind, request, started=next(self._order))
        self.calls.append(call)
        self._enter()
        return call

    async def _scripted_text(self, request: ChatRequest) -> str:
        """The answer after the scripted delay, or the scripted failure."""
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail_on is not None and self.fail_on(request):
            from jupyter_collab.core.errors import ProviderError

            raise ProviderError("scripted failure")
        return self.answer(request)

    def _end(self, request: ChatRequest, text: str) -> StreamEnd:
        return StreamEnd(
            usage=Usage(input_tokens=10, output_tokens=len(text.split())),
            model=self.resolve_model(request),
            response_id=f"scripted-{len(self.calls)}",
            stop_reason="end_turn",
        )

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        call = self._start("stream", request)
        try:
            text = await self._scripted_text(request)
            for word in text.split(" "):
                if call.first_text is None:
                    call.first_text = next(self._order)
                yield TextDelta(word + " ")
                if self.delta_delay:
                    await asyncio.sleep(self.delta_delay)
            yield self._end(request, text)
            call.ended = next(self._order)
        finally:
            self.in_flight -= 1

    async def complete(self, request: ChatRequest) -> Completion:
        call = self._start("complete", request)
        try:
            text = await self._scripted_text(request)
            if self.delta_delay:  # as long as the stream of the same answer
                await asyncio.sleep(self.delta_delay * len(text.split(" ")))
            end = self._end(request, text)
            call.ended = next(self._order)
            # The words as the stream sends them, joined.
            return Completion("".join(word + " " for word in text.split(" ")), end)
        finally:
            self.in_flight -= 1

    async def complete_structured(self, request: ChatRequest, tool: ToolSpec) -> str:
        self.calls.append(Call(tool.name, request, tool))
        self._enter()
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            script = self.structured.get(tool.name)
            if callable(script):
                value = script(request)
            elif isinstance(script, list):
                value = script.pop(0) if len(script) > 1 else script[0]
            else:
                value = script
            return value if isinstance(value, str) else json.dumps(value)
        finally:
            self.in_flight -= 1

    async def count_tokens(self, request: ChatRequest) -> int:
        return len(request.system_text() + request.messages[-1].content) // 4

    def kinds(self) -> list[str]:
        return [call.kind for call in self.calls]
