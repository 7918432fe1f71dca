"""The layer routes: ``GET layers``, ``POST layers/move`` and ``POST layers/import``
(revision-checked: 409 on a layer that moved on; 404 on a missing entry or layer;
nothing written on an error)."""

from __future__ import annotations

import asyncio
import json

import nbformat

from jupyter_collab.core.context_format import serialize_context
from jupyter_collab.core.context_model import Amendment, CollabContext, Provenance
from jupyter_collab.core.layers import layer_store, personal_layer_path, project_layer_path

FACT = "Cite Hubinger et al. 2019 for mesa-optimization."
RULE = "Ask before writing a long report."


def own_context(root, path: str, *amendments: Amendment, revision: int = 1) -> None:
    sidecar = root / path.replace(".ipynb", ".collab.json")
    sidecar.write_text(
        serialize_context(CollabContext(revision=revision, amendments=list(amendments)))
    )


def write_layer(path, *amendments: Amendment) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    layer_store(path).save(CollabContext(amendments=list(amendments)))


async def test_layers_names_files_under_the_root_and_says_why(
    collab_api, make_notebook, jp_root_dir, monkeypatch, tmp_path
):
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "data"))
    write_layer(personal_layer_path(), Amendment(kind="process", text=RULE))
    write_layer(project_layer_path(jp_root_dir / "study"), Amendment(kind="fact", text=FACT))
    make_notebook("study/week1/nb.ipynb")
    own_context(jp_root_dir, "study/week1/nb.ipynb", Amendment(kind="fact", text=FACT.lower()))

    code, body = await collab_api("layers", params={"path": "study/week1/nb.ipynb"})
    assert code == 200, body
    personal, project, own = body["report"]["layers"]
    assert [personal["layer"], project["layer"], own["layer"]] == [
        "personal",
        "project",
        "notebook",
    ]
    assert project["path"] == "study/.collab/context.json"
    assert own["path"] == "study/week1/nb.collab.json" and own["revision"] == 1
    assert str(jp_root_dir) not in str(body)  # no absolute server paths
    assert project["entries"][0]["why"].startswith("project layer of study:")
    assert own["entries"][0]["repeats"] == [f"project:{project['entries'][0]['id']}"]


async def test_promote_and_demote_through_the_routes(
    collab_api, make_notebook, jp_root_dir, monkeypatch, tmp_path
):
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "data"))
    make_notebook("nb.ipynb")
    entry = Amendment(kind="fact", text=FACT, provenance=Provenance(cell_id="cell-1", quote="x"))
    own_context(jp_root_dir, "nb.ipynb", entry, revision=4)

    move = {
        "path": "nb.ipynb",
        "entry_id": entry.id,
        "from_layer": "notebook",
        "to_layer": "project",
        "revisions": {"notebook": 4},
    }
    code, body = await collab_api("layers/move", method="POST", body=move)
    assert code == 404 and "no project layer" in body["message"]

    stale = {**move, "to_layer": "personal", "revisions": {"notebook": 3}}
    code, body = await collab_api("layers/move", method="POST", body=stale)
    assert code == 409 and body["reason"] == "stale_revision"
    assert not personal_layer_path().exists()

    code, preview = await collab_api(
        "layers/preview", method="POST", body={**move, "project_dir": ""}
    )
    assert code == 200, preview
    assert preview["target"] == ".collab/context.json"
    assert preview["notebooks"] == [{"notebook": "nb.ipynb", "effect": "gains", "detail": ""}]
    assert not (jp_root_dir / ".collab" / "context.json").exists()  # nothing written

    code, body = await collab_api("layers/move", method="POST", body={**move, "project_dir": ""})
    assert code == 200, body
    assert body["entry"]["provenance"]["notebook"] == "nb.ipynb"
    assert body["entry"]["provenance"]["cell_id"] == "cell-1"
    assert body["context"]["context"]["amendments"] == [] and body["context"]["revision"] == 5
    project = body["layers"]["report"]["layers"][1]
    assert project["path"] == ".collab/context.json" and project["entries"][0]["applies"]

    back = {**move, "from_layer": "project", "to_layer": "notebook", "revisions": {}}
    code, body = await collab_api("layers/move", method="POST", body=back)
    assert code == 200, body
    assert [a["id"] for a in body["context"]["context"]["amendments"]] == [entry.id]

    outside = {**move, "project_dir": "../elsewhere"}
    code, body = await collab_api("layers/move", method="POST", body=outside)
    assert code in (400, 403, 404), body


