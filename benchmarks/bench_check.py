"""The constitution check: 20 amendments x 4 stored probes, each answered with the
whole context and without its amendment, against one preview, every model call
with the same latency.

The broker (``Broker.check_report`` and ``Broker.preview_report``, as the doors
call them) drives the real ``AnthropicProvider`` and SDK over HTTP to the
wire-level server in this process. Every call has the latency of a typical
streamed answer (0.5 s to the first token, then 100 deltas 20 ms apart, about
2.5 s), as in ``bench_preview``.

The context: 20 facts ("sample i was measured with kit KIT-i"), each with two
probes it should change (the answer names the kit only when the fact is in the
instructions: the key-term check passes them on the answer with the whole context
alone, so the answer without the fact is not asked) and two it should not
(answers that depend on the prompt only: identical, with and without). So 120
answers (40 + 2 x 40) plus the speculative noise-floor samples of the 40 probes
that should not change, which the default Claude model (no temperature) starts
when a slot is free and cancels once the answers are identical. Every amendment
holds. The first request of each prompt prefix streams (its start releases the
others, warm-up), every other answer is asked whole; the details count both.

Baseline: one preview as ``preview_wall_ratio`` measures it (8 probes whose answer
the amendment does not change, 16 answers), same latency, same run, interleaved.
Each check and preview starts with an empty baseline cache. The value uses the
broker's default configuration (``check_concurrency``, a ceiling: the fan-out
halves its bound when the provider refuses calls for load); details add the same
check against a rate-limited account (the server refuses Messages requests beyond
``LIMITED_ACCOUNT`` in flight with 429 and a retry-after, as the API does).
"""

from __future__ import annotations

import asyncio
import time

from .bench_preview import AMENDMENT, PROBES, TYPICAL, Latency, _last_user
from .common import Result, Settings, log, median, ratio, rounded
from .wire import FAKE_API_KEY, AnthropicWireServer, Reply

AMENDMENTS = 20
#: The answers a check must have: one per probe that should change (its answer with
#: the whole context decides), two per probe that should not (with and without).
ANSWERS = AMENDMENTS * (2 * 1 + 2 * 2)
KIT = "KIT-{:02d}"
#: Requests in flight a rate-limited account allows in the details' run.
LIMITED_ACCOUNT = 40


def fact(i: int) -> str:
    return f'Sample {i} was measured with kit "{KIT.format(i)}".'


def responder(latency: Latency):
    """Answers that name a sample's kit only when its fact is in the instructions;
    everything else depends on the prompt alone."""

    def reply(body: dict) -> Reply:
        if (body.get("output_config") or {}).get("format") or body.get("tool_choice"):
            raise RuntimeError("the benchmark's probes need no judge")
        prompt = _last_user(body)
        system = "\n".join(b.get("text", "") for b in body.get("system") or [])
        words = ["Answer"] * (latency.deltas - 2) + [prompt[:40]]
        for i in range(AMENDMENTS):
            if f"sample {i} " in prompt.lower() + " " and KIT.format(i) in system:
                words.append(KIT.format(i))
                break
        else:
            words.append("-")
        return Reply.text(
            " ".join(words),
            chunks=latency.deltas,
            first_token_delay=latency.first_token,
            delta_delay=latency.delta_delay,
        )

    return reply


def constitution():
    from jupyter_collab.core.context_model import (
        Amendment,
        CollabContext,
        PreviewResult,
        ProbeKind,
        Verdict,
    )

    def probe(prompt: str, kind: ProbeKind) -> PreviewResult:
        verdict = Verdict.intended if kind == ProbeKind.should_change else Verdict.unchanged
        return PreviewResult(
            probe=prompt, probe_kind=kind, baseline_hash="", amended_hash="", verdict=verdict
        )

    amendments = [
        Amendment(
            id=f"a-kit-{i:02d}",
            kind="fact",
            text=fact(i),
            preview=[
                probe(f"Which kit measured sample {i} ?", ProbeKind.should_change),
                probe(f"Summarize how sample {i} was measured.", ProbeKind.should_change),
                probe(f"Suggest a title for figure {i}.", ProbeKind.should_not_change),
                probe(f"Explain the spread of replicate {i}.", ProbeKind.should_not_change),
            ],
        )
        for i in range(AMENDMENTS)
    ]
    return CollabContext(amendments=amendments)


