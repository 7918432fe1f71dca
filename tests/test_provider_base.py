"""The provider interface's own behaviour: a whole answer read from a stream."""

from __future__ import annotations

import pytest

from jupyter_collab.core.errors import ProviderError
from jupyter_collab.core.operations.fanout import answer_text
from jupyter_collab.core.providers.base import (
    ChatRequest,
    Message,
    Provider,
    StreamEnd,
    TextDelta,
    Usage,
)


class StreamOnly(Provider):
    """A backend that only streams (as the embedded model does)."""

    name = "stream-only"

    def __init__(self, ends: bool = True):
        self.ends = ends
        self.closed = 0
        self.completes = 0

    async def complete(self, request):
        self.completes += 1
        return await super().complete(request)

    @property
    def default_model(self) -> str:
        return "m"

    async def stream(self, request):
        try:
            for word in ("one ", "two"):
                yield TextDelta(word)
            if self.ends:
                yield StreamEnd(usage=Usage(output_tokens=2), model="m", response_id="r")
        finally:
            self.closed += 1

    async def complete_structured(self, request, tool):
        raise NotImplementedError

    async def count_tokens(self, request):
        return 0


REQUEST = ChatRequest(messages=[Message(role="user", content="hi")])


async def test_complete_reads_the_stream_to_its_end():
    provider = StreamOnly()
    answer = await provider.complete(REQUEST)
    assert answer.text == "one two" and answer.end.usage.output_tokens == 2
    assert provider.closed == 1
    with pytest.raises(ProviderError, match="without a final message"):
        await StreamOnly(ends=False).complete(REQUEST)


async def test_only_a_caller_waiting_for_the_start_streams():
    started: list[bool] = []
    provider = StreamOnly()
    assert await answer_text(provider, REQUEST, lambda: started.append(True)) == "one two"
    assert started == [True] and provider.completes == 0
    assert await answer_text(provider, REQUEST) == "one two"
    assert provider.completes == 1
