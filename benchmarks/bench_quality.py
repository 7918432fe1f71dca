"""The embedded models on the quality suite: adherence per category, and tokens/s.

Every packaged embedded model (``EMBEDDED_MODELS``: SmolLM2-135M-Instruct and
Gemma 3 270M) answers every case of ``quality_cases.json`` in the same run.
Answers are greedy (temperature 0) and scored deterministically
(``benchmarks/quality.py``); nothing asks a model to grade a model.

- fact, format and clarify cases: the case's facts and process rules are the
  notebook's constitution; the prompt is assembled by ``core.assembly`` with
  each constitution placement (system prompt, prefix of the user turn, system
  prompt plus a reminder after the prompt), so the placement per model family
  is chosen from these figures.
- json cases: the loop's own structured calls (suggest corrections, propose
  amendments, judge a probe) through ``OpsClient``, passed when the operation
  returns a validated result; the share valid at the first try (no retry) is
  reported beside it.

Speed is measured on its own, on the same machine in the same run: one fixed
request (a fact case, system placement) answered ``runs`` times by each model
with 2 threads (the machine's cores) and again with 1 thread, the models
alternating. tokens/s = (output tokens - 1) / seconds from the first streamed
token to the end; medians. The quality answers are generated before, with 1 thread
and one worker process per model and placement answering at once: greedy
answers do not depend on speed, and on a loaded 2-core machine
llama.cpp's 2-thread barriers stall whenever one of its threads is descheduled
(Gemma 3's many small operations per layer suffer most), which would make the
suite take an hour for no change in its scores.

``--quick`` runs one case per category, system placement only: a smoke check.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from pathlib import Path
from typing import Any

from .common import OUT, Result, Settings, log, median, rounded
from .quality import Case, adherence, load_cases, score

MAX_TOKENS = 64
QUALITY_THREADS = 1
THREADS = 2
SPEED_MAX_TOKENS = 64
ANSWERS = OUT / "quality_answers.json"
MIN_TOKENS_FOR_RATE = 8
TPS_FLOOR = 15.0


def _context(case: Case):
    from jupyter_collab.core.context_model import Amendment, CollabContext

    amendments = [Amendment(kind="fact", text=t) for t in case.facts]
    amendments += [Amendment(kind="process", text=t) for t in case.rules]
    return CollabContext(revision=1, amendments=amendments)


async def _answer(
    provider, case: Case, placement, model_name: str, max_tokens: int = MAX_TOKENS
) -> dict[str, Any]:
    from jupyter_collab.core.assembly import assemble
    from jupyter_collab.core.providers.base import StreamEnd, TextDelta

    request = assemble(
        case.prompt,
        context=_context(case),
        model=model_name,
        max_tokens=max_tokens,
        temperature=0.0,
        placement=placement,
    ).request
    parts: list[str] = []
    first = end = None
    tokens = 0
    start = time.perf_counter()
    async for event in provider.stream(request):
        if isinstance(event, TextDelta):
            if first is None:
                first = time.perf_counter()
            parts.append(event.text)
        elif isinstance(event, StreamEnd):
            end = time.perf_counter()
            tokens = event.usage.output_tokens
    rate = None
    if first is not None and end is not None and tokens >= MIN_TOKENS_FOR_RATE and end > first:
        rate = (tokens - 1) / (end - first)
    text = "".join(parts)
    result = score(case.check, text)
    return {
        "answer": text,
        "passed": result.passed,
        "detail": result.detail,
        "tokens": tokens,
        "tokens_per_s": rate,
        "seconds": round((end or time.perf_counter()) - start, 2),
    }


def _highlight(op: dict[str, Any]):
    from jupyter_collab.core.context_model import TextPositionSelector
    from jupyter_collab.core.operation_models import HighlightInput
    from jupyter_collab.core.operations.anchoring import make_quote

    start = op["answer"].index(op["quote"])
    end = start + len(op["quote"])
    return HighlightInput(
        answer=op["answer"],
        prompt=op.get("prompt", ""),
        position=TextPositionSelector(start=start, end=end),
        quote=make_quote(op["answer"], start, end),
    )


async def _structured(provider, case: Case) -> dict[str, Any]:
    """Run the case's structured operation; count the model calls (2 = a retry)."""
    from jupyter_collab.core.context_model import AmendmentKind, ProbeKind
    from jupyter_collab.core.errors import StructuredOutputError
    from jupyter_collab.core.operation_models import AmendmentDraft, CorrectionInput, Probe
    from jupyter_collab.core.operations.amend import propose_amendments
    from jupyter_collab.core.operations.common import OpsClient
    from jupyter_collab.core.operations.compare import judge, judge_prompt
    from jupyter_collab.core.operations.measures import measure_answers
    from jupyter_collab.core.operations.noise import measure_noise
    from jupyter_collab.core.operations.suggest import suggest_corrections

    calls = 0
    original = provider.complete_structured

    async def counted(request, tool):
        nonlocal calls
        calls += 1
        return await original(request, tool)

    provider.complete_structured = counted
    ops = OpsClient(provider, temperature=0.0)
    op = case.operation
    start = time.perf_counter()
    try:
        if op["kind"] == "suggest":
            out = await suggest_corrections(ops, _highlight(op), n=3)
            summary: Any = [f"{s.operation.value}: {s.text}" for s in out]
        elif op["kind"] == "amend":
            correction = CorrectionInput(
                operation=op.get("operation", "replace"),
                text=op.get("correction", ""),
                why=op.get("why", ""),
            )
            out = await propose_amendments(ops, _highlight(op), correction, None, n=3)
            summary = [f"{p.kind.value}: {p.text}" for p in out]
        elif op["kind"] == "judge":
            probe = Probe(
                prompt=op["prompt"], kind=ProbeKind.user, expectation=op.get("expectation", "")
            )
            draft = AmendmentDraft(kind=AmendmentKind.fact, text=op["amendment"])
            noise = measure_noise([op["baseline"], op["baseline"]], op["amended"])
            measures = measure_answers(
                draft.kind, draft.text, probe.kind, op["baseline"], op["amended"]
            )
            prompt = judge_prompt(probe, draft, op["baseline"], op["amended"], noise, measures)
            verdict, reason = await judge(ops, prompt)
            summary = f"{verdict.value}: {reason}"
        else:
            raise ValueError(f"{case.id}: unknown operation {op['kind']!r}")
        passed, detail = True, "validated" + (" after a retry" if calls > 1 else "")
    except StructuredOutputError as err:
        passed, detail, summary = False, f"invalid after a retry: {err}", None
    finally:
        provider.complete_structured = original
    return {
        "answer": summary,
        "passed": passed,
        "first_try": passed and calls == 1,
        "detail": detail,
        "seconds": round(time.perf_counter() - start, 2),
    }


