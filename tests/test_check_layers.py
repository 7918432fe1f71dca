"""The constitution check runs on what the notebook's prompts are assembled from:
its own entries with the project and personal layers, so a shared entry is
checked too and two entries of different layers that pull one answer two ways
are a conflict. Results are kept on the notebook's own entries only."""

from __future__ import annotations

import nbformat

from jupyter_collab.core.context_model import Amendment, CollabContext, Health
from jupyter_collab.core.layers import layer_store, project_layer_path
from jupyter_collab.core.store import LocalContextStore
from tests.test_check import GL, MG, cli_env, healths, probe, run_json  # noqa: F401


def test_a_check_includes_the_project_layer_and_finds_a_conflict_across_layers(
    cli_env,  # noqa: F811
    tmp_path,
    capsys,
):
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    shared = project_layer_path(repo)
    shared.parent.mkdir()
    layer_store(shared).save(
        CollabContext(
            amendments=[
                Amendment(
                    id="a-mg", kind="fact", text=MG, preview=[probe("What is the yield of run 1?")]
                )
            ]
        )
    )
    notebook = repo / "analysis.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("%%collab\nWhat is the yield of run 1?")]
    nbformat.write(nb, str(notebook))
    LocalContextStore(notebook).save(
        CollabContext(
            amendments=[
                Amendment(
                    id="a-gl", kind="fact", text=GL, preview=[probe("What is the yield of run 1?")]
                )
            ]
        )
    )
    shared_bytes = shared.read_bytes()

    code, payload = run_json(capsys, str(notebook))

    # The model answers in mg/mL whenever the project's fact is in the prompt, so
    # the notebook's g/L fact fails with it and passes without it: a conflict.
    assert code != 0
    assert healths(payload) == {"a-mg": "conflict", "a-gl": "conflict"}
    [gl] = [
        a for a in payload["notebooks"][0]["report"]["amendments"] if a["amendment_id"] == "a-gl"
    ]
    assert gl["conflicts_with"] == ["a-mg"]
    # Kept on the notebook's own entry; the project layer's file is not written.
    stored = LocalContextStore(notebook).load()
    assert stored.amendment("a-gl").check.health == Health.conflict
    assert shared.read_bytes() == shared_bytes
