"""AnthropicProvider through the real ``anthropic`` SDK against a local Messages API server."""

from __future__ import annotations

import asyncio
import json
import socket
from enum import Enum

import pytest
from pydantic import BaseModel, Field

from jupyter_collab.core.config import DEFAULT_ANTHROPIC_MODEL, CollabConfig
from jupyter_collab.core.errors import ConfigurationError, ProviderError
from jupyter_collab.core.providers.anthropic import AnthropicProvider
from jupyter_collab.core.providers.anthropic_request import (
    accepts_sampling_params,
    structured_mode_for,
)
from jupyter_collab.core.providers.base import (
    ChatRequest,
    Message,
    StreamEnd,
    SystemBlock,
    TextDelta,
    ToolSpec,
)
from tests.wire.anthropic_server import FAKE_API_KEY, AnthropicWireServer, Reply

LONG_CONTEXT = (
    "Fact: the cited source for the 1918 data is Smith et al. (2019). " * 80
)  # ~5.3k chars


def provider(max_retries: int = 2, **kwargs) -> AnthropicProvider:
    return AnthropicProvider(CollabConfig(max_retries=max_retries, request_timeout=10), **kwargs)


def request(*system: SystemBlock, prompt: str = "hi", **kwargs) -> ChatRequest:
    return ChatRequest(
        system=list(system), messages=[Message(role="user", content=prompt)], **kwargs
    )


async def collect(p: AnthropicProvider, req: ChatRequest) -> tuple[list[str], StreamEnd]:
    texts: list[str] = []
    ends: list[StreamEnd] = []
    async for event in p.stream(req):
        if isinstance(event, TextDelta):
            assert not ends, "a delta arrived after StreamEnd"
            texts.append(event.text)
        else:
            ends.append(event)
    assert len(ends) == 1
    return texts, ends[0]


# -- streaming ------------------------------------------------------------------


async def test_stream_yields_deltas_in_order_then_usage(anthropic_env: AnthropicWireServer):
    anthropic_env.script(Reply.text("alpha beta gamma delta", output_tokens=7))
    p = provider()
    texts, end = await collect(p, request(SystemBlock(text="You are terse."), prompt="hello"))
    await p.aclose()

    assert texts == ["alpha ", "beta ", "gamma ", "delta"]
    assert end.model == DEFAULT_ANTHROPIC_MODEL
    assert end.response_id.startswith("msg_")
    assert end.stop_reason == "end_turn"
    # "You are terse." is 14 chars -> 4 tokens, "hello" -> 2 tokens (server: chars / 4, rounded up)
    assert end.usage.model_dump() == {
        "input_tokens": 6,
        "output_tokens": 7,
        "cache_read_input_tokens": 0,
        "cache_creation_input_tokens": 0,
    }
    (sent,) = anthropic_env.message_requests()
    assert sent.api_key == FAKE_API_KEY  # the SDK sends it as "Authorization: Bearer …"
    assert anthropic_env.received_api_key(FAKE_API_KEY)
    assert sent.body["stream"] is True
    assert sent.body["model"] == DEFAULT_ANTHROPIC_MODEL
    assert sent.body["max_tokens"] == 1024
    assert sent.body["messages"] == [{"role": "user", "content": "hello"}]
    assert sent.body["system"] == [{"type": "text", "text": "You are terse."}]


async def test_complete_asks_one_response_without_streaming(anthropic_env: AnthropicWireServer):
    anthropic_env.script(
        Reply.text("alpha beta gamma delta", output_tokens=7, first_token_delay=0.05),
        Reply.error(529, "Overloaded"),
        Reply.text("after a retry"),
    )
    p = provider()
    answer = await p.complete(request(SystemBlock(text="You are terse."), prompt="hello"))
    assert answer.text == "alpha beta gamma delta"
    assert answer.end.model == DEFAULT_ANTHROPIC_MODEL and answer.end.stop_reason == "end_turn"
    assert answer.end.response_id.startswith("msg_")
    assert answer.end.usage.input_tokens == 6 and answer.end.usage.output_tokens == 7
    sent = anthropic_env.message_requests()[0]
    assert "stream" not in sent.body or sent.body["stream"] is False
    assert sent.body["system"] == [{"type": "text", "text": "You are terse."}]
    # A failed request is retried by the SDK, as a stream's creation is.
    assert (await p.complete(request(prompt="again"))).text == "after a retry"
    await p.aclose()


