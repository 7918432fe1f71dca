"""``jupyter collab`` on temporary notebooks: context commands, validation,
export/import, and user errors (exit 1, one message, no traceback)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from jupyter_collab.cli import main
from jupyter_collab.core.notebook import embed_context, extract_context
from jupyter_collab.core.store import LocalContextStore


@pytest.fixture
def nb(tmp_path: Path) -> Path:
    path = tmp_path / "analysis.ipynb"
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_markdown_cell("# Notes"),
        nbformat.v4.new_code_cell("%%collab\nWho introduced Adam?"),
        nbformat.v4.new_code_cell("%%collab --mode learning\nExplain momentum."),
    ]
    nbformat.write(notebook, str(path))
    return path


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.out, captured.err


def add(capsys, nb: Path, kind: str, text: str) -> str:
    code, out, _ = run(capsys, "context", "add", nb, "--kind", kind, "--text", text)
    assert code == 0, out
    return out.split()[2]  # "added fact a-xxxx (revision N)"


def stored(nb: Path):
    return LocalContextStore(nb).load()


def test_show_without_context(capsys, nb):
    code, out, _ = run(capsys, "context", "show", nb)
    assert code == 0 and "no context yet" in out
    code, out, _ = run(capsys, "context", "show", nb, "--json")
    assert code == 0 and json.loads(out)["amendments"] == []


def test_add_show_and_token_size(capsys, nb):
    fact = add(capsys, nb, "fact", "Adam is by Kingma and Ba (2015).")
    rule = add(capsys, nb, "process", "Answer in one paragraph.")
    context = stored(nb)
    assert [a.id for a in context.amendments] == [fact, rule] and context.revision == 2
    assert context.amendments[0].provenance.source == "cli"

    code, out, _ = run(capsys, "context", "show", nb)
    assert code == 0
    assert fact in out and rule in out and "[accepted]" in out
    assert "Facts" in out and "Process rules" in out and "source cli" in out
    assert "1 fact, 1 process rule (2 enabled)" in out and "tokens in the prompt" in out

    code, out, _ = run(capsys, "context", "show", nb, "--markdown")
    assert out.startswith("# Context of analysis.ipynb") and "## Facts" in out
    assert f"- **{fact}** (accepted): Adam is by Kingma and Ba (2015)." in out

    code, out, _ = run(capsys, "context", "show", nb, "--json")
    assert json.loads(out)["revision"] == 2


def test_toggle_edit_undo_remove(capsys, nb):
    fact = add(capsys, nb, "fact", "R 4.3 is installed.")
    code, out, _ = run(capsys, "context", "toggle", nb, fact)
    assert code == 0 and out.startswith(f"disabled {fact}")
    assert not stored(nb).amendment(fact).enabled
    code, out, _ = run(capsys, "context", "toggle", nb, fact)
    assert out.startswith(f"enabled {fact}") and stored(nb).amendment(fact).enabled

    code, out, _ = run(capsys, "context", "edit", nb, fact, "--text", "R 4.4 is installed.")
    assert code == 0 and stored(nb).amendment(fact).text == "R 4.4 is installed."
    code, out, _ = run(capsys, "context", "undo", nb, fact)
    assert code == 0 and stored(nb).amendment(fact).text == "R 4.3 is installed."

    code, out, _ = run(capsys, "context", "remove", nb, fact)
    assert code == 0 and out.startswith(f"removed fact {fact}")
    assert stored(nb).amendments == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["context", "add", "{nb}", "--kind", "rule", "--text", "x"], "invalid choice"),
        (["context", "add", "{nb}", "--kind", "fact", "--text", "  "], "empty"),
        (["context", "add", "{nb}", "--kind", "fact"], "required: --text"),
        (["context", "toggle", "{nb}", "a-missing"], "no context file"),
        (["context", "show", "{dir}/missing.ipynb"], "no such notebook"),
        (["context", "show", "{dir}/notes.txt"], "not a notebook"),
        (["context", "export", "{nb}"], "no context file"),
        (["context", "import", "{nb}"], "no embedded context"),
        (["context", "edit", "{nb}", "a-x"], "no context file"),
        (["preview", "{nb}", "--amendment", "x", "--probes", "99"], "--probes"),
        (["preview", "{nb}", "--amendment", " "], "empty"),
        (["preview", "{nb}", "--amendment", "x", "--concurrency", "0"], "concurrency"),
        (
            ["preview", "{nb}", "--amendment", "x", "--noise-samples", "9"],
            "invalid preview_noise_samples",
        ),
        (["preview", "{dir}/missing.ipynb", "--amendment", "x"], "no such notebook"),
        (["frobnicate"], "invalid choice"),
        ([], "required"),
    ],
)
def test_user_errors_exit_1_with_a_message(capsys, nb, argv, message):
    (nb.parent / "notes.txt").write_text("hi")
    argv = [a.format(nb=nb, dir=nb.parent) for a in argv]
    code, out, err = run(capsys, *argv)
    assert code == 1
    assert message in err
    assert out == ""


def test_unknown_id_and_duplicates(capsys, nb):
    add(capsys, nb, "fact", "Adam is by Kingma and Ba (2015).")
    code, _, err = run(capsys, "context", "toggle", nb, "a-missing")
    assert code == 1 and "no amendment with id 'a-missing'" in err
    code, _, err = run(
        capsys, "context", "add", nb, "--kind", "fact", "--text", "adam is by Kingma and Ba 2015"
    )
    assert code == 1 and "already says this" in err
    assert len(stored(nb).amendments) == 1


def test_validate_reports_file_and_problem_and_touches_nothing(capsys, nb):
    add(capsys, nb, "fact", "A fact.")
    code, out, _ = run(capsys, "context", "validate", nb)
    assert code == 0 and "analysis.collab.json: valid (revision 1" in out

    sidecar = LocalContextStore(nb).path
    broken = b'{"schema_version": 1, "amendments": [{"kind": "nope", "text": "x"}]}'
    sidecar.write_bytes(broken)
    code, out, err = run(capsys, "context", "validate", nb)
    assert code == 1
    assert str(sidecar) in err and "amendments.0.kind" in err
    assert sidecar.read_bytes() == broken  # untouched
    # Other commands refuse to write over it too.
    code, _, err = run(capsys, "context", "add", nb, "--kind", "fact", "--text", "B")
    assert code == 1 and sidecar.read_bytes() == broken

    sidecar.write_text("{not json")
    code, _, err = run(capsys, "context", "validate", nb)
    assert code == 1 and "invalid JSON at line 1" in err


def test_validate_broken_notebook_and_embedded_copy(capsys, nb):
    notebook = json.loads(nb.read_text())
    notebook["metadata"]["jupyter_collab"] = {"context": {"schema_version": 9}}
    nb.write_text(json.dumps(notebook))
    code, _, err = run(capsys, "context", "validate", nb)
    assert code == 1 and "metadata.jupyter_collab.context" in err and "schema_version 9" in err
    nb.write_text("{")
    code, _, err = run(capsys, "context", "validate", nb)
    assert code == 1 and "analysis.ipynb: not a valid notebook" in err


def test_export_then_import_restores_the_sidecar(capsys, nb):
    fact = add(capsys, nb, "fact", "Adam is by Kingma and Ba (2015).")
    rule = add(capsys, nb, "process", "Be terse.")
    code, out, _ = run(capsys, "context", "export", nb)
    assert code == 0 and "embedded revision 2 (2 amendment(s))" in out
    notebook = nbformat.read(str(nb), as_version=4)  # still a valid notebook
    nbformat.validate(notebook)
    embedded = extract_context(json.loads(nb.read_text()), str(nb))
    assert [a.id for a in embedded.amendments] == [fact, rule]

    code, out, _ = run(capsys, "context", "import", nb)
    assert code == 0 and "already in sync" in out

    LocalContextStore(nb).path.unlink()
    code, out, _ = run(capsys, "context", "show", nb)
    assert "embedded in the notebook" in out and fact in out
    # Editing now would drop the embedded entries: refused until imported.
    code, _, err = run(capsys, "context", "add", nb, "--kind", "fact", "--text", "New.")
    assert code == 1 and "context import" in err

    code, out, _ = run(capsys, "context", "import", nb)
    assert code == 0 and out.startswith("restored analysis.collab.json")
    assert f"+ {fact} [fact, accepted]" in out
    restored = stored(nb)
    assert [a.id for a in restored.amendments] == [fact, rule] and restored.revision == 1


def test_import_restores_an_executed_copys_sidecar_from_its_outputs(capsys, nb):
    """The context a copy written by `nbconvert --output NAME` carries in its outputs."""
    fact = add(capsys, nb, "fact", "Yields are in g/L.")
    output = nbformat.v4.new_output("display_data", data={"text/plain": "answer"})
    embed_context(output, stored(nb))
    notebook = nbformat.read(str(nb), as_version=4)
    notebook.cells = [nbformat.v4.new_code_cell("%%collab\nq", outputs=[output])]
    copy = nb.with_name("run-1.ipynb")
    nbformat.write(notebook, str(copy))
    code, out, _ = run(capsys, "context", "show", copy)
    assert code == 0 and "embedded in the notebook" in out and fact in out
    code, out, _ = run(capsys, "context", "import", copy)
    assert code == 0 and out.startswith("restored run-1.collab.json")
    assert [a.id for a in stored(copy).amendments] == [fact]


def test_changes_keep_the_embedded_copy_in_sync(capsys, nb):
    fact = add(capsys, nb, "fact", "A fact.")
    run(capsys, "context", "export", nb)
    code, _, err = run(capsys, "context", "toggle", nb, fact)
    assert code == 0 and "updated the copy embedded" in err
    embedded = extract_context(json.loads(nb.read_text()), str(nb))
    assert not embedded.amendment(fact).enabled
    code, out, _ = run(capsys, "context", "validate", nb)
    assert "in sync" in out


def test_import_merges_embedded_entries(capsys, nb, tmp_path):
    add(capsys, nb, "fact", "Shared fact.")
    run(capsys, "context", "export", nb)
    other = add(capsys, nb, "process", "Sidecar-only rule.")
    # A collaborator's notebook copy gained an entry of its own.
    notebook = json.loads(nb.read_text())
    notebook["metadata"]["jupyter_collab"]["context"]["amendments"].append(
        {"id": "a-fromcolleague", "kind": "fact", "text": "Colleague's fact."}
    )
    nb.write_text(json.dumps(notebook))
    code, out, _ = run(capsys, "context", "import", nb)
    assert code == 0 and out.startswith("merged") and "a-fromcolleague" in out
    ids = [a.id for a in stored(nb).amendments]
    assert other in ids and "a-fromcolleague" in ids


def test_preview_with_an_unusable_local_model_is_a_user_error(capsys, nb, tmp_path):
    code, _, err = run(
        capsys,
        "preview",
        nb,
        "--amendment",
        "Be terse.",
        "--provider",
        "local",
        "--local-model",
        tmp_path / "missing.gguf",
    )
    assert code == 1 and err.startswith("error: ") and "missing.gguf" in err


def test_help_and_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    assert "context" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0


def test_module_entry_point_runs_without_traceback(nb):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(Path(__file__).resolve().parents[1]), env.get("PYTHONPATH", "")]
    )
    ok = subprocess.run(
        [sys.executable, "-m", "jupyter_collab.cli", "context", "show", str(nb)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert ok.returncode == 0 and "no context yet" in ok.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "jupyter_collab.cli", "context", "toggle", str(nb), "a-x"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert bad.returncode == 1 and "Traceback" not in bad.stderr and "error:" in bad.stderr
