"""Both doors assemble from the same layers (``core.layers.context_in_effect``): the
server door finds the project layer up to the server root, the kernel door (a
headless nbclient run, as nbconvert makes it) up to the file system's root; both
read the personal layer from the Jupyter data dir. What reached the model is read
from the wire server's request log."""

from __future__ import annotations

import shutil

import pytest

from jupyter_collab.core.context_model import Amendment, CollabContext
from jupyter_collab.core.layers import layer_store, personal_layer_path, project_layer_path
from jupyter_collab.core.outputs import MIME_TYPE
from tests.headless_support import REPO, collab_outputs, run_nbclient, system_text
from tests.reliability.helpers import ws_send, ws_until
from tests.wire.anthropic_server import Reply

PROJECT_FACT = "Concentrations in this project are in millimolar (mM)."
PERSONAL_RULE = "End every answer with one open question."
OUTSIDE_FACT = "A fact of a folder above the server root."


def write_layer(path, *amendments: Amendment) -> CollabContext:
    path.parent.mkdir(parents=True, exist_ok=True)
    return layer_store(path).save(CollabContext(amendments=list(amendments)))


async def test_the_server_door_applies_the_project_and_personal_layers(
    jp_ws_fetch, make_notebook, jp_root_dir, anthropic_env, monkeypatch, tmp_path
):
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "personal-data"))
    personal = write_layer(personal_layer_path(), Amendment(kind="process", text=PERSONAL_RULE))
    project = write_layer(
        project_layer_path(jp_root_dir), Amendment(kind="fact", text=PROJECT_FACT)
    )
    # Above the server root: never looked at.
    write_layer(project_layer_path(jp_root_dir.parent), Amendment(kind="fact", text=OUTSIDE_FACT))
    make_notebook("study/week1/nb.ipynb")
    anthropic_env.script(Reply.text("Noted.", chunks=1))

    ws = await jp_ws_fetch("jupyter-collab", "stream")
    await ws_send(
        ws,
        {"type": "complete", "id": "c1", "path": "study/week1/nb.ipynb", "source": "%%collab\nHi"},
    )
    messages = await ws_until(ws, "c1", "result", "error")
    ws.close()
    assert messages[-1]["type"] == "result", messages[-1]
    result = messages[-1]["result"]
    assert result["included_amendments"] == [
        personal.amendments[0].id,
        project.amendments[0].id,
    ]
    blocks = anthropic_env.message_requests()[-1].body["system"]
    text = "\n\n".join(block["text"] for block in blocks)
    assert text.index(PERSONAL_RULE) < text.index(PROJECT_FACT)
    assert OUTSIDE_FACT not in text
    assert blocks[0]["cache_control"] == {"type": "ephemeral"}


@pytest.mark.slow
def test_a_headless_run_applies_the_same_layers(kernel_env, tmp_path):
    folder = tmp_path / "project" / "analysis"
    folder.mkdir(parents=True)
    shutil.copy(REPO / "examples" / "headless.ipynb", folder)
    shutil.copy(REPO / "examples" / "headless.collab.json", folder)
    # kernel_env's JUPYTER_DATA_DIR, which the kernel inherits
    personal = write_layer(personal_layer_path(), Amendment(kind="process", text=PERSONAL_RULE))
    project = write_layer(
        project_layer_path(tmp_path / "project"), Amendment(kind="fact", text=PROJECT_FACT)
    )

    nb = run_nbclient(folder / "headless.ipynb")
    first = kernel_env.message_requests()[0]
    text = system_text(first)
    assert PERSONAL_RULE in text and PROJECT_FACT in text
    assert text.index(PERSONAL_RULE) < text.index(PROJECT_FACT) < text.index("g/L")
    payload = collab_outputs(nb)["ask-outlier"][0]["data"][MIME_TYPE]["result"]
    assert payload["included_amendments"][:2] == [
        personal.amendments[0].id,
        project.amendments[0].id,
    ]


@pytest.mark.slow
def test_a_headless_run_says_which_shared_layers_are_missing(kernel_env, tmp_path):
    import nbformat

    from jupyter_collab.core.layer_sharing import EmbeddedLayer, embed_layers

    folder = tmp_path / "recipient"
    folder.mkdir()
    shutil.copy(REPO / "examples" / "headless.ipynb", folder)
    shutil.copy(REPO / "examples" / "headless.collab.json", folder)
    path = folder / "headless.ipynb"
    carried = EmbeddedLayer(
        layer="project",
        file="../.collab/context.json",
        revision=2,
        entries=[Amendment(id="a-fromsender01", kind="fact", text=PROJECT_FACT)],
    )
    notebook = nbformat.read(path, as_version=4)
    nbformat.write(nbformat.from_dict(embed_layers(notebook, [carried])), path)

    nb = run_nbclient(path)
    warnings = [
        output["text"]
        for cell in nb.cells
        for output in cell.get("outputs", [])
        if output.get("name") == "stderr"
    ]
    text = "".join(warnings)
    assert "project layer it was shared with (../.collab/context.json, revision 2)" in text
    assert text.count("a-fromsender01") == 1  # said once, not at every cell
    # The embedded layer is not applied: no request carries its entry.
    assert all(PROJECT_FACT not in system_text(r) for r in kernel_env.message_requests())
