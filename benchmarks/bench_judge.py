"""How often the preview's judge agrees with the labelled calibration cases
(``tests/data/judge_calibration.json``), per model.

Each case is put to the judge exactly as a preview would put it
(``compare.judge_prompt`` with the deterministic measures, then ``compare.judge``),
through the real provider:

* ``embedded``: SmolLM2 through ``LocalProvider`` (the model in its worker process,
  the JSON grammar of the structured call), temperature 0;
* ``wire stand-in``: ``AnthropicProvider`` and the Anthropic SDK over HTTP to the
  wire-level server of the tests (``tests/wire/anthropic_server.py``). That server has
  no judging logic: for a structured call it returns the first value the schema
  allows, so it answers "intended" to every case, and its agreement is the share of
  cases labelled "intended". It is reported so the figure is not mistaken for a
  judge's quality: it is the floor a constant answer reaches.

Beside them, the verdict of the deterministic measures alone
(``measures.measured_verdict``, no model), on the same cases.

Agreement is counted on every case, and separately on the cases a preview actually
sends to the judge (the answers differ; identical answers are "unchanged" by rule).
Agreement is a count, not a timing: one pass per model (temperature 0).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

from .common import REPO, Result, Settings, log
from .wire import FAKE_API_KEY, AnthropicWireServer

CALIBRATION = REPO / "tests" / "data" / "judge_calibration.json"
#: Below this agreement a judge's verdict is a weak signal: the preview then leads
#: with the measures (``Provider.weak_judge``).
TARGET = 0.7
LABELS = ("intended", "unintended", "unchanged")


def load_cases(path: Path = CALIBRATION) -> list[dict[str, Any]]:
    return json.loads(path.read_text(encoding="utf-8"))["cases"]


def case_inputs(case: dict[str, Any]):
    """(draft, probe, measures) of a case, as the preview builds them."""
    from jupyter_collab.core.operation_models import AmendmentDraft, Probe
    from jupyter_collab.core.operations.measures import measure_answers

    draft = AmendmentDraft.model_validate(case["amendment"])
    probe = Probe.model_validate(case["probe"])
    measures = measure_answers(
        draft.kind, draft.text, probe.kind, case["baseline"], case["amended"]
    )
    return draft, probe, measures


async def judge_all(ops, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from jupyter_collab.core.errors import ProviderError
    from jupyter_collab.core.operations.compare import judge, judge_prompt

    verdicts = []
    for case in cases:
        draft, probe, measures = case_inputs(case)
        prompt = judge_prompt(probe, draft, case["baseline"], case["amended"], None, measures)
        started = time.perf_counter()
        try:
            verdict, reason = await judge(ops, prompt)
            answer = verdict.value
        except ProviderError as err:  # invalid JSON twice: counted as a disagreement
            answer, reason = "error", str(err)[:200]
        verdicts.append(
            {
                "id": case["id"],
                "expected": case["expected"],
                "verdict": answer,
                "reason": reason,
                "seconds": round(time.perf_counter() - started, 2),
            }
        )
    return verdicts


def summarize(verdicts: list[dict[str, Any]], cases: list[dict[str, Any]]) -> dict[str, Any]:
    judged = {c["id"] for c in cases if c["baseline"] != c["amended"]}
    agree = [v for v in verdicts if v["verdict"] == v["expected"]]
    agree_judged = [v for v in agree if v["id"] in judged]
    confusion = Counter(f"{v['expected']}->{v['verdict']}" for v in verdicts)
    per_label = {
        label: round(
            sum(v["verdict"] == label for v in verdicts if v["expected"] == label)
            / max(1, sum(v["expected"] == label for v in verdicts)),
            3,
        )
        for label in LABELS
    }
    return {
        "agreement": round(len(agree) / len(verdicts), 3),
        "agreement_on_judged_cases": round(len(agree_judged) / max(1, len(judged)), 3),
        "cases": len(verdicts),
        "judged_cases": len(judged),
        "verdicts": dict(Counter(v["verdict"] for v in verdicts)),
        "recall_per_label": per_label,
        "confusion": dict(sorted(confusion.items())),
    }


def measures_verdicts(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"id": c["id"], "expected": c["expected"], "verdict": case_inputs(c)[2].measured_verdict}
        for c in cases
    ]


async def embedded_verdicts(cases: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    from jupyter_collab.core.config import CollabConfig
    from jupyter_collab.core.operations.common import OpsClient
    from jupyter_collab.core.providers.local import LocalProvider

    provider = LocalProvider(CollabConfig(provider="local", temperature=0.0))
    try:
        verdicts = await judge_all(OpsClient(provider, temperature=0.0), cases)
        return provider.default_model, verdicts
    finally:
        await provider.aclose()


async def standin_verdicts(cases: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    from jupyter_collab.core.config import CollabConfig
    from jupyter_collab.core.operations.common import OpsClient
    from jupyter_collab.core.providers.anthropic import AnthropicProvider

    with AnthropicWireServer() as wire:
        config = CollabConfig(
            provider="anthropic", anthropic_api_key=FAKE_API_KEY, anthropic_base_url=wire.url
        )
        provider = AnthropicProvider(config)
        try:
            verdicts = await judge_all(OpsClient(provider, temperature=0.0), cases)
            return provider.default_model, verdicts
        finally:
            await provider.aclose()


def run(settings: Settings) -> list[Result]:
    cases = load_cases()
    if settings.quick:
        cases = cases[:: max(1, len(cases) // 12)]
    log(f"{len(cases)} calibration cases")
    measured = summarize(measures_verdicts(cases), cases)
    baseline = {
        "unit": "agreement",
        "value": measured["agreement"],
        "what": "the deterministic measures alone, no model",
    }
    results = []

    model, verdicts = asyncio.run(standin_verdicts(cases))
    standin = summarize(verdicts, cases)
    log(f"wire stand-in ({model}): {standin}")
    results.append(
        Result(
            key="judge_agreement_wire_standin",
            value=standin["agreement"],
            unit="agreement",
            target=f">= {TARGET}",
            baseline=baseline,
            runs=1,
            note=(
                f"The wire stand-in has no judging logic: it answers every structured call "
                f'with the schema\'s first value, "intended" ({standin["verdicts"]}). Its '
                f"agreement {standin['agreement']:.0%} is the share of cases labelled intended, "
                f"the floor of a constant answer, not a judge's quality. The measures alone: "
                f"{measured['agreement']:.0%}."
            ),
            samples=[standin["agreement"]],
            details={"model": model, **standin, "measures_only": measured, "per_case": verdicts},
        )
    )

    model, verdicts = asyncio.run(embedded_verdicts(cases))
    embedded = summarize(verdicts, cases)
    log(f"embedded ({model}): {embedded}")
    results.append(
        Result(
            key="judge_agreement_embedded",
            value=embedded["agreement"],
            unit="agreement",
            target=f">= {TARGET}",
            baseline=baseline,
            runs=1,
            note=(
                f"{model} as the judge on {len(cases)} labelled cases "
                f"(tests/data/judge_calibration.json), temperature 0, measures in its prompt: "
                f"{embedded['agreement']:.0%} agreement "
                f"({embedded['agreement_on_judged_cases']:.0%} on the "
                f"{embedded['judged_cases']} cases a preview would judge); verdicts "
                f"{embedded['verdicts']}. The deterministic measures alone agree on "
                f"{measured['agreement']:.0%} (they were written alongside these cases, so "
                f"that figure flatters them). Below {TARGET:.0%}, the preview marks this "
                f"model's verdicts as a weak signal and leads with the measures."
            ),
            samples=[embedded["agreement"]],
            details={"model": model, **embedded, "measures_only": measured, "per_case": verdicts},
        )
    )
    return results
