"""The fan-out under a provider that refuses calls for load (429, 529): the bound
halves and grows back, refused calls are asked again, and a check against a
rate-limited account through the ``anthropic`` SDK ends with the same verdicts
as against an unlimited one."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from jupyter_collab.core.broker import Broker
from jupyter_collab.core.config import CollabConfig
from jupyter_collab.core.context_model import Amendment, CollabContext, ProbeKind
from jupyter_collab.core.errors import ProviderError
from jupyter_collab.core.operations import fanout
from jupyter_collab.core.operations.fanout import BaselineCache, Limiter, Slots
from tests.test_check import GL, MG, OSLO, lab_model, probe
from tests.wire.anthropic_server import FAKE_API_KEY


def refused() -> ProviderError:
    return ProviderError("Anthropic API error 429 (rate_limit_error).", status=429, retryable=True)


@pytest.fixture
def quick_pause(monkeypatch):
    monkeypatch.setattr(fanout, "RATE_LIMIT_PAUSE_S", 0.01)


async def test_a_refusal_halves_the_bound_once_per_generation_and_answers_raise_it():
    slots = Slots(16)
    async with slots.hold(speculative=True) as first:
        async with slots.hold(speculative=True) as second:
            assert first == second == 0
    # Sixteen in flight when the account refuses: half of them may stay.
    held = [slots.hold(speculative=True) for _ in range(15)]
    for slot in held:
        await slot.__aenter__()
    slots.refused_for_load(0)
    assert slots.bound == 8
    slots.refused_for_load(0)  # admitted under the old bound: refused in the same wave
    assert slots.bound == 8
    for slot in held:
        await slot.__aexit__(None, None, None)
    slots.refused_for_load(1)  # admitted under the new bound: halves again (min of bound, 1)
    assert slots.bound == 1
    # Answers raise it by one per `bound` answers, up to the ceiling.
    for _ in range(1 + 2 + 3):
        await slots.answered()
    assert slots.bound == 4
    for _ in range(4 + 5 + 6 + 7 + 8 + 9 + 10 + 11 + 12 + 13 + 14 + 15):
        await slots.answered()
    assert slots.bound == 16


async def test_a_call_refused_for_load_is_asked_again_and_other_errors_are_not(quick_pause):
    limiter = Limiter(8)
    attempts = []

    async def flaky(_warmed):
        attempts.append(1)
        if len(attempts) < 3:
            raise refused()
        return "answer"

    assert await limiter.run("prefix", flaky) == "answer"
    assert len(attempts) == 3 and limiter.bound < 8

    async def broken(_warmed):
        attempts.append(1)
        raise ProviderError("Anthropic API error 400: bad request.", status=400)

    attempts.clear()
    with pytest.raises(ProviderError, match="400"):
        await limiter.run("other", broken)
    assert len(attempts) == 1


async def test_a_call_refused_every_time_gives_up_with_the_providers_error(quick_pause):
    limiter = Limiter(4)
    attempts = []

    async def always(_warmed):
        attempts.append(1)
        raise refused()

    with pytest.raises(ProviderError, match="429"):
        await limiter.run("prefix", always)
    assert len(attempts) == fanout.RATE_LIMIT_RETRIES + 1
    # Nothing is left announced: a speculative call still finds a free slot at once.
    assert await asyncio.wait_for(limiter.run("x", _answer, speculative=True), 1) == "ok"


async def _answer(_warmed):
    return "ok"


def _context() -> CollabContext:
    amendments = []
    for i, text in enumerate([GL, MG, OSLO]):
        amendments.append(
            Amendment(
                id=f"a-{i}",
                kind="fact",
                text=text,
                preview=[
                    probe("What is the yield of run 1?"),
                    probe("Summarize the method.", ProbeKind.should_not_change),
                    probe(f"Where was run {i} done?"),
                ],
            )
        )
    return CollabContext(amendments=amendments)


def slow_lab_model(body: dict):
    """The lab model, each answer taking 0.2 s, so a check's calls overlap and the
    account's limit is reached whatever the machine's speed."""
    reply = lab_model(body)
    return dataclasses.replace(reply, first_token_delay=0.2) if reply is not None else None


async def _healths(server) -> dict[str, str]:
    config = CollabConfig(
        provider="anthropic",
        anthropic_api_key=FAKE_API_KEY,
        anthropic_base_url=server.url,
        max_retries=0,  # refusals reach the fan-out at once instead of after the SDK's retries
        check_concurrency=40,
    )
    broker = Broker(config)
    broker.baseline_cache = BaselineCache()
    try:
        report = await broker.check_report(_context())
    finally:
        await broker.aclose()
    return {a.amendment_id: a.health.value for a in report.amendments}


async def test_a_check_against_a_rate_limited_account_gives_the_same_verdicts(
    anthropic_server, quick_pause
):
    anthropic_server.responder = slow_lab_model
    unlimited = await _healths(anthropic_server)
    assert anthropic_server.refused_for_load == 0

    anthropic_server.max_concurrent_messages = 2
    anthropic_server.peak_in_flight = 0
    limited = await _healths(anthropic_server)

    assert limited == unlimited
    # mg/mL and g/L pull the same answer two ways; the Oslo fact is never used.
    assert unlimited == {"a-0": "conflict", "a-1": "conflict", "a-2": "broken"}
    assert anthropic_server.refused_for_load > 0
    assert anthropic_server.peak_in_flight <= 2
