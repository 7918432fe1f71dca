"""``POST cell``: the server door's parse of a collaborator cell's source, which the
lab extension asks for before it reads the ``{name}`` references from the kernel."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jupyter_collab.core.values import format_value

SHARED = json.loads(
    (Path(__file__).parent / "shared_fixtures" / "cell_sources.json").read_text("utf-8")
)
WITH_PROMPT = [case for case in SHARED["cases"] if case["collab"] and case["prompt"]]


@pytest.mark.parametrize("case", WITH_PROMPT, ids=lambda c: repr(c["source"]))
async def test_the_server_parses_the_cell(collab_api, case):
    code, body = await collab_api("cell", method="POST", body={"source": case["source"]})
    assert code == 200, body
    assert body["prompt"] == case["prompt"]
    assert body["variables"] == case["variables"]
    assert list(body["expressions"]) == case["variables"]
    assert {k: body["options"][k] for k in ("mode", "model")} == case["options"]


async def test_every_option_is_in_the_reply(collab_api):
    source = "%%collab -m m1 --mode learning -t 0.5 --max-tokens 9 --no-history --no-context\nq"
    code, body = await collab_api("cell", method="POST", body={"source": source})
    assert code == 200, body
    assert body["options"] == {
        "mode": "learning",
        "model": "m1",
        "temperature": 0.5,
        "max_tokens": 9,
        "no_history": True,
        "no_context": True,
    }


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("%%collab --mode chatty\nq", "invalid choice: 'chatty'"),
        ("%%collab\n  \n", "no prompt"),
        ("print(1)", "must start with %%collab"),
    ],
)
async def test_a_bad_cell_is_a_400_that_names_the_problem(collab_api, source, problem):
    code, body = await collab_api("cell", method="POST", body={"source": source})
    assert code == 400 and problem in body["message"], body


async def test_the_expressions_read_values_as_the_kernel_door_formats_them(collab_api):
    source = "%%collab\nCompare {table.shape} with {note}."
    code, body = await collab_api("cell", method="POST", body={"source": source})
    assert code == 200, body

    class Table:
        shape = (12, 3)

    namespace = {"table": Table(), "note": "ü" * 2500}
    read = {name: json.loads(eval(e, dict(namespace))) for name, e in body["expressions"].items()}
    assert read == {"table.shape": "(12, 3)", "note": format_value("ü" * 2500)}
    assert read["note"].endswith("… [truncated: 500 more characters]")