async def _run_all(settings: Settings) -> dict[str, Any]:
    from jupyter_collab.core.assembly import Placement, constitution_placement
    from jupyter_collab.core.config import CollabConfig
    from jupyter_collab.core.providers.local import EMBEDDED_MODELS, LocalProvider

    cases = load_cases()
    placements = list(Placement)
    if settings.quick:
        chosen: dict[str, Case] = {}
        for case in cases:
            chosen.setdefault(case.category, case)
        cases = list(chosen.values())
        placements = [Placement.system]
    # Quality first: one worker process per (model, placement), 1 thread each,
    # all answering at once (speed is not measured here, and greedy answers do
    # not depend on it), then the speed measurement on its own.
    threads_for = dict.fromkeys(EMBEDDED_MODELS, QUALITY_THREADS)
    lanes: dict[tuple[str, str], Any] = {}
    for name in EMBEDDED_MODELS:
        for placement in placements:
            config = CollabConfig(
                provider="local",
                local_model=name,
                local_n_threads=threads_for[name],
                temperature=0.0,
            )
            lanes[(name, placement.value)] = LocalProvider(config)
    names = {name: lanes[(name, placements[0].value)].default_model for name in EMBEDDED_MODELS}
    runs: dict[str, dict[str, Any]] = {name: {} for name in EMBEDDED_MODELS}

    async def lane(name: str, placement) -> None:
        provider = lanes[(name, placement.value)]
        await provider.load()
        for case in cases:
            if case.category == "json":
                if placement == placements[0]:  # structured calls have no placement
                    runs[name][case.id] = await _structured(provider, case)
                continue
            outcome = await _answer(provider, case, placement, names[name])
            runs[name].setdefault(case.id, {})[placement.value] = outcome
        log(f"{name} / {placement.value}: done")

    try:
        await asyncio.gather(*(lane(n, p) for n in EMBEDDED_MODELS for p in placements))
    finally:
        for provider in lanes.values():
            with contextlib.suppress(Exception):
                await provider.aclose()
    for case in cases:
        log(
            f"{case.id}: "
            + ", ".join(f"{name} {_passes(runs[name][case.id])}" for name in EMBEDDED_MODELS)
        )
    speed = await _speed(settings, cases[0])
    return {
        "speed": speed,
        "quality_threads": threads_for,
        "cases": cases,
        "placements": [p.value for p in placements],
        "runs": runs,
        "names": names,
        "default_placement": {
            name: constitution_placement(model).value for name, model in names.items()
        },
    }


