"""The quality suite's deterministic scoring (benchmarks/quality.py) and its cases file."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from benchmarks.quality import CATEGORIES, adherence, has_term, load_cases, score, sentences


def test_terms_need_every_group_as_whole_words():
    check = {"type": "terms", "terms": [["Hubinger"], ["2019"]]}
    assert score(check, "Hubinger et al. (2019) introduced it.").passed
    missing = score(check, "Hubinger et al. introduced it.")
    assert not missing.passed and "2019" in missing.detail
    assert not score({"type": "terms", "terms": [["group B"]]}, "group Beta").passed
    assert has_term("It is GROUP B.", "group B")
    assert not has_term("about", "B")


def test_terms_alternatives_and_forbidden_words():
    check = {"type": "terms", "terms": [["48,213", "48213"]], "forbid": ["50,000"]}
    assert score(check, "It has 48213 rows.").passed
    assert not score(check, "48,213 rows, not 50,000").passed


@pytest.mark.parametrize(
    ("check", "answer", "passed"),
    [
        ({"type": "max_words", "limit": 3}, "one two three", True),
        ({"type": "max_words", "limit": 3}, "one two three four", False),
        ({"type": "max_words", "limit": 3}, "", False),
        ({"type": "max_sentences", "limit": 2}, "First. Second.", True),
        ({"type": "max_sentences", "limit": 2}, "First. Second. Third", False),
        ({"type": "code_only"}, "```python\nprint(1)\n```", True),
        ({"type": "code_only"}, "Here you go:\n```python\nprint(1)\n```", False),
        ({"type": "code_only"}, "```python\na\n```\n```python\nb\n```", False),
        ({"type": "code_only"}, "print(1)", False),
        ({"type": "ends_with_question"}, "Overfitting is... Shall I go on? ", True),
        ({"type": "ends_with_question"}, "Is it? No.", False),
        ({"type": "starts_with", "prefix": "Summary:"}, " Summary: it shows errors", True),
        ({"type": "starts_with", "prefix": "Summary:"}, "In summary: it shows", False),
        ({"type": "bullets", "count": 3}, "- a\n- b\n* c", True),
        ({"type": "bullets", "count": 3}, "- a\n- b", False),
        ({"type": "lowercase"}, "paris is the capital.", True),
        ({"type": "lowercase"}, "Paris.", False),
        ({"type": "only_number"}, " 366 ", True),
        ({"type": "only_number"}, "366 days", False),
        ({"type": "clarifying", "limit": 10}, "Who is the report for?", True),
        ({"type": "clarifying", "limit": 10}, "Climate change is a global issue.", False),
        ({"type": "clarifying", "limit": 5}, "Sure, a long report: what is it? " * 3, False),
    ],
)
def test_each_check(check, answer, passed):
    assert score(check, answer).passed is passed


def test_sentences_counts_a_last_sentence_without_punctuation():
    assert sentences("One. Two") == 2
    assert sentences("One. Two.") == 2
    assert sentences("  ") == 0


def test_unknown_check_is_an_error():
    with pytest.raises(ValueError, match="unknown check type"):
        score({"type": "vibes"}, "text")


def test_the_suite_has_at_least_30_cases_in_every_category():
    cases = load_cases()
    assert len(cases) >= 30
    counts = Counter(case.category for case in cases)
    assert set(counts) == set(CATEGORIES)
    for case in cases:
        if case.category == "fact":
            assert case.facts and case.check["type"] == "terms"
        if case.category in ("format", "clarify"):
            assert case.rules
        if case.category == "json":
            assert case.operation["kind"] in ("suggest", "amend", "judge")


def test_a_bad_cases_file_is_refused(tmp_path):
    path = tmp_path / "cases.json"
    case = {"id": "a", "category": "fact", "prompt": "p", "check": {"type": "nope"}}
    path.write_text(json.dumps({"cases": [case]}))
    with pytest.raises(ValueError, match="unknown check type"):
        load_cases(path)
    case["check"] = {"type": "max_words", "limit": 3}
    path.write_text(json.dumps({"cases": [case, case]}))
    with pytest.raises(ValueError, match="duplicate case id"):
        load_cases(path)
    structured = {**case, "check": {"type": "structured"}}
    path.write_text(json.dumps({"cases": [structured]}))
    with pytest.raises(ValueError, match="structured check"):
        load_cases(path)


def test_adherence_per_category_and_overall():
    shares = adherence({"fact": [True, False], "json": [True, True]})
    assert shares == {"fact": 0.5, "json": 1.0, "all": 0.75}


def _model(share: float, tps: float, placement: str = "system") -> dict:
    return {
        "adherence_by_placement": {placement: {"all": share}},
        "default_placement": placement,
        "tokens_per_s_median": tps,
    }


def test_the_default_is_the_best_adherence_at_15_tokens_per_s():
    from benchmarks.bench_quality import choose_default

    assert choose_default({"a": _model(0.4, 40), "b": _model(0.6, 20)}) == "b"
    assert choose_default({"a": _model(0.4, 40), "b": _model(0.9, 10)}) == "a"  # too slow
    assert choose_default({"a": _model(0.4, 40), "b": _model(0.4, 20)}) == "a"  # tie: faster
    assert choose_default({"a": _model(0.4, 14), "b": _model(0.9, 3)}) is None
