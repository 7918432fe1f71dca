"""The `%%collab` cell format shared by both doors: options line, prompt, `{name}`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jupyter_collab.core.cellsource import CELL_MAGIC, fill_variables, parse_cell, parse_options
from jupyter_collab.core.context_model import Mode
from jupyter_collab.core.errors import InvalidRequestError
from jupyter_collab.core.notebook import is_collab_cell


def test_options_and_prompt_are_split():
    cell = parse_cell("%%collab -m claude-x --mode learning -t 0.5 --no-history\nWhat is {df}?\n")
    assert cell.prompt == "What is {df}?"
    assert cell.variables == ["df"]
    assert cell.options.model == "claude-x"
    assert cell.options.mode is Mode.learning
    assert cell.options.temperature == 0.5
    assert cell.options.no_history and not cell.options.no_context


def test_each_parse_starts_from_the_defaults():
    # The option parser is built once and reused: nothing may carry over.
    assert parse_options("--no-context --max-tokens 5").max_tokens == 5
    fresh = parse_options("")
    assert (fresh.max_tokens, fresh.no_context, fresh.model) == (None, False, None)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("--mode chatty", "invalid choice: 'chatty'"),
        ("--temperature 3", "--temperature must be between 0 and 2"),
        ("--max-tokens 0", "--max-tokens must be a positive number"),
        ("--frobnicate", "unrecognized arguments: --frobnicate"),
        ('--model "unclosed', "cannot read the options"),
    ],
)
def test_bad_options_name_the_problem(line, problem):
    with pytest.raises(InvalidRequestError, match="%%collab") as err:
        parse_options(line)
    assert problem in str(err.value)


def test_a_cell_without_prompt_or_magic_is_refused():
    with pytest.raises(InvalidRequestError, match="no prompt"):
        parse_cell("%%collab --no-history\n   \n")
    with pytest.raises(InvalidRequestError, match="must start with %%collab"):
        parse_cell("print('hi')")


def test_variables_fill_known_names_and_keep_literal_braces():
    text, filled = fill_variables(
        "Plot {df} by {col}, not {missing}; {{literal}}", {"df": "sales", "col": "month"}
    )
    assert text == "Plot sales by month, not {missing}; {literal}"
    assert filled == ["df", "col"]


# -- the cases the lab extension's toolbar code is tested against too ------------------

SHARED = json.loads(
    (Path(__file__).parent / "shared_fixtures" / "cell_sources.json").read_text("utf-8")
)


def _options_line(source: str) -> str:
    return source.lstrip().partition("\n")[0][len(CELL_MAGIC) :]


@pytest.mark.parametrize("case", SHARED["cases"], ids=lambda c: repr(c["source"]))
def test_shared_cell_source_cases(case):
    source = case["source"]
    assert is_collab_cell({"cell_type": "code", "source": source}) is case["collab"]
    if not case["collab"]:
        return
    options = parse_options(_options_line(source))
    assert (options.mode.value if options.mode else None) == case["options"]["mode"]
    assert options.model == case["options"]["model"]
    if not case["prompt"]:
        with pytest.raises(InvalidRequestError, match="no prompt"):
            parse_cell(source)
        return
    cell = parse_cell(source)
    assert cell.prompt == case["prompt"]
    assert cell.variables == case["variables"]


@pytest.mark.parametrize("case", SHARED["rewrites"], ids=lambda c: repr(c["expected"]))
def test_shared_option_rewrites_change_only_mode_and_model(case):
    before = parse_options(_options_line(case["source"]))
    after = parse_options(_options_line(case["expected"]))
    change = case["change"]
    expected_mode = change["mode"] if "mode" in change else (before.mode and before.mode.value)
    expected_model = change["model"] if "model" in change else before.model
    assert (after.mode.value if after.mode else None) == expected_mode
    assert after.model == expected_model
    for kept in ("temperature", "max_tokens", "no_history", "no_context"):
        assert getattr(after, kept) == getattr(before, kept), kept
    assert case["expected"].partition("\n")[2] == case["source"].partition("\n")[2]
