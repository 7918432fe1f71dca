"""The OpenAI-compatible provider through the real ``openai`` SDK against a local wire server."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from jupyter_collab.core.config import CollabConfig
from jupyter_collab.core.errors import ConfigurationError, ProviderError
from jupyter_collab.core.providers.base import (
    ChatRequest,
    Message,
    StreamEnd,
    SystemBlock,
    TextDelta,
    ToolSpec,
)
from jupyter_collab.core.providers.openai_compat import OpenAICompatProvider
from tests.wire.openai_server import OpenAIWireServer

SECRET = "sk-test-Sup3rS3cretKey-0123456789abcdef"

SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string"}, "confidence": {"type": "number"}},
    "required": ["answer", "confidence"],
}


@pytest.fixture
def server():
    with OpenAIWireServer() as srv:
        yield srv


def make_provider(server: OpenAIWireServer, **overrides) -> OpenAICompatProvider:
    settings = {
        "provider": "openai",
        "openai_base_url": server.base_url,
        "openai_api_key": SECRET,
        "max_retries": 0,
        "request_timeout": 10.0,
    }
    settings.update(overrides)
    return OpenAICompatProvider(CollabConfig(**settings))


def request(**overrides) -> ChatRequest:
    values = {
        "system": [
            SystemBlock(text="You are terse."),
            SystemBlock(text="Facts: none.", cache=True),
        ],
        "messages": [Message(role="user", content="Say hello.")],
        "max_tokens": 50,
    }
    values.update(overrides)
    return ChatRequest(**values)


async def collect(provider, req):
    return [event async for event in provider.stream(req)]


async def test_stream_text_and_usage(server):
    provider = make_provider(server, model="wire-model")
    events = await collect(provider, request(temperature=0.3))
    await provider.aclose()

    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert "".join(deltas) == server.state.reply_text
    assert len(deltas) > 3  # really streamed, not one blob
    end = events[-1]
    assert isinstance(end, StreamEnd)
    assert sum(isinstance(e, StreamEnd) for e in events) == 1
    assert end.model == "wire-model"
    assert end.response_id == "chatcmpl-wire-stream"
    assert end.stop_reason == "end_turn"
    # prompt_tokens includes cached tokens; like Anthropic, input_tokens excludes them.
    assert end.usage.cache_read_input_tokens == 16
    assert end.usage.input_tokens == 21 - 16
    assert end.usage.total_input_tokens == 21
    assert end.usage.output_tokens == 9

    (sent,) = server.chat_requests()
    assert sent.body["stream"] is True
    assert sent.body["stream_options"] == {"include_usage": True}
    assert sent.body["temperature"] == 0.3
    assert sent.body["max_tokens"] == 50
    assert sent.body["messages"] == [
        {"role": "system", "content": "You are terse.\n\nFacts: none."},
        {"role": "user", "content": "Say hello."},
    ]
    assert sent.headers["authorization"] == f"Bearer {SECRET}"


async def test_complete_asks_one_response_without_streaming(server):
    provider = make_provider(server, model="wire-model")
    answer = await provider.complete(request(temperature=0.3))
    await provider.aclose()
    assert answer.text == server.state.reply_text
    assert answer.end.model == "wire-model" and answer.end.stop_reason == "end_turn"
    assert answer.end.usage.input_tokens == 21 - 16 and answer.end.usage.output_tokens == 9
    (sent,) = server.chat_requests()
    assert "stream" not in sent.body and "stream_options" not in sent.body
    assert sent.body["temperature"] == 0.3 and sent.body["max_tokens"] == 50
    system = {"role": "system", "content": "You are terse.\n\nFacts: none."}
    assert sent.body["messages"][0] == system


async def test_usage_without_cache_details(server):
    server.state.cached_tokens = None
    provider = make_provider(server, model="wire-model")
    end = (await collect(provider, request()))[-1]
    await provider.aclose()
    assert end.usage.input_tokens == 21
    assert end.usage.cache_read_input_tokens == 0
    (sent,) = server.chat_requests()
    assert "temperature" not in sent.body  # None means the server's default


async def test_model_discovered_from_server_when_not_configured(server):
    server.state.models = ["served-model", "other"]
    provider = make_provider(server)
    end = (await collect(provider, request()))[-1]
    await provider.aclose()
    assert server.chat_requests()[0].body["model"] == "served-model"
    assert end.model == "served-model"
    assert provider.describe() == {
        "provider": "openai",
        "model": "served-model",
        "base_url": server.base_url,
    }


async def test_server_without_stream_options(server):
    server.state.reject_stream_options = True
    provider = make_provider(server, model="wire-model")
    events = await collect(provider, request())
    await provider.aclose()
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == server.state.reply_text
    assert events[-1].usage.output_tokens == 0  # the server sent no usage
    first, second = server.chat_requests()
    assert "stream_options" in first.body and "stream_options" not in second.body


async def test_structured_output_json_schema(server):
    provider = make_provider(server, model="wire-model")
    tool = ToolSpec(name="rate answer!", description="Rate the answer.", schema=SCHEMA)
    raw = await provider.complete_structured(request(), tool)
    await provider.aclose()
    assert json.loads(raw) == {"answer": "forty-two", "confidence": 0.5}
    (sent,) = server.chat_requests()
    fmt = sent.body["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["name"] == "rate_answer_"
    assert fmt["json_schema"]["schema"] == SCHEMA
    assert fmt["json_schema"]["description"] == "Rate the answer."
    assert sent.body["temperature"] == 0.0
    assert "stream" not in sent.body or sent.body["stream"] is False


async def test_structured_output_falls_back_to_json_mode(server):
    server.state.reject_json_schema = True
    provider = make_provider(server, model="wire-model")
    tool = ToolSpec(name="rate", description="Rate the answer.", schema=SCHEMA)
    raw = await provider.complete_structured(request(), tool)
    await provider.aclose()
    assert json.loads(raw)["answer"] == "forty-two"
    first, second = server.chat_requests()
    assert first.body["response_format"]["type"] == "json_schema"
    assert second.body["response_format"] == {"type": "json_object"}
    system = second.body["messages"][0]
    assert system["role"] == "system"
    assert system["content"].startswith("You are terse.")
    assert '"confidence"' in system["content"]  # the schema went into the prompt


async def test_http_500_maps_to_provider_error(server):
    server.fail_next(500, "the GPU caught fire")
    provider = make_provider(server, model="wire-model")
    with pytest.raises(ProviderError) as info:
        await collect(provider, request())
    await provider.aclose()
    err = info.value
    assert err.status == 500
    assert err.retryable is True
    assert "the GPU caught fire" in str(err)
    assert "HTTP 500" in str(err)


async def test_400_on_structured_output_with_other_cause_is_reported(server):
    server.fail_next(400, "model 'nope' not found", error_type="invalid_request_error")
    server.fail_next(400, "model 'nope' not found", error_type="invalid_request_error")
    provider = make_provider(server, model="nope")
    with pytest.raises(ProviderError) as info:
        await provider.complete_structured(request(), ToolSpec("t", "", SCHEMA))
    await provider.aclose()
    assert info.value.status == 400
    assert info.value.retryable is False
    assert "model 'nope' not found" in str(info.value)


async def test_429_retry_after_is_honoured(server):
    server.fail_next(429, "slow down", error_type="rate_limit_error", retry_after="0.2")
    provider = make_provider(server, model="wire-model", max_retries=1)
    started = time.monotonic()
    events = await collect(provider, request())
    elapsed = time.monotonic() - started
    await provider.aclose()
    assert isinstance(events[-1], StreamEnd)
    assert len(server.chat_requests()) == 2
    assert elapsed >= 0.2


async def test_429_without_retries_left(server):
    server.fail_next(429, "slow down", error_type="rate_limit_error", retry_after="0.1")
    provider = make_provider(server, model="wire-model", max_retries=0)
    with pytest.raises(ProviderError) as info:
        await collect(provider, request())
    await provider.aclose()
    assert info.value.status == 429
    assert info.value.retryable is True
    assert "slow down" in str(info.value)


async def test_error_event_mid_stream(server):
    server.fail_next(kind="midstream", message="backend crashed mid-answer")
    provider = make_provider(server, model="wire-model")
    seen: list[str] = []
    with pytest.raises(ProviderError, match="backend crashed mid-answer"):
        async for event in provider.stream(request()):
            if isinstance(event, TextDelta):
                seen.append(event.text)
    await provider.aclose()
    assert seen  # some text arrived before the error


async def test_api_key_never_in_error_messages(server):
    # Like OpenAI itself, the server quotes the key it was given.
    server.fail_next(401, f"Incorrect API key provided: {SECRET}.", error_type="invalid_api_key")
    provider = make_provider(server, model="wire-model")
    with pytest.raises(ProviderError) as info:
        await collect(provider, request())
    await provider.aclose()
    assert info.value.status == 401
    assert SECRET not in str(info.value)
    assert SECRET not in repr(info.value.args)
    assert "Incorrect API key provided" in str(info.value)
    assert SECRET not in json.dumps(provider.describe())
    assert SECRET not in repr(provider._config)


async def test_unreachable_server_error_has_no_key():
    config = CollabConfig(
        provider="openai",
        openai_base_url="http://user:pw@127.0.0.1:9/v1",
        openai_api_key=SECRET,
        max_retries=0,
        request_timeout=5.0,
    )
    provider = OpenAICompatProvider(config)
    with pytest.raises(ProviderError) as info:
        await collect(provider, request(model="m"))
    await provider.aclose()
    message = str(info.value)
    assert "could not reach" in message
    assert SECRET not in message
    assert "pw@" not in message
    assert info.value.retryable is True


async def test_env_key_and_placeholder(server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env-123456")
    provider = make_provider(server, model="wire-model", openai_api_key=None)
    await collect(provider, request())
    await provider.aclose()
    monkeypatch.delenv("OPENAI_API_KEY")
    provider = make_provider(server, model="wire-model", openai_api_key=None)
    await collect(provider, request())
    await provider.aclose()
    first, second = server.chat_requests()
    assert first.headers["authorization"] == "Bearer sk-from-env-123456"
    assert second.headers["authorization"] == "Bearer not-needed"


async def test_closing_the_stream_closes_the_connection(server):
    server.state.reply_text = " ".join(f"w{i}" for i in range(200))
    server.state.chunk_delay = 0.02
    provider = make_provider(server, model="wire-model")
    stream = provider.stream(request())
    async for event in stream:
        if isinstance(event, TextDelta) and event.text.strip() == "w3":
            break
    await stream.aclose()
    await provider.aclose()
    # The server notices on its next write (chunks are 20 ms apart).
    assert await asyncio.to_thread(server.state.disconnected.wait, 3)
    assert server.state.disconnects == 1


async def test_count_tokens_is_an_estimate():
    provider = OpenAICompatProvider(
        CollabConfig(provider="openai", openai_base_url="http://127.0.0.1:9/v1")
    )
    short = await provider.count_tokens(request())
    long = await provider.count_tokens(
        request(messages=[Message(role="user", content="word " * 400)])
    )
    await provider.aclose()
    assert 0 < short < long
    assert 400 <= long <= 700  # ~2000 chars / 4 plus overhead


def test_one_provider_across_event_loops(server):
    """The kernel door may run each cell in a fresh event loop."""
    provider = make_provider(server, model="wire-model")
    for _ in range(2):
        events = asyncio.run(collect(provider, request()))
        assert isinstance(events[-1], StreamEnd)
    asyncio.run(provider.aclose())
    assert len(server.chat_requests()) == 2


def test_base_url_is_required():
    with pytest.raises(ConfigurationError, match="openai_base_url"):
        OpenAICompatProvider(CollabConfig(provider="openai"))