async def test_import_from_another_notebook_through_the_route(
    collab_api, make_notebook, jp_root_dir
):
    make_notebook("a.ipynb")
    make_notebook("b.ipynb")
    entry = Amendment(kind="process", text=RULE)
    own_context(jp_root_dir, "a.ipynb", entry)
    code, body = await collab_api("layers/importable", params={"path": "b.ipynb"})
    assert code == 200, body
    assert body["notebooks"] == ["a.ipynb"] and body["truncated"] is False
    request = {"path": "b.ipynb", "from_path": "a.ipynb", "revision": 0}
    code, body = await collab_api("layers/import", method="POST", body={**request, "dry_run": True})
    assert code == 200, body
    assert [a["id"] for a in body["imported"]] == [entry.id] and body["written"] is False
    assert body["source_ids"] == [entry.id]
    assert body["imported"][0]["provenance"]["source"] == "import"
    assert not (jp_root_dir / "b.collab.json").exists()  # nothing written
    code, body = await collab_api("layers/import", method="POST", body=request)
    assert code == 200, body
    assert body["written"] is True
    assert [a["id"] for a in body["imported"]] == [entry.id]
    assert body["imported"][0]["provenance"]["source"] == "import"
    assert body["imported"][0]["provenance"]["notebook"] == "a.ipynb"
    code, body = await collab_api("layers/import", method="POST", body=request)
    assert code == 409 and body["reason"] == "stale_revision"
    code, body = await collab_api(
        "layers/import", method="POST", body={**request, "from_path": "b.ipynb"}
    )
    assert code == 400 and "itself" in body["message"]
    make_notebook("c.ipynb", context={"schema_version": 1, "amendments": []})
    code, body = await collab_api(
        "layers/import", method="POST", body={"path": "b.ipynb", "from_path": "c.ipynb"}
    )
    assert code >= 400 and "reviewed" in body["message"]


async def test_layers_say_which_shared_layers_the_notebook_lacks(
    collab_api, make_notebook, jp_root_dir
):
    import nbformat

    from jupyter_collab.core.layer_sharing import EmbeddedLayer, embed_layers

    path = make_notebook("shared.ipynb")
    carried = EmbeddedLayer(
        layer="project",
        file="../.collab/context.json",
        revision=7,
        entries=[Amendment(id="a-fromsender01", kind="fact", text=FACT)],
    )
    notebook = nbformat.read(path, as_version=4)
    nbformat.write(nbformat.from_dict(embed_layers(notebook, [carried])), path)
    code, body = await collab_api("layers", params={"path": "shared.ipynb"})
    assert code == 200, body
    (missing,) = body["report"]["missing"]
    assert "project layer it was shared with (../.collab/context.json, revision 7)" in missing
    assert "a-fromsender01" in missing
    assert body["report"]["layers"][1]["entries"] == []  # never applied from the notebook