async def test_default_answer_echoes_the_request(anthropic_env: AnthropicWireServer):
    p = provider()
    texts, _ = await collect(p, request(SystemBlock(text="Be brief."), prompt="what is 2+2"))
    await p.aclose()
    assert "".join(texts).startswith("Answer to: what is 2+2 [system: 9 chars")


async def test_null_cache_fields_count_as_zero(anthropic_env: AnthropicWireServer):
    anthropic_env.script(Reply.text("ok", null_cache_fields=True, output_tokens=3))
    p = provider()
    _, end = await collect(p, request(prompt="abcdefgh"))
    await p.aclose()
    assert end.usage.cache_read_input_tokens == 0
    assert end.usage.cache_creation_input_tokens == 0
    assert end.usage.input_tokens == 2
    assert end.usage.output_tokens == 3


async def test_temperature_only_for_models_that_accept_it(anthropic_env: AnthropicWireServer):
    p = provider()
    await collect(p, request(prompt="a", temperature=0.0, model="claude-haiku-4-5"))
    await collect(p, request(prompt="b", temperature=0.0))  # default model: sampling rejected
    await collect(p, request(prompt="c", model="claude-haiku-4-5"))  # temperature None
    await p.aclose()
    first, second, third = (r.body for r in anthropic_env.message_requests())
    assert first["temperature"] == 0.0
    assert first["model"] == "claude-haiku-4-5"
    assert "temperature" not in second
    assert "temperature" not in third


def test_model_generation_rules():
    assert accepts_sampling_params("claude-haiku-4-5")
    assert accepts_sampling_params("claude-sonnet-4-6")
    assert accepts_sampling_params("claude-sonnet-4-20250514")
    assert accepts_sampling_params("claude-3-5-haiku-20241022")
    assert accepts_sampling_params("my-local-proxy-model")
    assert not accepts_sampling_params("claude-opus-4-7")
    assert not accepts_sampling_params("claude-sonnet-5")
    assert not accepts_sampling_params("claude-sonnet-5-5")
    assert not accepts_sampling_params("claude-fable-5-1")
    assert structured_mode_for("claude-sonnet-5-5") == "json_schema"
    assert structured_mode_for("claude-haiku-4-5-20251001") == "json_schema"
    assert structured_mode_for("claude-opus-4-1-20250805") == "tool"
    assert structured_mode_for("claude-3-7-sonnet-20250219") == "tool"


# -- prompt caching ---------------------------------------------------------------


async def test_cache_control_on_the_cache_block_only(anthropic_env: AnthropicWireServer):
    p = provider()
    await collect(
        p,
        request(
            SystemBlock(text="You are a collaborator."),
            SystemBlock(text="Facts: A. Process: B.", cache=True),
            SystemBlock(text="Mode: research."),
            prompt="go",
        ),
    )
    await p.aclose()
    (sent,) = anthropic_env.message_requests()
    assert sent.body["system"] == [
        {"type": "text", "text": "You are a collaborator."},
        {"type": "text", "text": "Facts: A. Process: B.", "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": "Mode: research."},
    ]
    assert all("cache_control" not in json.dumps(m) for m in sent.body["messages"])


async def test_empty_cache_block_moves_breakpoint_back(anthropic_env: AnthropicWireServer):
    p = provider()
    await collect(p, request(SystemBlock(text="Persona."), SystemBlock(text="", cache=True)))
    await p.aclose()
    (sent,) = anthropic_env.message_requests()
    assert sent.body["system"] == [
        {"type": "text", "text": "Persona.", "cache_control": {"type": "ephemeral"}}
    ]


async def test_cache_write_then_read(anthropic_env: AnthropicWireServer):
    req = request(SystemBlock(text=LONG_CONTEXT, cache=True), prompt="first question")
    prefix_tokens = (len(LONG_CONTEXT) + 3) // 4
    assert prefix_tokens >= anthropic_env.cache_min_tokens
    p = provider()
    _, first = await collect(p, req)
    _, second = await collect(p, req)
    await p.aclose()

    assert first.usage.cache_creation_input_tokens == prefix_tokens
    assert first.usage.cache_read_input_tokens == 0
    assert second.usage.cache_creation_input_tokens == 0
    assert second.usage.cache_read_input_tokens == prefix_tokens
    # the uncached remainder ("first question": 14 chars -> 4 tokens)
    assert first.usage.input_tokens == second.usage.input_tokens == 4


