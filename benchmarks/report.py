"""The markdown table (benchmarks/RESULTS.md, and the README's copy) from results.json."""

from __future__ import annotations

from typing import Any

# key -> (what, target)
KEYS: dict[str, tuple[str, str]] = {
    "ttft_ratio_server_vs_sdk": (
        "time to first token through the server door (WebSocket) ÷ the SDK called directly",
        "<= 1.05",
    ),
    "stream_chunks_per_s": (
        "deltas per second forwarded provider → WebSocket client, unbuffered",
        ">= 5000",
    ),
    "load_probe_p99_ms": (
        "p99 latency of a small request while 50 answers stream through the server",
        "<= 50",
    ),
    "cancel_close_ms": (
        "WebSocket cancel → the model's server sees its request end",
        "<= 100",
    ),
    "preview_wall_ratio": ("preview of 8 probes x 2 variants ÷ one call", "<= 1.5"),
    "check_wall_ratio": (
        "check of 20 amendments x 4 probes (with each, without it where that decides) ÷ preview",
        "<= 1.5",
    ),
    "context_10k_load_ms": (
        "load + validate a 10,000-amendment context for a prompt (its hot file)",
        "<= 100",
    ),
    "context_10k_save_ms": ("save the same context after an edit of one amendment", "<= 100"),
    "context_10k_assemble_ms": ("assemble the prompt from the same context", "<= 10"),
    "cache_read_share": (
        "input tokens read from the prompt cache, calls 2..10 (amendment added after 5)",
        ">= 0.9",
    ),
    "cache_read_share_layers": (
        "the same, with 30 of the 40 amendments in a project layer (rule added to the notebook)",
        ">= 0.9",
    ),
    "replay_ratio": (
        "headless nbconvert, 50 collaborator cells in replay mode ÷ 50 plain code cells",
        "<= 1.2",
    ),
    "local_tps_ratio": (
        "SmolLM2 tokens/s through the broker (model in its worker process) ÷ raw "
        "llama-cpp-python in the calling process",
        ">= 0.9",
    ),
    "local_ttft_ratio": (
        "SmolLM2 time to first token through the broker ÷ raw llama-cpp-python",
        "<= 1.1",
    ),
    "local_build_tps_ratio": (
        "SmolLM2 tokens/s, portable llama.cpp build ÷ native (-march=native) build",
        ">= 0.9",
    ),
    "local_cold_start_ratio": (
        "SmolLM2 cold start: worker process ready ÷ import llama_cpp + Llama() in-process",
        "<= 1.1",
    ),
    "embedded_quality_adherence": (
        "share of the quality suite's cases (facts, format rules, clarifying questions, "
        "JSON of the loop's calls) the default embedded model passes",
        ">= 0.5",
    ),
    "embedded_tokens_per_s": (
        "the default embedded model's tokens/s on the 2-core machine, at its faster thread "
        "count (1 or 2; both in the note)",
        ">= 15",
    ),
    "browser_open_ratio": (
        "open a 200-collaborator-cell notebook in Chromium ÷ 200 markdown cells",
        "<= 1.3",
    ),
    "judge_agreement_embedded": (
        "preview judge (the embedded default model) agreeing with 46 labelled cases",
        ">= 0.7",
    ),
    "judge_agreement_wire_standin": (
        "preview judge (wire stand-in: no judging logic, answers 'intended') vs the same labels",
        ">= 0.7",
    ),
}


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        if abs(value) >= 100:
            return f"{value:.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}"
    return str(value)


def _baseline(record: dict[str, Any]) -> str:
    base = record.get("baseline")
    if not base:
        return "—"
    text = f"{_fmt(base.get('value'))} {base.get('unit', '')}".strip()
    return f"{text} ({base['what']})" if base.get("what") else text


def render_table(results: dict[str, Any]) -> str:
    lines = [
        "| measure | value | target | status | baseline (same run) | runs |",
        "|---|---|---|---|---|---|",
    ]
    for key, (what, target) in KEYS.items():
        record = results.get(key)
        if record is None:
            lines.append(f"| `{key}` — {what} | not run | {target} | — | — | 0 |")
            continue
        met = record.get("met")
        status = {True: "met", False: "**missed**", None: "not measured"}[met]
        value = f"{_fmt(record.get('value'))} {record.get('unit', '')}".strip()
        lines.append(
            f"| `{key}` — {what} | {value} | {target} | {status} | {_baseline(record)} "
            f"| {record.get('runs', 0)} |"
        )
    return "\n".join(lines)


def render_notes(results: dict[str, Any]) -> str:
    lines = []
    for key in KEYS:
        record = results.get(key)
        if record and record.get("note"):
            lines.append(f"- `{key}`: {record['note']}")
    return "\n".join(lines)


def render_machine(results: dict[str, Any]) -> str:
    records = [r for r in results.values() if isinstance(r, dict) and r.get("machine")]
    if not records:
        return ""
    latest = max(records, key=lambda r: r.get("measured_at", ""))
    m = latest["machine"]
    when = sorted({r.get("measured_at", "")[:10] for r in records if r.get("measured_at")})
    return (
        f"Machine: {m.get('cores')} cores ({m.get('cpu')}), {m.get('memory_gb')} GB RAM, "
        f"{m.get('os')}, Python {m.get('python')}; load average at start "
        f"{m.get('load_average_at_start')}. Shared and noisy: every figure is the median of "
        f"the runs shown, next to a baseline measured in the same run. "
        f"Measured {', '.join(when)}."
    )


def render_markdown(results: dict[str, Any]) -> str:
    return (
        "# Benchmark results\n\n"
        "Reproduce with `python -m benchmarks` (see `benchmarks/README.md`).\n\n"
        f"{render_machine(results)}\n\n"
        f"{render_table(results)}\n\n"
        "## Notes\n\n"
        f"{render_notes(results)}\n"
    )