async def test_a_proposal_repeating_a_project_entry_is_flagged(
    collab_api, make_notebook, jp_root_dir, anthropic_env
):
    from tests.wire.anthropic_server import Reply

    shared = Amendment(id="a-projectfact1", kind="fact", text=FACT)
    write_layer(project_layer_path(jp_root_dir), shared)
    make_notebook("nb.ipynb")
    proposal = {"kind": "fact", "text": FACT, "rationale": "r", "duplicates": [], "contradicts": []}
    anthropic_env.script(Reply.tool({"amendments": [proposal]}, name="propose_amendments"))
    answer = "Mesa-optimization was named by Smith (2020)."
    code, body = await collab_api(
        "propose",
        method="POST",
        body={
            "path": "nb.ipynb",
            "highlight": {
                "answer": answer,
                "quote": {"exact": "Smith (2020)"},
                "position": {"start": answer.index("Smith"), "end": len(answer) - 1},
                "prompt": "Who named mesa-optimization?",
            },
            "correction": {"operation": "replace", "text": "Hubinger et al. 2019"},
            "n": 1,
        },
    )
    assert code == 200, body
    assert body["amendments"][0]["duplicates"] == ["a-projectfact1"]
    # The model was shown the project's entry among the existing ones.
    prompt = json.dumps(anthropic_env.message_requests()[-1].body["messages"])
    assert "a-projectfact1" in prompt


async def test_get_context_gives_the_layers_a_save_embeds(collab_api, make_notebook, jp_root_dir):
    write_layer(
        project_layer_path(jp_root_dir), Amendment(id="a-projectfact1", kind="fact", text=FACT)
    )
    make_notebook("team/nb.ipynb")
    code, body = await collab_api("context", params={"path": "team/nb.ipynb"})
    assert code == 200, body
    (layer,) = body["embedded_layers"]
    assert layer["layer"] == "project" and layer["file"] == "../.collab/context.json"
    assert [entry["id"] for entry in layer["entries"]] == ["a-projectfact1"]

    # A layer file that does not parse: the context still opens; nothing to embed.
    project_layer_path(jp_root_dir).write_text("{broken")
    code, body = await collab_api("context", params={"path": "team/nb.ipynb"})
    assert code == 200 and body["embedded_layers"] is None


# -- a promotion's model preview (``layers/effect``, SSE and WebSocket) ---------------

OTHER_OWN = "Plots use the viridis palette."
SOURCE_OWN = "The source notebook's private rule."


def collab_cells(*prompts: str) -> list:
    return [nbformat.v4.new_code_cell(f"%%collab\n{p}") for p in prompts]


def effect_project(make_notebook, jp_root_dir) -> dict:
    """A project ``study`` with the source notebook and another one with a prompt."""
    write_layer(project_layer_path(jp_root_dir / "study"), Amendment(kind="process", text=RULE))
    make_notebook("study/source.ipynb", cells=collab_cells("Source question?"))
    entry = Amendment(kind="fact", text=FACT)
    own_context(
        jp_root_dir, "study/source.ipynb", Amendment(kind="process", text=SOURCE_OWN), entry
    )
    make_notebook("study/other.ipynb", cells=collab_cells("What is mesa-optimization?"))
    own_context(jp_root_dir, "study/other.ipynb", Amendment(kind="fact", text=OTHER_OWN))
    return {
        "path": "study/source.ipynb",
        "entry_id": entry.id,
        "from_layer": "notebook",
        "to_layer": "project",
    }


async def test_layer_effect_over_sse_asks_the_other_notebook_with_its_context(
    collab_api, make_notebook, jp_root_dir, monkeypatch, tmp_path, anthropic_env
):
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "data"))
    move = effect_project(make_notebook, jp_root_dir)
    before = sorted(p.read_bytes() for p in jp_root_dir.rglob("*.json"))

    code, events = await collab_api("layers/effect", method="POST", body=move)

    assert code == 200, events
    assert [e["event"] for e in events] == ["started", "probe", "finished"]
    assert all(e["type"] == "progress" for e in events)
    (probe,) = events[0]["probes"]
    assert probe["notebook"] == "study/other.ipynb"
    assert probe["prompt"] == "What is mesa-optimization?"
    outcome = events[-1]["report"]["outcomes"][0]
    assert outcome["probe"]["notebook"] == "study/other.ipynb" and outcome["verdict"]
    answers = anthropic_env.answer_systems()
    assert answers and all(OTHER_OWN in s and RULE in s for s in answers)
    assert not any(SOURCE_OWN in s for s in answers)
    assert {FACT in s for s in answers} == {True, False}
    assert str(jp_root_dir) not in json.dumps(events)
    # Nothing written: the move is only previewed.
    assert sorted(p.read_bytes() for p in jp_root_dir.rglob("*.json")) == before