async def test_the_conversation_so_far_is_cached_too(anthropic_env: AnthropicWireServer):
    """assemble() marks the last earlier turn and the prompt: the next cell, which
    sends that prompt as history, reads context + history + the previous prompt
    from the cache and writes only the previous answer and its own prompt."""
    from jupyter_collab.core.assembly import Turn, assemble
    from jupyter_collab.core.context_model import Amendment, CollabContext

    context = CollabContext(amendments=[Amendment(kind="fact", text=LONG_CONTEXT)])
    turns = [Turn(f"question {i}", f"answer {i} " + "word " * 50) for i in range(3)]
    p = provider()
    # Cell 3 asks turns[2].prompt after two turns; cell 4 sends all three turns.
    first = assemble(turns[2].prompt, context=context, history=turns[:2]).request
    second = assemble("next", context=context, history=turns).request
    _, one = await collect(p, first)
    _, two = await collect(p, second)
    await p.aclose()

    body = anthropic_env.message_requests()[-1].body
    marked = [m for m in body["messages"] if isinstance(m["content"], list)]
    assert [m["role"] for m in marked] == ["assistant", "user"]
    assert all(m["content"][0]["cache_control"] == {"type": "ephemeral"} for m in marked)
    assert marked[-1] is body["messages"][-1]  # the prompt closes the last cached prefix
    assert body["messages"][-1]["content"][0]["text"] == "next"
    assert one.usage.cache_read_input_tokens == 0
    # Everything the first call wrote (its prompt included) is read back; only the
    # third answer, which no request had sent before, and the new prompt are written.
    assert two.usage.cache_read_input_tokens == one.usage.cache_creation_input_tokens
    new = sum((len(t) + 3) // 4 for t in (turns[2].answer, "next"))
    assert two.usage.cache_creation_input_tokens == new
    assert two.usage.input_tokens == 0


async def test_prefix_below_minimum_is_not_cached(anthropic_env: AnthropicWireServer):
    req = request(SystemBlock(text="short context", cache=True), prompt="q")
    p = provider()
    _, first = await collect(p, req)
    _, second = await collect(p, req)
    await p.aclose()
    for end in (first, second):
        assert end.usage.cache_creation_input_tokens == 0
        assert end.usage.cache_read_input_tokens == 0
        assert end.usage.input_tokens == 5  # "short context" (4) + "q" (1)


def test_the_simulated_cache_looks_back_from_each_breakpoint():
    """As documented: entries are written at breakpoints only, and each breakpoint
    looks back up to 20 blocks for an entry an earlier request wrote."""

    def body(count: int, marks: set[int]) -> dict:
        messages = []
        for i in range(count):
            block = {"type": "text", "text": f"block number {i:03d} " + "x" * 40}
            if i in marks:
                block["cache_control"] = {"type": "ephemeral"}
            messages.append({"role": "user" if i % 2 == 0 else "assistant", "content": [block]})
        messages.append({"role": "user", "content": "q"})
        return {"model": "m", "max_tokens": 5, "messages": messages}

    per_block = (len("block number 000 " + "x" * 40) + 3) // 4

    def written_at_block_4() -> AnthropicWireServer:
        wire = AnthropicWireServer(cache_min_tokens=10)
        usage = wire._cache_usage(body(5, {4}))
        assert usage["cache_creation_input_tokens"] == 5 * per_block
        return wire

    # A breakpoint 30 blocks later does not reach back to the entry; one 3 blocks
    # after it, in the same request, does.
    assert written_at_block_4()._cache_usage(body(35, {34}))["cache_read_input_tokens"] == 0
    usage = written_at_block_4()._cache_usage(body(36, {7, 35}))
    assert usage["cache_read_input_tokens"] == 5 * per_block
    assert usage["cache_creation_input_tokens"] == 31 * per_block
    # Only positions an earlier request wrote at are read.
    wire = written_at_block_4()
    assert wire._cache_usage(body(12, {11}))["cache_read_input_tokens"] == 5 * per_block
    assert wire._cache_usage(body(14, {13}))["cache_read_input_tokens"] == 12 * per_block


# -- retries and errors --------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_type"), [(429, "rate_limit_error"), (529, "overloaded_error")]
)
async def test_retry_after_then_success(
    anthropic_env: AnthropicWireServer, status: int, error_type: str
):
    anthropic_env.script(Reply.error(status, retry_after="0.05"), Reply.text("recovered fine"))
    p = provider(max_retries=2)
    texts, end = await collect(p, request(prompt="x"))
    await p.aclose()

    assert "".join(texts) == "recovered fine"
    assert end.stop_reason == "end_turn"
    first, second = anthropic_env.message_requests()
    assert first.status == status
    assert second.status == 200
    assert second.headers.get("x-stainless-retry-count") == "1"
    gap = second.time - first.time
    # retry-after (0.05 s) honoured, not the SDK's own backoff (>= 0.375 s)
    assert 0.045 <= gap < 0.35, gap
    assert error_type  # the scripted type is what the first response carried


