"""``jupyter collab context show --layers``, ``promote``, ``demote`` and
``import --from``: what each prints, what it writes, and its errors (exit 1, one
message naming the problem, both files unchanged)."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from jupyter_collab.cli import main
from jupyter_collab.core.context_model import Amendment, CollabContext
from jupyter_collab.core.layers import layer_store, personal_layer_path, project_layer_path
from jupyter_collab.core.notebook import embed_context, extract_context
from jupyter_collab.core.store import LocalContextStore

FACT = "Cite Hubinger et al. 2019 for mesa-optimization."
RULE = "Ask before writing a long report."


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter-data"))
    root = tmp_path / "group"
    (root / ".git").mkdir(parents=True)
    for name in ("a.ipynb", "b.ipynb"):
        nbformat.write(nbformat.v4.new_notebook(), root / name)
    return root


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.out, captured.err


def add(capsys, nb: Path, kind: str, text: str) -> str:
    code, out, _ = run(capsys, "context", "add", nb, "--kind", kind, "--text", text)
    assert code == 0, out
    return out.split()[2]


def files(*paths: Path) -> list[bytes | None]:
    return [p.read_bytes() if p.exists() else None for p in paths]


def test_promote_then_show_layers_in_another_notebook(capsys, project):
    a, b = project / "a.ipynb", project / "b.ipynb"
    fact = add(capsys, a, "fact", FACT)
    rule = add(capsys, a, "process", RULE)

    code, out, _ = run(
        capsys, "context", "promote", a, fact, "--to", "project", "--project-dir", project
    )
    assert code == 0 and f"promoted fact {fact}" in out and "origin: a.ipynb" in out
    code, out, _ = run(capsys, "context", "promote", a, rule, "--to", "personal")
    assert code == 0 and str(personal_layer_path()) in out

    code, out, _ = run(capsys, "context", "show", b, "--layers")
    assert code == 0
    assert out.index("personal:") < out.index("project:") < out.index("notebook:")
    assert f"+ {fact} [fact, accepted] {FACT}" in out and f"+ {rule} [process" in out
    assert "applies: project layer of" in out and "from a.ipynb" in out

    code, out, _ = run(capsys, "context", "show", b, "--layers", "--json")
    report = json.loads(out)
    assert [layer["layer"] for layer in report["layers"]] == ["personal", "project", "notebook"]
    assert report["layers"][1]["path"] == str(project_layer_path(project))
    assert report["layers"][1]["entries"][0]["origin_notebook"] == "a.ipynb"
    assert report["layers"][2]["exists"] is False

    code, out, _ = run(capsys, "context", "demote", a, fact, "--from", "project")
    assert code == 0 and LocalContextStore(a).load().amendment(fact).text == FACT
    assert layer_store(project_layer_path(project)).load().amendments == []


def test_show_layers_flags_repeats_across_layers(capsys, project):
    a = project / "a.ipynb"
    fact = add(capsys, a, "fact", FACT)
    run(capsys, "context", "promote", a, fact, "--to", "project", "--project-dir", project)
    again = add(capsys, a, "fact", "cite Hubinger et al 2019 for mesa optimization")
    code, out, _ = run(capsys, "context", "show", a, "--layers")
    assert code == 0
    assert f"repeats notebook:{again}" in out and f"repeats project:{fact}" in out


def test_promote_refreshes_the_embedded_copy(capsys, project):
    a = project / "a.ipynb"
    fact = add(capsys, a, "fact", FACT)
    notebook = nbformat.read(a, as_version=4)
    nbformat.write(embed_context(notebook, LocalContextStore(a).load()), a)
    code, _, err = run(capsys, "context", "promote", a, fact, "--to", "personal")
    assert code == 0 and "updated the copy embedded in a.ipynb" in err
    embedded = extract_context(json.loads(a.read_text()), str(a))
    assert embedded.amendments == [] and fact in embedded.removed


def test_import_from_another_notebook(capsys, project):
    a, b = project / "a.ipynb", project / "b.ipynb"
    fact = add(capsys, a, "fact", FACT)
    add(capsys, a, "process", RULE)
    add(capsys, b, "process", "ask before writing a long report")

    before = LocalContextStore(b).path.read_bytes()
    code, out, _ = run(capsys, "context", "import", b, "--from", a, "--dry-run")
    assert code == 0 and "would import from a.ipynb into b.ipynb (nothing written)" in out
    assert f"+ {fact} [fact] {FACT}" in out and "skipped" in out and "repeats" in out
    assert LocalContextStore(b).path.read_bytes() == before

    code, out, _ = run(capsys, "context", "import", b, "--from", a)
    assert code == 0 and "imported 1 entry from a.ipynb" in out
    assert "skipped" in out and "repeats" in out
    imported = LocalContextStore(b).load().amendment(fact)
    assert imported.provenance.source == "import" and imported.provenance.notebook == str(a)

    revision = LocalContextStore(b).load().revision
    code, out, _ = run(capsys, "context", "import", b, "--from", a, fact)
    assert code == 0 and out.startswith("nothing to import")
    assert LocalContextStore(b).load().revision == revision  # nothing written


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["context", "promote", "{a}", "{fact}", "--to", "project"], "no project layer above"),
        (["context", "promote", "{a}", "a-nosuchentry1", "--to", "personal"], "no entry"),
        (["context", "promote", "{a}", "{fact}", "--to", "notebook"], "invalid choice"),
        (["context", "demote", "{a}", "{fact}", "--from", "personal"], "does not exist"),
        (["context", "import", "{a}", "--from", "{b}"], "no context to import"),
        (["context", "import", "{a}", "--from", "{a}"], "cannot import from itself"),
        (["context", "import", "{a}", "{fact}"], "unrecognized arguments"),
        (["context", "import", "{a}", "--dry-run"], "--dry-run goes with --from"),
        (["context", "import", "{a}", "--preview"], "--preview goes with --from"),
        (["context", "import", "{a}", "--model", "m"], "--model applies only with --from"),
        (["context", "import", "{b}", "--from", "{a}", "a-nosuchentry1"], "a-nosuchentry1"),
        (["context", "show", "{a}", "--layers", "--markdown"], "--layers"),
        (["context", "promote", "{a}", "{fact}", "--to", "project", "--preview"], "no project"),
        (
            ["context", "promote", "{a}", "a-nosuchentry1", "--to", "personal", "--preview"],
            "no entry",
        ),
        (
            [
                "context",
                "promote",
                "{a}",
                "{fact}",
                "--to",
                "personal",
                "--preview",
                "--concurrency",
                "0",
            ],
            "concurrency",
        ),
        (
            ["context", "promote", "{a}", "{fact}", "--to", "personal", "--model", "m"],
            "--model applies only with --preview",
        ),
    ],
)
def test_user_errors_exit_1_and_change_nothing(capsys, project, argv, message):
    a, b = project / "a.ipynb", project / "b.ipynb"
    fact = add(capsys, a, "fact", FACT)
    watched = [LocalContextStore(a).path, LocalContextStore(b).path, personal_layer_path()]
    before = files(*watched)
    names = {"a": a, "b": b, "fact": fact}
    code, _, err = run(capsys, *[part.format(**names) for part in argv])
    assert code == 1 and message in err, err
    assert files(*watched) == before


def test_an_unreadable_layer_is_named_and_left_alone(capsys, project):
    a = project / "a.ipynb"
    fact = add(capsys, a, "fact", FACT)
    layer = project_layer_path(project)
    layer.parent.mkdir()
    layer.write_text("{not json")
    sidecar = LocalContextStore(a).path
    before = files(sidecar, layer)
    code, _, err = run(capsys, "context", "promote", a, fact, "--to", "project")
    assert code == 1 and str(layer) in err and "invalid JSON" in err
    code, _, err = run(capsys, "context", "show", a, "--layers")
    assert code == 1 and str(layer) in err
    assert files(sidecar, layer) == before


def test_a_repeat_in_the_target_layer_is_refused(capsys, project):
    a, b = project / "a.ipynb", project / "b.ipynb"
    fact = add(capsys, a, "fact", FACT)
    run(capsys, "context", "promote", a, fact, "--to", "personal")
    other = add(capsys, b, "fact", FACT)
    before = files(LocalContextStore(b).path, personal_layer_path())
    code, _, err = run(capsys, "context", "promote", b, other, "--to", "personal")
    assert code == 1 and f"repeats {fact}" in err
    assert files(LocalContextStore(b).path, personal_layer_path()) == before


def test_export_embeds_the_layers_and_a_recipient_is_told_what_is_missing(
    capsys, project, tmp_path, monkeypatch
):
    a = project / "a.ipynb"
    fact = add(capsys, a, "fact", FACT)
    add(capsys, a, "process", RULE)
    run(capsys, "context", "promote", a, fact, "--to", "project", "--project-dir", project)
    code, out, _ = run(capsys, "context", "export", a)
    assert code == 0 and "with the project layer's 1 entries (.collab/context.json)" in out
    carried = json.loads(a.read_text())["metadata"]["jupyter_collab"]["layers"]
    assert [(item["layer"], item["file"]) for item in carried] == [
        ("project", ".collab/context.json")
    ]
    assert carried[0]["entries"][0]["id"] == fact

    # The sender sees nothing missing.
    code, _, err = run(capsys, "context", "show", a, "--layers")
    assert code == 0 and "lack" not in err

    # A recipient gets the notebook alone, in a folder without the project layer.
    elsewhere = tmp_path / "recipient"
    elsewhere.mkdir()
    (elsewhere / "a.ipynb").write_bytes(a.read_bytes())
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "recipient-data"))
    code, out, err = run(capsys, "context", "show", elsewhere / "a.ipynb", "--layers", "--json")
    assert code == 0
    missing = json.loads(out)["missing"]
    assert len(missing) == 1 and "project layer it was shared with" in missing[0]
    assert "is missing here" in missing[0] and fact in missing[0]
    code, _, err = run(capsys, "context", "show", elsewhere / "a.ipynb", "--layers")
    assert "was shared with layers you lack" in err
    # Nothing of the embedded layer is applied: the recipient's layers are empty.
    from jupyter_collab.core.layers import context_in_effect

    assert context_in_effect(elsewhere / "a.ipynb", None) is None


def with_prompts(path: Path, *prompts: str) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(f"%%collab\n{p}") for p in prompts]
    nbformat.write(notebook, path)


def test_promote_preview_answers_the_other_notebooks_prompts_and_writes_nothing(
    capsys, project, anthropic_env, monkeypatch
):
    monkeypatch.chdir(project)
    a, b = project / "a.ipynb", project / "b.ipynb"
    with_prompts(a, "What did we find?")
    with_prompts(b, "Who proposed mesa-optimization?", "What is inner alignment?")
    own = add(capsys, b, "process", RULE)
    fact = add(capsys, a, "fact", FACT)
    layer = project_layer_path(project)
    watched = [LocalContextStore(a).path, LocalContextStore(b).path, layer, personal_layer_path()]
    run(capsys, "context", "promote", b, own, "--to", "project", "--project-dir", project)
    before = files(*watched)

    code, out, err = run(capsys, "context", "promote", a, fact, "--to", "project", "--preview")

    assert code == 0, err
    assert files(*watched) == before
    assert "nothing written" in out and "b.ipynb: gains it" in out and "a.ipynb: gains it" in out
    assert "previewing 2 prompt(s) of 1 notebook(s)" in out
    assert "b.ipynb: What is inner alignment?" in out
    assert "b.ipynb: Who proposed mesa-optimization?" in out
    assert "What did we find?" not in out  # the source notebook already has the entry
    assert "2 probe(s):" in out
    answers = anthropic_env.answer_systems()
    # b's prompts, with the project layer that reaches b; the entry only on the amended side.
    assert answers and all(RULE in s for s in answers)
    assert {FACT in s for s in answers} == {True, False}


def test_import_preview_answers_this_notebooks_prompts_and_writes_nothing(
    capsys, project, anthropic_env, monkeypatch
):
    monkeypatch.chdir(project)
    a, b = project / "a.ipynb", project / "b.ipynb"
    with_prompts(a, "What did we find?")
    with_prompts(b, "Who proposed mesa-optimization?", "What is inner alignment?")
    fact = add(capsys, a, "fact", FACT)
    add(capsys, a, "process", RULE)
    own = add(capsys, b, "process", "ask before writing a long report")
    watched = [LocalContextStore(a).path, LocalContextStore(b).path]
    before = files(*watched)

    code, out, err = run(capsys, "context", "import", b, "--from", a, "--preview")

    assert code == 0, err
    assert files(*watched) == before
    assert "would import from a.ipynb into b.ipynb (nothing written):" in out
    assert f"+ {fact} [fact] {FACT}" in out and "skipped" in out  # the rule repeats b's
    assert f"previewing {fact} on 2 prompt(s) of b.ipynb" in out
    assert "b.ipynb: What is inner alignment?" in out
    assert "What did we find?" not in out  # a's prompts are not asked
    answers = anthropic_env.answer_systems()
    # b's prompts with b's own entry; the imported one only on the amended side.
    assert answers and all("ask before writing a long report" in s for s in answers)
    assert {FACT in s for s in answers} == {True, False}
    assert f"repeats {own}" in out  # the skipped rule is not previewed
    assert out.count("previewing ") == 1

    code, _, err = run(capsys, "context", "import", b, "--from", a, "--model", "x")
    assert code == 1 and "--model applies only with --preview" in err
    assert files(*watched) == before


def test_promote_preview_without_prompts_says_so(capsys, project, anthropic_env, monkeypatch):
    monkeypatch.chdir(project)
    a = project / "a.ipynb"
    fact = add(capsys, a, "fact", FACT)

    code, out, _ = run(capsys, "context", "promote", a, fact, "--to", "personal", "--preview")

    assert code == 0 and "every notebook you open" in out
    assert "no prompts to preview" in out and anthropic_env.message_requests() == []
    assert not personal_layer_path().exists()


def test_show_layers_with_contradictions(capsys, project, anthropic_env):
    from tests.wire.anthropic_server import Reply

    a = project / "a.ipynb"
    project_layer_path(project).parent.mkdir()
    layer_store(project_layer_path(project)).save(
        CollabContext(
            amendments=[Amendment(id="a-french", kind="process", text="Always answer in French.")]
        )
    )
    english = add(capsys, a, "process", "Always answer in English.")
    verdict = {
        "first": "project:a-french",
        "second": f"notebook:{english}",
        "contradicts": True,
        "why": "French and English cannot both hold.",
    }
    anthropic_env.script(Reply.tool({"verdicts": [verdict]}, name="layer_contradictions"))

    code, out, _ = run(capsys, "context", "show", a, "--layers", "--contradictions")
    assert code == 0, out
    assert (
        "contradicts project:a-french: French and English cannot both hold. (this entry wins)"
        in out
    )
    assert (
        f"contradicts notebook:{english}: French and English cannot both hold. "
        f"(notebook:{english} wins)" in out
    )
    assert "contradictions: 1 among 1 pair(s) of entries of different layers judged\n" in out
    [request] = anthropic_env.message_requests()
    assert "[project:a-french]" in request.body["messages"][0]["content"]

    anthropic_env.script(Reply.tool({"verdicts": [verdict]}, name="layer_contradictions"))
    code, out, _ = run(
        capsys,
        "context",
        "show",
        a,
        "--layers",
        "--contradictions",
        "--json",
        "--ops-model",
        "claude-opus-4-1",
    )
    assert code == 0
    found = json.loads(out)["contradictions"]
    assert found["contradictions"] == [
        {
            "nearer": {"layer": "notebook", "id": english},
            "farther": {"layer": "project", "id": "a-french"},
            "why": "French and English cannot both hold.",
        }
    ]
    assert anthropic_env.message_requests()[-1].body["model"] == "claude-opus-4-1"
    # Without --contradictions the report asks no model.
    anthropic_env.clear()
    code, out, _ = run(capsys, "context", "show", a, "--layers", "--json")
    assert code == 0 and "contradictions" not in json.loads(out)
    assert anthropic_env.message_requests() == []


def test_contradictions_errors(capsys, project, anthropic_env):
    from tests.wire.anthropic_server import Reply

    a = project / "a.ipynb"
    code, _, err = run(capsys, "context", "show", a, "--contradictions")
    assert code == 1 and "--contradictions goes with --layers" in err
    project_layer_path(project).parent.mkdir()
    layer_store(project_layer_path(project)).save(
        CollabContext(amendments=[Amendment(kind="process", text="Answer in French.")])
    )
    add(capsys, a, "process", "Answer in English.")
    anthropic_env.script(Reply.error(401, "invalid x-api-key"))
    code, out, err = run(capsys, "context", "show", a, "--layers", "--contradictions")
    assert code == 1 and "x-api-key" in err and out == ""