async def test_layer_effect_with_no_prompts_and_its_errors(
    collab_api, make_notebook, jp_root_dir, monkeypatch, tmp_path, anthropic_env
):
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "data"))
    move = effect_project(make_notebook, jp_root_dir)
    make_notebook("study/other.ipynb")  # its prompts gone: nothing to ask

    code, events = await collab_api("layers/effect", method="POST", body=move)
    assert code == 200, events
    assert [e["event"] for e in events] == ["started", "finished"]
    assert events[0]["probes"] == [] and events[-1]["report"]["outcomes"] == []
    assert anthropic_env.message_requests() == []

    code, body = await collab_api(
        "layers/effect", method="POST", body={**move, "entry_id": "a-nosuchentry"}
    )
    assert code == 404 and "a-nosuchentry" in body["message"]
    code, body = await collab_api("layers/effect", method="POST", body={**move, "to_layer": "x"})
    assert code == 400 and "to_layer" in body["message"]


async def test_import_effect_asks_this_notebooks_prompts_with_the_entry(
    collab_api, jp_ws_fetch, make_notebook, jp_root_dir, monkeypatch, tmp_path, anthropic_env
):
    """Importing the source notebook's entry into the other one, previewed: the other
    notebook's prompt answered with its own context in effect, without and with the
    entry; nothing written."""
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "data"))
    move = effect_project(make_notebook, jp_root_dir)
    request = {
        "path": "study/other.ipynb",
        "from_path": "study/source.ipynb",
        "entry_id": move["entry_id"],
    }
    before = sorted(p.read_bytes() for p in jp_root_dir.rglob("*.json"))

    code, events = await collab_api("layers/import/effect", method="POST", body=request)

    assert code == 200, events
    assert [e["event"] for e in events] == ["started", "probe", "finished"]
    (probe,) = events[0]["probes"]
    assert probe == {
        "prompt": "What is mesa-optimization?",
        "kind": "notebook",
        "expectation": "A prompt of study/other.ipynb, which the entry would be imported "
        "into: it may change only where the entry applies.",
        "notebook": "study/other.ipynb",
    }
    assert events[-1]["report"]["amendment"]["text"] == FACT
    answers = anthropic_env.answer_systems()
    assert answers and all(OTHER_OWN in s and RULE in s for s in answers)
    assert not any(SOURCE_OWN in s for s in answers)
    assert {FACT in s for s in answers} == {True, False}
    assert sorted(p.read_bytes() for p in jp_root_dir.rglob("*.json")) == before

    ws = await jp_ws_fetch("jupyter-collab", "stream")
    await ws.write_message(json.dumps({"type": "import_effect", "id": "i", **request}))
    messages = []
    while not messages or messages[-1].get("event") not in ("finished", None):
        messages.append(json.loads(await asyncio.wait_for(ws.read_message(), timeout=20)))
    assert [m["event"] for m in messages] == ["started", "probe", "finished"], messages
    bad = {**request, "entry_id": "a-nosuchentry"}
    await ws.write_message(json.dumps({"type": "import_effect", "id": "bad", **bad}))
    error = json.loads(await asyncio.wait_for(ws.read_message(), timeout=20))
    assert error["type"] == "error" and error["status"] == 404
    assert "a-nosuchentry" in error["message"]
    ws.close()

    code, body = await collab_api(
        "layers/import/effect", method="POST", body={**request, "from_path": "study/other.ipynb"}
    )
    assert code == 400 and "itself" in body["message"]