async def test_persistent_529_becomes_provider_error(anthropic_env: AnthropicWireServer):
    anthropic_env.script(
        Reply.error(529, "Overloaded right now", retry_after="0.01"),
        Reply.error(529, "Overloaded right now", retry_after="0.01"),
        Reply.text("never reached"),
    )
    p = provider(max_retries=1)
    with pytest.raises(ProviderError) as caught:
        await collect(p, request(prompt="x"))
    await p.aclose()

    err = caught.value
    assert err.status == 529
    assert err.retryable is True
    assert str(err).startswith("Anthropic API error 529 (overloaded_error): Overloaded right now")
    assert FAKE_API_KEY not in str(err)
    assert len(anthropic_env.message_requests()) == 2
    assert anthropic_env.pending == 1


async def test_bad_request_is_not_retried(anthropic_env: AnthropicWireServer):
    anthropic_env.script(Reply.error(400, "max_tokens: must be at most 128000"))
    p = provider(max_retries=2)
    with pytest.raises(ProviderError) as caught:
        await collect(p, request(prompt="x"))
    await p.aclose()
    assert caught.value.status == 400
    assert caught.value.retryable is False
    assert "(invalid_request_error): max_tokens: must be at most 128000" in str(caught.value)
    assert len(anthropic_env.message_requests()) == 1


async def test_wrong_key_is_an_auth_error_without_the_key(anthropic_env: AnthropicWireServer):
    anthropic_env.required_api_key = "sk-ant-some-other-key"
    p = provider(max_retries=2)
    with pytest.raises(ProviderError) as caught:
        await collect(p, request(prompt="x"))
    await p.aclose()
    assert caught.value.status == 401
    assert "authentication_error" in str(caught.value)
    assert FAKE_API_KEY not in str(caught.value)
    assert len(anthropic_env.message_requests()) == 1


async def test_error_event_mid_stream(anthropic_env: AnthropicWireServer):
    anthropic_env.script(Reply.stream_error("one two three four five", after=2))
    p = provider()
    seen: list[str] = []
    with pytest.raises(ProviderError) as caught:
        async for event in p.stream(request(prompt="x")):
            assert isinstance(event, TextDelta)
            seen.append(event.text)
    await p.aclose()

    assert seen == ["one ", "two "]
    err = caught.value
    assert err.status == 529
    assert err.retryable is True
    assert "overloaded_error" in str(err)
    assert "Overloaded" in str(err)
    assert "during the streamed answer" in str(err)
    assert len(anthropic_env.message_requests()) == 1  # never retried once streaming


async def test_api_error_event_mid_stream(anthropic_env: AnthropicWireServer):
    anthropic_env.script(
        Reply.stream_error("a b c", after=1, error_type="api_error", message="Internal error")
    )
    p = provider()
    with pytest.raises(ProviderError) as caught:
        await collect(p, request(prompt="x"))
    await p.aclose()
    assert caught.value.status == 500
    assert "(api_error) during the streamed answer: Internal error" in str(caught.value)


async def test_connection_drop_mid_stream(anthropic_env: AnthropicWireServer):
    anthropic_env.script(Reply.drop("one two three four", after=3))
    p = provider()
    seen: list[str] = []
    with pytest.raises(ProviderError) as caught:
        async for event in p.stream(request(prompt="x")):
            assert isinstance(event, TextDelta)
            seen.append(event.text)
    await p.aclose()
    assert seen == ["one ", "two ", "three "]
    assert caught.value.retryable is True
    assert caught.value.status is None
    assert "dropped in the middle of the answer" in str(caught.value)


