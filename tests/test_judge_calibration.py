"""The judge's calibration set (tests/data/judge_calibration.json) is well-formed,
and the deterministic measures agree with its labels where a measure can see the
difference: identical answers, a fact whose terms appear, a rule that changes the
shape, a rewording. (How well each model's judge agrees is measured by
benchmarks/bench_judge.py, not asserted here.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jupyter_collab.core.context_model import AmendmentKind, ProbeKind
from jupyter_collab.core.operation_models import AmendmentDraft, Probe
from jupyter_collab.core.operations.measures import measure_answers

CALIBRATION = Path(__file__).parent / "data" / "judge_calibration.json"
LABELS = {"intended", "unintended", "unchanged"}
CATEGORIES = {"fact", "process", "unrelated", "wording"}


def load_cases() -> list[dict]:
    return json.loads(CALIBRATION.read_text(encoding="utf-8"))["cases"]


CASES = load_cases()


def measures_of(case: dict):
    return measure_answers(
        AmendmentKind(case["amendment"]["kind"]),
        case["amendment"]["text"],
        ProbeKind(case["probe"]["kind"]),
        case["baseline"],
        case["amended"],
    )


def test_the_set_is_large_enough_and_covers_every_label_and_category():
    assert len(CASES) >= 40
    assert {case["expected"] for case in CASES} == LABELS
    assert {case["category"] for case in CASES} == CATEGORIES
    assert {case["amendment"]["kind"] for case in CASES} == {"fact", "process"}
    for label in LABELS:
        assert sum(case["expected"] == label for case in CASES) >= 5, label


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_every_case_is_well_formed(case):
    assert set(case) == {
        "id",
        "category",
        "amendment",
        "probe",
        "baseline",
        "amended",
        "expected",
        "why",
    }
    # The amendment and the probe are what a preview receives on the wire.
    AmendmentDraft.model_validate(case["amendment"])
    Probe.model_validate(case["probe"])
    assert case["expected"] in LABELS and case["category"] in CATEGORIES
    assert case["baseline"].strip() and case["amended"].strip() and case["why"].strip()
    # Identical answers say the same thing, by definition.
    if case["baseline"] == case["amended"]:
        assert case["expected"] == "unchanged"
    # A probe the amendment should leave alone is never labelled an intended change.
    if case["probe"]["kind"] == "should_not_change":
        assert case["expected"] != "intended"


def test_ids_are_unique():
    ids = [case["id"] for case in CASES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_identical_answers_measure_as_unchanged(case):
    measures = measures_of(case)
    identical = case["baseline"] == case["amended"]
    assert (measures.word_change_share == 0.0) == identical
    if identical:
        assert measures.measured_verdict == "unchanged"
        assert not measures.terms_gained and not measures.shape_changes


def test_an_intended_fact_brings_its_key_terms_into_the_answer():
    facts = [c for c in CASES if c["amendment"]["kind"] == "fact" and c["expected"] == "intended"]
    assert len(facts) >= 8
    for case in facts:
        measures = measures_of(case)
        assert measures.terms_gained, case["id"]
        assert measures.measured_verdict == "intended", case["id"]


def test_a_fact_leaking_into_an_unrelated_answer_is_unintended():
    leak = next(c for c in CASES if c["id"] == "fact-distutils-venv-leak")
    measures = measures_of(leak)
    assert "distutils" in measures.terms_gained
    assert measures.measured_verdict == "unintended"


def test_format_rules_that_took_effect_change_the_shape():
    shaped = {
        "rule-bullets-original": "bullets 0 → 4",
        "rule-bullets-unit-tests": "bullets 0 → 5",
        "rule-code-original": "code blocks 0 → 1",
        "rule-clarify-original": "questions 0 → 1",
    }
    by_id = {case["id"]: case for case in CASES}
    for case_id, change in shaped.items():
        measures = measures_of(by_id[case_id])
        assert change in measures.shape_changes, case_id
        assert measures.measured_verdict == "intended", case_id
    short = measures_of(by_id["rule-short-original"])
    assert short.length_ratio < 0.5 and any(c.startswith("words ") for c in short.shape_changes)


def test_rewordings_keep_their_shape_and_lose_no_key_term():
    for case in (c for c in CASES if c["category"] == "wording"):
        measures = measures_of(case)
        assert not measures.shape_changes, case["id"]
        assert not measures.terms_lost, case["id"]


def test_the_measures_alone_agree_with_most_labels():
    """A floor, not a target: the cases the measures cannot see (a shortened answer
    that became wrong, a units rule, an added Sources line) are in the set on purpose."""
    agree = sum(measures_of(case).measured_verdict == case["expected"] for case in CASES)
    assert agree / len(CASES) >= 0.8


def test_weak_judges_are_the_providers_whose_measured_agreement_is_low():
    """The providers' ``weak_judge`` flags follow the benchmark's figures."""
    from jupyter_collab.core.providers.anthropic import AnthropicProvider
    from jupyter_collab.core.providers.local import LocalProvider

    results = json.loads(
        (Path(__file__).parent.parent / "benchmarks" / "results.json").read_text(encoding="utf-8")
    )
    embedded = results["judge_agreement_embedded"]
    threshold = float(embedded["target"].split()[-1])
    assert LocalProvider.weak_judge == (embedded["value"] < threshold)
    # The Anthropic provider's real models are not measured here (the stand-in has
    # no judging logic), so they keep the default: a verdict, not a weak signal.
    assert AnthropicProvider.weak_judge is False