async def test_layer_effect_over_websocket(
    jp_ws_fetch, make_notebook, jp_root_dir, monkeypatch, tmp_path, anthropic_env
):
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "data"))
    move = effect_project(make_notebook, jp_root_dir)
    ws = await jp_ws_fetch("jupyter-collab", "stream")
    await ws.write_message(json.dumps({"type": "layer_effect", "id": "e", **move}))
    messages = []
    while not messages or messages[-1].get("event") not in ("finished", None):
        messages.append(json.loads(await asyncio.wait_for(ws.read_message(), timeout=20)))
    assert [m["event"] for m in messages] == ["started", "probe", "finished"], messages
    assert all(m["id"] == "e" and m["type"] == "progress" for m in messages)
    assert messages[-1]["report"]["outcomes"][0]["probe"]["notebook"] == "study/other.ipynb"
    await ws.write_message(json.dumps({"type": "layer_effect", "id": "bad", "path": "x.ipynb"}))
    error = json.loads(await asyncio.wait_for(ws.read_message(), timeout=20))
    assert error["type"] == "error" and error["id"] == "bad" and error["status"] == 400
    ws.close()


FRENCH = "Always answer in French."
ENGLISH = "Always answer in English."


async def test_contradictions_between_layers_are_judged_once(
    collab_api, make_notebook, jp_root_dir, anthropic_env, monkeypatch, tmp_path
):
    from tests.wire.anthropic_server import Reply

    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "data"))
    write_layer(
        project_layer_path(jp_root_dir / "study"),
        Amendment(id="a-french", kind="process", text=FRENCH),
    )
    make_notebook("study/nb.ipynb")
    own_context(
        jp_root_dir, "study/nb.ipynb", Amendment(id="a-english", kind="process", text=ENGLISH)
    )
    verdict = {
        "first": "project:a-french",
        "second": "notebook:a-english",
        "contradicts": True,
        "why": "One asks for French, the other for English.",
    }
    anthropic_env.script(Reply.tool({"verdicts": [verdict]}, name="layer_contradictions"))

    code, body = await collab_api(
        "layers/contradictions", method="POST", body={"path": "study/nb.ipynb"}
    )
    assert code == 200, body
    assert body["path"] == "study/nb.ipynb"
    [found] = body["result"]["contradictions"]
    assert found == {
        "nearer": {"layer": "notebook", "id": "a-english"},
        "farther": {"layer": "project", "id": "a-french"},
        "why": "One asks for French, the other for English.",
    }
    assert body["result"]["asked"] == 1
    [request] = anthropic_env.message_requests()
    assert "[project:a-french]" in json.dumps(request.body["messages"])

    # The panel opened again: the same verdict, the model not asked.
    code, again = await collab_api(
        "layers/contradictions", method="POST", body={"path": "study/nb.ipynb"}
    )
    assert code == 200 and again["result"]["contradictions"] == [found]
    assert again["result"]["asked"] == 0 and len(anthropic_env.message_requests()) == 1


async def test_contradictions_route_errors(collab_api, make_notebook, anthropic_env, jp_root_dir):
    from tests.wire.anthropic_server import Reply

    code, body = await collab_api("layers/contradictions", method="POST", body={"path": "no.ipynb"})
    assert code == 404, body
    code, body = await collab_api("layers/contradictions", method="POST", body={})
    assert code == 400 and "path" in body["message"]
    # A failing model call is an error the panel shows, never an empty list.
    write_layer(project_layer_path(jp_root_dir), Amendment(kind="process", text=FRENCH))
    make_notebook("nb.ipynb")
    own_context(jp_root_dir, "nb.ipynb", Amendment(kind="process", text=ENGLISH))
    anthropic_env.script(Reply.error(401, "invalid x-api-key"))
    code, body = await collab_api("layers/contradictions", method="POST", body={"path": "nb.ipynb"})
    assert code == 502 and "x-api-key" in body["message"], (code, body)