async def _measure(settings: Settings, wire: AnthropicWireServer) -> Result:
    from jupyter_collab.core.broker import Broker
    from jupyter_collab.core.config import CollabConfig
    from jupyter_collab.core.context_model import Health
    from jupyter_collab.core.operation_models import AmendmentDraft, Probe
    from jupyter_collab.core.operations.fanout import BaselineCache

    runs = min(settings.runs, 3)  # sleep-dominated: the spread is small
    context = constitution()
    draft = AmendmentDraft(kind="fact", text=AMENDMENT)
    preview_probes = [Probe(prompt=p, kind="should_not_change") for p in PROBES]

    def broker_for(**overrides) -> Broker:
        config = CollabConfig(
            provider="anthropic", anthropic_api_key=FAKE_API_KEY, anthropic_base_url=wire.url
        )
        return Broker(config.model_copy(update=overrides))

    requests: list[int] = []
    streamed: list[int] = []

    async def check(broker: Broker) -> float:
        broker.baseline_cache = BaselineCache()
        before = len(wire.message_requests())
        start = time.perf_counter()
        report = await broker.check_report(context)
        elapsed = time.perf_counter() - start
        healths = {a.health for a in report.amendments}
        if healths != {Health.holds} or len(report.amendments) != AMENDMENTS:
            raise RuntimeError(f"expected every amendment to hold, got {healths}")
        sent = wire.message_requests()[before:]
        requests.append(len(sent))
        streamed.append(sum(1 for r in sent if isinstance(r.body, dict) and r.body.get("stream")))
        return elapsed

    async def preview(broker: Broker) -> float:
        broker.baseline_cache = BaselineCache()
        start = time.perf_counter()
        report = await broker.preview_report(draft, preview_probes, context)
        if len(report.outcomes) != len(PROBES):
            raise RuntimeError("the preview did not answer every probe")
        return time.perf_counter() - start

    wire.responder = responder(TYPICAL)
    default = broker_for()
    await preview(default)  # warm-up: client, connection pool
    await check(default)
    checks, previews = [], []
    for i in range(runs):
        if i % 2 == 0:
            previews.append(await preview(default))
            checks.append(await check(default))
        else:
            checks.append(await check(default))
            previews.append(await preview(default))
    measured_requests, measured_streamed = requests[1:], streamed[1:]
    log(
        f"check (concurrency {default.config.check_concurrency}): {median(checks):.2f} s, "
        f"preview {median(previews):.2f} s"
    )
    wire.max_concurrent_messages = LIMITED_ACCOUNT
    refused_before = wire.refused_for_load
    limited_checks = [await check(default) for _ in range(max(1, runs - 1))]
    refused = wire.refused_for_load - refused_before
    wire.max_concurrent_messages = None
    log(f"check (account allowing {LIMITED_ACCOUNT} in flight): {median(limited_checks):.2f} s")
    await default.aclose()
    wire.responder = None

    concurrency = default.config.check_concurrency
    rounds = -(-ANSWERS // concurrency)  # rounds of calls the answers need at that bound
    value = ratio(median(checks), median(previews))
    limited_ratio = ratio(median(limited_checks), median(previews))
    return Result(
        key="check_wall_ratio",
        value=rounded(value, 3),
        unit="x",
        target="<= 1.5",
        baseline={
            "value": rounded(median(previews), 3),
            "unit": "s",
            "what": "one preview (8 probes x 2 variants, as preview_wall_ratio), same latency",
        },
        runs=runs,
        note=(
            f"{AMENDMENTS} amendments x 4 probes: {ANSWERS} answers (the 40 probes that "
            "should change pass on the answer with the whole context alone, by key terms; "
            "the 40 that should not are answered with and without the amendment) plus "
            "speculative noise-floor samples, "
            f"{min(measured_requests)}-{max(measured_requests)} requests per check, "
            f"{max(measured_streamed)} of them streamed (warm-ups); no judge. Default "
            f"check_concurrency={concurrency} (a ceiling): {median(checks):.2f} s "
            f"({rounds} round(s) of calls) vs one preview {median(previews):.2f} s. Against "
            f"an account refusing more than {LIMITED_ACCOUNT} requests in flight (429): "
            f"{median(limited_checks):.2f} s, {limited_ratio:.2f}x, every amendment holds, "
            f"{refused} refusals in {len(limited_checks)} check(s). Each call "
            f"~{TYPICAL.seconds:.1f} s."
        ),
        samples=[rounded(c / p, 3) for c, p in zip(checks, previews, strict=True)],
        details={
            "call_seconds": TYPICAL.seconds,
            "check_concurrency": concurrency,
            "answers_per_check": ANSWERS,
            "check_s": [rounded(x, 3) for x in checks],
            "preview_s": [rounded(x, 3) for x in previews],
            "rate_limited_account": {
                "max_in_flight": LIMITED_ACCOUNT,
                "check_s": [rounded(x, 3) for x in limited_checks],
                "ratio": rounded(limited_ratio, 3),
                "refused_for_load": refused,
            },
            "requests_per_check": measured_requests,
            "streamed_per_check": measured_streamed,
        },
    )


def run(settings: Settings) -> list[Result]:
    wire = AnthropicWireServer().start()
    try:
        return [asyncio.run(_measure(settings, wire))]
    finally:
        wire.stop()
