"""Parameterized headless runs: papermill's ``-p name value`` reaches a collaborator
cell's ``{name}``, and the run records, replays and fails like nbconvert's.

The same parameterized notebook also runs through nbclient directly (papermill's
own ``parameterize_notebook`` injects the values), so both runners are held to the
same prompts, context and outputs.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient.exceptions import CellExecutionError
from papermill.iorw import load_notebook_node
from papermill.parameterize import parameterize_notebook

from jupyter_collab.core.context_model import Amendment, AmendmentKind, CollabContext
from jupyter_collab.core.notebook import carried_context
from jupyter_collab.core.store import LocalContextStore
from tests.headless_support import collab_outputs, run_nbclient, run_papermill, system_text
from tests.wire.anthropic_server import Reply, message_text

pytestmark = pytest.mark.slow

FACT = "Strain mutant-7 lacks the adhA gene."
PROMPT = "Plan {replicates} fermentation runs of the {strain} strain, in one sentence."


def last_prompt(request) -> str:
    return message_text(request.body["messages"][-1])


@pytest.fixture
def planning_notebook(tmp_path) -> Path:
    """A notebook with a papermill ``parameters`` cell and one collaborator cell
    that names two of its variables, plus a sidecar context holding one fact."""
    folder = tmp_path / "project"
    folder.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nb.metadata["language_info"] = {"name": "python"}  # papermill reads the language here
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext jupyter_collab", id="load"),
        nbformat.v4.new_code_cell(
            'strain = "wild type"\nreplicates = 3', id="params", metadata={"tags": ["parameters"]}
        ),
        nbformat.v4.new_code_cell(f"%%collab\n{PROMPT}", id="ask-plan"),
    ]
    path = folder / "plan.ipynb"
    nbformat.write(nb, str(path))
    LocalContextStore(path).save(
        CollabContext(amendments=[Amendment(id="a-adh", kind=AmendmentKind.fact, text=FACT)])
    )
    return path


def test_papermill_parameters_fill_the_prompt_record_and_replay(
    kernel_env, planning_notebook, tmp_path
):
    out = tmp_path / "plan-mutant.ipynb"
    done = run_papermill(
        planning_notebook, out, tmp_path, "-p", "strain", "mutant-7", "-p", "replicates", "5"
    )
    assert done.returncode == 0, done.stderr
    requests = kernel_env.message_requests()
    assert len(requests) == 1
    assert last_prompt(requests[0]).startswith(
        "Plan 5 fermentation runs of the mutant-7 strain, in one sentence."
    )
    assert FACT in system_text(requests[0])

    # The output notebook carries the context the answer was made with ...
    executed = json.loads(out.read_text())
    assert set(collab_outputs(executed)) == {"ask-plan"}
    assert carried_context(executed, str(out)) == LocalContextStore(planning_notebook).load()

    # ... so it replays under its new name, elsewhere, with the model gone.
    shutil.rmtree(planning_notebook.parent)
    kernel_env.stop()
    again = tmp_path / "plan-mutant-again.ipynb"
    replayed = run_papermill(out, again, tmp_path, JUPYTER_COLLAB_MODE="replay")
    assert replayed.returncode == 0, replayed.stderr
    assert collab_outputs(json.loads(again.read_text())) == collab_outputs(executed)
    assert len(kernel_env.message_requests()) == 1

    # Other parameter values are other inputs: a replay has no answer for them
    # and says so, instead of showing the mutant's answer for another strain.
    other = run_papermill(
        out, tmp_path / "plan-other.ipynb", tmp_path, "-p", "strain", "ale-2",
        JUPYTER_COLLAB_MODE="replay",
    )  # fmt: skip
    assert other.returncode != 0
    assert "CollabReplayError" in other.stderr and "different inputs" in other.stderr


def test_papermill_run_fails_on_a_provider_error(kernel_env, planning_notebook, tmp_path):
    kernel_env.responder = lambda body: Reply.error(401, "invalid x-api-key")
    out = tmp_path / "plan-failed.ipynb"
    failed = run_papermill(planning_notebook, out, tmp_path, "-p", "strain", "mutant-7")
    assert failed.returncode != 0
    assert "CollabProviderError" in failed.stderr and "invalid x-api-key" in failed.stderr
    # papermill still writes the notebook, with the error where it happened.
    cell = next(c for c in nbformat.read(str(out), as_version=4).cells if c.get("id") == "ask-plan")
    assert any(o.output_type == "error" and o.ename == "CollabProviderError" for o in cell.outputs)


def test_nbclient_runs_the_same_parameterized_notebook_alike(
    kernel_env, planning_notebook, tmp_path, monkeypatch
):
    """papermill's parameter injection executed by nbclient sends the same request as
    the papermill CLI, and the two runs' answers replay from each other's records."""
    nb = parameterize_notebook(
        load_notebook_node(str(planning_notebook)), {"strain": "mutant-7", "replicates": 5}
    )
    nbformat.write(nb, str(planning_notebook))
    run_nbclient(planning_notebook)
    via_nbclient = kernel_env.message_requests()
    assert len(via_nbclient) == 1
    assert last_prompt(via_nbclient[0]).startswith("Plan 5 fermentation runs of the mutant-7")

    out = tmp_path / "plan-papermill.ipynb"
    done = run_papermill(
        planning_notebook, out, tmp_path, "-p", "strain", "mutant-7", "-p", "replicates", "5"
    )
    assert done.returncode == 0, done.stderr
    requests = kernel_env.message_requests()
    # The notebook already holds this answer (auto mode reuses it): no new call.
    assert len(requests) == 1

    monkeypatch.setenv("JUPYTER_COLLAB_MODE", "record")
    run_nbclient(planning_notebook)
    requests = kernel_env.message_requests()
    assert len(requests) == 2
    assert requests[1].body["messages"] == via_nbclient[0].body["messages"]
    assert requests[1].body["system"] == via_nbclient[0].body["system"]

    # A provider error stops nbclient the same way it stops papermill.
    kernel_env.responder = lambda body: Reply.error(401, "invalid x-api-key")
    with pytest.raises(CellExecutionError, match="CollabProviderError"):
        run_nbclient(planning_notebook)