async def _speed(settings: Settings, case: Case) -> dict[str, dict[int, list[float]]]:
    """tokens/s samples per model and thread count, models alternating."""
    from jupyter_collab.core.assembly import Placement
    from jupyter_collab.core.config import CollabConfig
    from jupyter_collab.core.providers.local import EMBEDDED_MODELS, LocalProvider

    samples: dict[str, dict[int, list[float]]] = {name: {} for name in EMBEDDED_MODELS}
    for threads in (THREADS, 1):
        providers = {
            name: LocalProvider(
                CollabConfig(provider="local", local_model=name, local_n_threads=threads)
            )
            for name in EMBEDDED_MODELS
        }
        try:
            for provider in providers.values():
                await provider.load()
                await _answer(  # warm-up
                    provider, case, Placement.system, provider.default_model, max_tokens=8
                )
            for run in range(settings.runs):
                order = list(providers) if run % 2 == 0 else list(reversed(providers))
                for name in order:
                    provider = providers[name]
                    outcome = await _answer(
                        provider,
                        case,
                        Placement.system,
                        provider.default_model,
                        max_tokens=SPEED_MAX_TOKENS,
                    )
                    if outcome["tokens_per_s"]:
                        samples[name].setdefault(threads, []).append(outcome["tokens_per_s"])
            log(
                f"{threads} thread(s): "
                + ", ".join(
                    f"{name} {median(samples[name].get(threads, [0])):.1f} tok/s"
                    for name in providers
                )
            )
        finally:
            for provider in providers.values():
                with contextlib.suppress(Exception):
                    await provider.aclose()
    return samples


def _passes(outcome: dict[str, Any]) -> str:
    if "passed" in outcome:
        return "pass" if outcome["passed"] else "fail"
    return "/".join("P" if o["passed"] else "f" for o in outcome.values())


def summarize(data: dict[str, Any]) -> dict[str, Any]:
    """Adherence per model, placement and category; tokens/s per model."""
    cases: list[Case] = data["cases"]
    summary: dict[str, Any] = {}
    for name, outcomes in data["runs"].items():
        by_placement: dict[str, dict[str, float]] = {}
        for placement in data["placements"]:
            passed: dict[str, list[bool]] = {}
            for case in cases:
                outcome = outcomes[case.id]
                result = outcome if case.category == "json" else outcome[placement]
                passed.setdefault(case.category, []).append(bool(result["passed"]))
            by_placement[placement] = {k: rounded(v) for k, v in adherence(passed).items()}
        by_threads = {
            int(t): [float(r) for r in rates] for t, rates in data["speed"][name].items() if rates
        }
        # A model runs with either thread count (local_n_threads): its speed is
        # the faster one on this machine, both are reported.
        fastest = max(by_threads, key=lambda t: median(by_threads[t])) if by_threads else None
        rates = by_threads.get(fastest, [])
        two = by_threads.get(THREADS, [])
        one_thread = by_threads.get(1, [])
        json_cases = [outcomes[c.id] for c in cases if c.category == "json"]
        best = max(by_placement, key=lambda p: by_placement[p]["all"])
        summary[name] = {
            "model": data["names"][name],
            "adherence_by_placement": by_placement,
            "best_placement": best,
            "default_placement": data["default_placement"][name],
            "tokens_per_s_median": rounded(median(rates)) if rates else None,
            "tokens_per_s_threads": fastest,
            "tokens_per_s_samples": [rounded(r) for r in rates],
            "tokens_per_s_2_threads_median": rounded(median(two)) if two else None,
            "tokens_per_s_2_threads_samples": [rounded(r) for r in two],
            "tokens_per_s_1_thread_median": rounded(median(one_thread)) if one_thread else None,
            "tokens_per_s_1_thread_samples": [rounded(r) for r in one_thread],
            "json_first_try": rounded(sum(o["first_try"] for o in json_cases) / len(json_cases))
            if json_cases
            else None,
        }
    return summary


def choose_default(summary: dict[str, Any]) -> str | None:
    """The model with the best adherence (at its default placement) among those at
    >= TPS_FLOOR tokens/s; ties go to the faster one."""
    fast = [n for n, s in summary.items() if (s["tokens_per_s_median"] or 0) >= TPS_FLOOR]
    if not fast:
        return None

    def key(name: str) -> tuple[float, float]:
        entry = summary[name]
        return (
            entry["adherence_by_placement"][entry["default_placement"]]["all"],
            entry["tokens_per_s_median"],
        )

    return max(fast, key=key)


