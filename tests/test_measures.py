"""Deterministic answer measures: key terms of a fact, their presence, answer shape."""

from __future__ import annotations

import pytest

from jupyter_collab.core.context_model import AmendmentKind, ProbeKind
from jupyter_collab.core.operations.measures import (
    answer_shape,
    key_terms,
    measure_answers,
    measures_text,
    shape_changes,
    terms_found,
)


def test_key_terms_prefer_figures_names_and_coined_words():
    terms = key_terms("The first paper on mesa-optimization is Hubinger et al. 2019.")
    assert terms == ["2019", "mesa-optimization", "Hubinger"]
    # A fact with no figure, name or unit: its longer content words stand in.
    assert key_terms("Always answer in a short list.") == ["short"]
    assert len(key_terms(" ".join(f"Name{i}" for i in range(30)), limit=3)) == 3
    with pytest.raises(ValueError, match="limit"):
        key_terms("x", limit=0)


def test_terms_match_whole_words_ignoring_case():
    assert terms_found(["PEP", "2019"], "see pep 632, published 20190") == ["PEP"]
    assert terms_found(["C++"], "written in C++.") == ["C++"]


def test_answer_shape_counts_markdown_structure_outside_code():
    text = "# Title\n\n- one\n- two\n1. first\n\n```python\n- not a bullet?\n```\nWhy?"
    shape = answer_shape(text)
    assert (shape.headings, shape.bullets, shape.numbered) == (1, 2, 1)
    assert shape.code_blocks == 1 and shape.questions == 1


def test_shape_changes_name_what_moved():
    before = answer_shape("A plain answer of six words.")
    after = answer_shape("- a\n- b\n- c")
    assert shape_changes(before, after) == ["bullets 0 → 3"]
    assert shape_changes(before, before) == []
    longer = answer_shape(" ".join(["word"] * 20))
    assert shape_changes(before, longer) == ["words 6 → 20"]


def test_measure_answers_and_their_line():
    measures = measure_answers(
        AmendmentKind.fact,
        "The Peace of Westphalia was signed in 1648.",
        ProbeKind.original,
        "It was signed in 1658.",
        "It was signed in 1648.",
    )
    assert measures.terms_gained == ["1648"] and measures.measured_verdict == "intended"
    line = measures_text(measures)
    assert "now present: 1648" in line and "shape: same" in line
    rule = measure_answers(AmendmentKind.process, "Use bullets.", ProbeKind.user, "a", "a")
    assert rule.key_terms == [] and rule.measured_verdict == "unchanged"