async def test_unreachable_server_is_a_connection_error(monkeypatch: pytest.MonkeyPatch):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("ANTHROPIC_API_KEY", FAKE_API_KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", f"http://127.0.0.1:{port}")
    p = provider(max_retries=0)
    with pytest.raises(ProviderError) as caught:
        await collect(p, request(prompt="x"))
    await p.aclose()
    assert caught.value.retryable is True
    assert f"Could not connect to the Anthropic API at http://127.0.0.1:{port}" in str(caught.value)


# -- structured output -----------------------------------------------------------------


class Kind(str, Enum):
    fact = "fact"
    process = "process"


class Amendment(BaseModel):
    kind: Kind
    text: str = Field(min_length=3)
    rationale: str
    tags: list[str]
    priority: int = Field(ge=1)


class Amendments(BaseModel):
    amendments: list[Amendment]


AMENDMENTS_TOOL = ToolSpec(
    name="propose_amendments",
    description="Propose amendments to the notebook's constitution.",
    schema=Amendments.model_json_schema(),
)


async def test_forced_tool_use_returns_tool_input(anthropic_env: AnthropicWireServer):
    wanted = {
        "amendments": [
            {"kind": "fact", "text": "Cite Smith 2019", "rationale": "r", "tags": [], "priority": 2}
        ]
    }
    anthropic_env.script(Reply.tool(wanted))
    p = provider(structured_mode="tool")
    raw = await p.complete_structured(
        request(SystemBlock(text="ctx", cache=True), prompt="propose"), AMENDMENTS_TOOL
    )
    await p.aclose()

    assert json.loads(raw) == wanted
    (sent,) = anthropic_env.message_requests()
    assert sent.body["tool_choice"] == {"type": "tool", "name": "propose_amendments"}
    assert sent.body["tools"] == [
        {
            "name": "propose_amendments",
            "description": "Propose amendments to the notebook's constitution.",
            "input_schema": Amendments.model_json_schema(),
        }
    ]
    assert "stream" not in sent.body or sent.body["stream"] is False
    assert "output_config" not in sent.body


async def test_default_server_answer_is_schema_valid(anthropic_env: AnthropicWireServer):
    p = provider(structured_mode="tool")
    raw = await p.complete_structured(request(prompt="propose"), AMENDMENTS_TOOL)
    parsed = Amendments.model_validate_json(raw)
    assert parsed.amendments[0].kind is Kind.fact
    assert parsed.amendments[0].priority == 1
    await p.aclose()


async def test_tool_mode_without_tool_use_returns_text(anthropic_env: AnthropicWireServer):
    anthropic_env.script(Reply.text("I would rather not use the tool."))
    p = provider(structured_mode="tool")
    raw = await p.complete_structured(request(prompt="propose"), AMENDMENTS_TOOL)
    await p.aclose()
    assert raw == "I would rather not use the tool."


async def test_current_models_use_json_outputs(anthropic_env: AnthropicWireServer):
    p = provider()  # default model: forced tool_choice would be a 400 there
    raw = await p.complete_structured(
        request(SystemBlock(text="ctx", cache=True), prompt="propose"), AMENDMENTS_TOOL
    )
    await p.aclose()

    (sent,) = anthropic_env.message_requests()
    # built by the server from the schema it received (bounds moved into descriptions)
    assert json.loads(raw) == {
        "amendments": [
            {
                "kind": "fact",
                "text": "example text",
                "rationale": "example rationale",
                "tags": ["example value"],
                "priority": 0,
            }
        ]
    }
    assert "tool_choice" not in sent.body
    assert "tools" not in sent.body
    fmt = sent.body["output_config"]["format"]
    assert fmt["type"] == "json_schema"
    assert fmt["schema"]["additionalProperties"] is False
    assert fmt["schema"]["required"] == ["amendments"]
    priority = fmt["schema"]["$defs"]["Amendment"]["properties"]["priority"]
    assert "minimum" not in priority
    assert "minimum: 1" in priority["description"]
    system = sent.body["system"]
    assert system[0] == {"type": "text", "text": "ctx", "cache_control": {"type": "ephemeral"}}
    assert "cache_control" not in system[-1]
    assert "propose_amendments" in system[-1]["text"]


# -- count_tokens ----------------------------------------------------------------------


async def test_count_tokens(anthropic_env: AnthropicWireServer):
    p = provider()
    n = await p.count_tokens(
        request(SystemBlock(text="x" * 400, cache=True), prompt="y" * 40, temperature=0.5)
    )
    await p.aclose()
    assert n == 110
    (sent,) = anthropic_env.requests
    assert sent.path == "/v1/messages/count_tokens"
    assert sent.body["model"] == DEFAULT_ANTHROPIC_MODEL
    assert "max_tokens" not in sent.body
    assert "temperature" not in sent.body
    assert sent.body["system"][0]["cache_control"] == {"type": "ephemeral"}


# -- configuration ----------------------------------------------------------------------


async def test_missing_key_is_a_configuration_error(
    anthropic_server: AnthropicWireServer, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", anthropic_server.url)
    p = provider()
    assert p.describe()["key_configured"] is False
    with pytest.raises(ConfigurationError) as caught:
        await collect(p, request(prompt="x"))
    message = str(caught.value)
    assert "ANTHROPIC_API_KEY" in message
    assert "jupyter-collab[local]" in message
    with pytest.raises(ConfigurationError):
        await p.complete_structured(request(prompt="x"), AMENDMENTS_TOOL)
    with pytest.raises(ConfigurationError):
        await p.count_tokens(request(prompt="x"))
    assert anthropic_server.requests == []


async def test_describe_never_shows_the_key(anthropic_env: AnthropicWireServer):
    p = AnthropicProvider(CollabConfig(anthropic_api_key="sk-ant-secret-value", model="m-1"))
    info = p.describe()
    assert info["provider"] == "anthropic"
    assert info["model"] == "m-1"
    assert info["key_configured"] is True
    assert info["base_url"] == anthropic_env.url
    assert "sk-ant-secret-value" not in json.dumps(info)
    assert FAKE_API_KEY not in json.dumps(info)


async def test_config_key_and_base_url_win_over_environment(
    anthropic_server: AnthropicWireServer, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-env-key")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")  # would fail
    config = CollabConfig(
        anthropic_api_key="sk-ant-config-key", anthropic_base_url=anthropic_server.url
    )
    p = AnthropicProvider(config)
    await collect(p, request(prompt="x"))
    await p.aclose()
    assert anthropic_server.received_api_key("sk-ant-config-key")


def test_provider_survives_a_new_event_loop(anthropic_env: AnthropicWireServer):
    p = provider()
    first = asyncio.run(collect(p, request(prompt="one")))
    second = asyncio.run(collect(p, request(prompt="two")))  # the old loop is closed
    asyncio.run(p.aclose())
    assert "".join(first[0]).startswith("Answer to: one")
    assert "".join(second[0]).startswith("Answer to: two")


# -- closing early ------------------------------------------------------------------------


async def test_aclose_closes_the_upstream_connection(anthropic_env: AnthropicWireServer):
    anthropic_env.script(Reply.text("word " * 400, delta_delay=0.05))
    p = provider()
    stream = p.stream(request(prompt="long answer please"))
    got = [await stream.__anext__(), await stream.__anext__()]
    assert [e.text for e in got] == ["word ", "word "]
    assert not anthropic_env.wait_for_disconnect(0)
    await stream.aclose()
    # The reply lasts 20 s; the wire server counts a disconnect only while sending.
    assert anthropic_env.wait_for_disconnect(10), "server did not see the client go"
    await p.aclose()


async def test_cancelling_the_task_closes_the_upstream_connection(
    anthropic_env: AnthropicWireServer,
):
    anthropic_env.script(Reply.text("slow answer", first_token_delay=30))
    p = provider()
    received: list[object] = []

    async def consume() -> None:
        async for event in p.stream(request(prompt="x")):
            received.append(event)

    task = asyncio.create_task(consume())
    for _ in range(200):  # until the server has the request
        if anthropic_env.message_requests():
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The first token would come after 30 s; a disconnect counts only before that.
    assert anthropic_env.wait_for_disconnect(10), "server did not see the client go"
    assert received == []
    await p.aclose()