def run(settings: Settings) -> list[Result]:
    data = asyncio.run(_run_all(settings))
    OUT.mkdir(parents=True, exist_ok=True)
    saved = {key: value for key, value in data.items() if key != "cases"}
    ANSWERS.write_text(json.dumps(saved, indent=1))
    log(f"answers in {ANSWERS}")
    return report(data)


def report(data: dict[str, Any]) -> list[Result]:
    """The two results from one run's answers (also from a saved answers file)."""
    from jupyter_collab.core.config import CollabConfig

    summary = summarize(data)
    current = CollabConfig().local_model
    others = [n for n in summary if n != current]
    other = others[0] if others else current
    chosen = choose_default(summary)
    mine, theirs = summary[current], summary[other]
    placement = mine["default_placement"]
    share = mine["adherence_by_placement"][placement]["all"]
    per_case = {
        name: {
            case.id: (
                outcomes[case.id]["passed"]
                if case.category == "json"
                else {p: o["passed"] for p, o in outcomes[case.id].items()}
            )
            for case in data["cases"]
        }
        for name, outcomes in data["runs"].items()
    }
    note_models = "; ".join(
        f"{s['model']}: {s['adherence_by_placement'][s['default_placement']]['all']:.0%} "
        f"adherence ({s['default_placement']} placement), {s['tokens_per_s_median']} tok/s"
        for s in summary.values()
    )
    details = {
        "models": summary,
        "chosen_default": chosen,
        "configured_default": current,
        "cases": len(data["cases"]),
        "per_case": per_case,
        "max_tokens": MAX_TOKENS,
        "quality_threads": data["quality_threads"],
    }
    return [
        Result(
            key="embedded_quality_adherence",
            value=share,
            unit="share",
            target=">= 0.5",
            baseline={
                "value": theirs["adherence_by_placement"][theirs["default_placement"]]["all"],
                "unit": "share",
                "what": f"{theirs['model']}, same cases, same run",
            },
            runs=1,
            note=f"{len(data['cases'])} cases, greedy, deterministic scoring. {note_models}. "
            f"Best adherence at >= {TPS_FLOOR:g} tok/s: {chosen}.",
            details=details,
        ),
        Result(
            key="embedded_tokens_per_s",
            value=mine["tokens_per_s_median"],
            unit="tok/s",
            target=f">= {TPS_FLOOR:g}",
            baseline={
                "value": theirs["tokens_per_s_median"],
                "unit": "tok/s",
                "what": f"{theirs['model']}, same run, alternating",
            },
            runs=len(mine["tokens_per_s_samples"]),
            samples=mine["tokens_per_s_samples"],
            note=f"one fact case, greedy, {SPEED_MAX_TOKENS} tokens, model in its worker "
            f"process, models alternating, each model at its faster thread count "
            f"({mine['model']}: {mine['tokens_per_s_threads']}); 2 threads: {mine['model']} "
            f"{mine['tokens_per_s_2_threads_median']}, {theirs['model']} "
            f"{theirs['tokens_per_s_2_threads_median']}; 1 thread: {mine['model']} "
            f"{mine['tokens_per_s_1_thread_median']}, {theirs['model']} "
            f"{theirs['tokens_per_s_1_thread_median']} tok/s",
            details={
                name: {k: v for k, v in s.items() if k.startswith("tokens")}
                for name, s in summary.items()
            },
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.bench_quality --from-answers FILE``: rebuild the two
    results from a saved answers file (``benchmarks/out/quality_answers.json``)
    without asking the models again, e.g. after a change to the scoring or to the
    placement per model family (every placement's answers are saved; the default
    one is read from the code as it is now)."""
    import argparse

    from jupyter_collab.core.assembly import constitution_placement

    from .common import RESULTS_MD, load_results, machine, write_results
    from .report import render_markdown

    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_quality")
    parser.add_argument("--from-answers", type=Path, default=ANSWERS)
    args = parser.parse_args(argv)
    data = json.loads(args.from_answers.read_text())
    data["cases"] = load_cases()
    data["default_placement"] = {
        name: constitution_placement(model).value for name, model in data["names"].items()
    }
    results = load_results()
    for result in report(data):
        record = result.record()
        record["machine"] = machine()
        record["from_answers"] = str(args.from_answers.name)
        results[result.key] = record
        log(f"{result.key} = {result.value} {result.unit} (target {result.target})")
    write_results(results)
    RESULTS_MD.write_text(render_markdown(results))
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
