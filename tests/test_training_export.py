"""``jupyter collab export``: corrections as training records, loaded back with the
``datasets`` library as a TRL trainer loads them, from the committed examples and from
notebooks corrected here through the loop's own finalize."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import datasets
import nbformat
import pytest

from jupyter_collab.cli import main
from jupyter_collab.core.context_model import MAX_STORED_ANSWER, CollabContext
from jupyter_collab.core.hashing import sha256_text
from jupyter_collab.core.notebook import embed_context
from jupyter_collab.core.operation_models import AmendmentDraft, CorrectionInput, HighlightInput
from jupyter_collab.core.operations.anchoring import make_quote
from jupyter_collab.core.operations.common import clip
from jupyter_collab.core.operations.finalize import finalize
from jupyter_collab.core.operations.training_export import export_corrections
from jupyter_collab.core.outputs import MIME_TYPE, annotated_display
from jupyter_collab.core.personas import persona_text
from jupyter_collab.core.store import LocalContextStore, evidence_folder
from tests.factories import collab_cell, original_probe_report

REPO = Path(__file__).resolve().parent.parent

PROMPT = "Who introduced mesa-optimization?"
ANSWER = "Mesa-optimization was introduced by Smith et al. in 2021, in a paper on planning."
AMENDED = "Mesa-optimization was introduced by Hubinger et al. in 2019 (arXiv:1906.01820)."
FACT = AmendmentDraft(kind="fact", text="Mesa-optimization is from Hubinger et al. (2019).")

REPORT_PROMPT = "Write a report on the trial."
REPORT_ANSWER = (
    "The trial enrolled 20 patients. The patients were randomly assigned to two groups. "
    "Outcomes improved in the treated group."
)
LONG_AMENDED = "Which trial, and who is the report for? " + "Details. " * 60
ASK_FIRST = AmendmentDraft(kind="process", text="Ask what a report is for before writing it.")

UNITS_PROMPT = "How far is the field station?"
UNITS_ANSWER = "The field station is 12 in miles from the campus."
METRIC = AmendmentDraft(kind="process", text="Give distances in kilometres.")


@pytest.fixture(autouse=True)
def _own_trust_database(tmp_path, monkeypatch):
    # nbformat's notary keeps its signatures under the Jupyter data folder: a fresh one
    # trusts nothing until a test signs a notebook.
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter-data"))
    datasets.disable_progress_bars()


def _cell(notebook: dict[str, Any], cell_id: str) -> dict[str, Any]:
    return next(cell for cell in notebook["cells"] if cell.get("id") == cell_id)


def correct(
    context: CollabContext,
    notebook: dict[str, Any],
    cell_id: str,
    quote: str,
    correction: CorrectionInput,
    draft: AmendmentDraft,
    amended: str | None = None,
) -> CollabContext:
    """Highlight ``quote`` in a cell's answer, correct it and finalize ``draft`` from it
    (previewed with ``amended`` as the prompt's amended answer), as the loop does: the
    context gets the highlight, correction and amendment, the output its annotation."""
    cell = _cell(notebook, cell_id)
    payload = cell["outputs"][0]["data"][MIME_TYPE]
    answer, prompt = payload["result"]["answer"], payload["result"]["prompt"]
    start = answer.index(quote)
    highlight = HighlightInput(
        answer=answer,
        prompt=prompt,
        position={"start": start, "end": start + len(quote)},
        quote=make_quote(answer, start, start + len(quote)),
        cell_id=cell_id,
        response_id=payload["result"]["response_id"],
    )
    report = original_probe_report(draft, prompt, answer, amended) if amended else None
    context, amendment = finalize(
        context, draft, highlight=highlight, correction=correction, report=report
    )
    display = annotated_display(payload, context, amendment)
    assert display is not None
    cell["outputs"][0] = nbformat.from_dict(display.model_dump(mode="json"))
    return context


def save(path: Path, notebook: dict[str, Any], context: CollabContext | None) -> Path:
    """Write the notebook with its context embedded, and the sidecar, as a save does."""
    if context is not None:
        context = LocalContextStore(path).save(context)
        embed_context(notebook, context)
    nbformat.write(nbformat.from_dict(notebook), str(path))
    return path


def corrected_notebook(path: Path) -> Path:
    """Three corrected answers: a short and a long amended answer, both kept whole,
    and a correction finalized without a preview."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_markdown_cell("# Notes"),
        collab_cell("ask-origin", PROMPT, ANSWER),
        collab_cell("ask-report", REPORT_PROMPT, REPORT_ANSWER, mode="learning"),
        collab_cell("ask-units", UNITS_PROMPT, UNITS_ANSWER),
    ]
    context = correct(
        CollabContext(),
        notebook,
        "ask-origin",
        "Smith et al. in 2021",
        CorrectionInput(text="Hubinger et al. in 2019"),
        FACT,
        amended=AMENDED,
    )
    context = correct(
        context,
        notebook,
        "ask-report",
        "The trial enrolled 20 patients.",
        CorrectionInput(operation="delete"),
        ASK_FIRST,
        amended=LONG_AMENDED,
    )
    context = correct(
        context,
        notebook,
        "ask-units",
        "in miles",
        CorrectionInput(text="in kilometres"),
        METRIC,
    )
    return save(path, notebook, context)


def run(capsys, *argv: Any) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.out, captured.err


def load(path: Path, tmp_path: Path) -> datasets.Dataset:
    return datasets.load_dataset(
        "json", data_files=str(path), split="train", cache_dir=str(tmp_path / "hf-cache")
    )


def _alternates(messages: list[dict[str, str]], last: str) -> None:
    roles = [m["role"] for m in messages]
    if roles[0] == "system":
        roles = roles[1:]
    assert roles, "no turn after the system message"
    assert "system" not in roles
    assert all(role == ("user" if i % 2 == 0 else "assistant") for i, role in enumerate(roles))
    assert roles[-1] == last
    assert all(isinstance(m["content"], str) and m["content"] for m in messages)


def check_trainer_fields(dataset: datasets.Dataset, fmt: str) -> None:
    """What the trainer of ``fmt`` reads, with the types it needs."""
    message = {"role": datasets.Value("string"), "content": datasets.Value("string")}
    features = dataset.features
    if fmt == "sft":
        assert features["messages"] == datasets.List(message)
        for row in dataset:
            _alternates(row["messages"], last="assistant")
    elif fmt == "dpo":
        for column in ("prompt", "chosen", "rejected"):
            assert features[column] == datasets.List(message)
        for row in dataset:
            _alternates(row["prompt"], last="user")
            for column in ("chosen", "rejected"):
                assert [m["role"] for m in row[column]] == ["assistant"]
            assert row["chosen"][0]["content"] != row["rejected"][0]["content"]
    else:
        assert features["label"] == datasets.Value("bool")
        assert features["completion"] == datasets.List(message)
        for row in dataset:
            _alternates(row["prompt"], last="user")
            assert [m["role"] for m in row["completion"]] == ["assistant"]
        labels = {}
        for row in dataset:
            key = row["metadata"]["correction"]["id"]
            labels.setdefault(key, []).append(row["label"])
        assert all(sorted(pair) == [False, True] for pair in labels.values())


@pytest.mark.parametrize("fmt", ["sft", "dpo", "kto"])
def test_the_examples_export_in_every_format(capsys, tmp_path, fmt):
    folder = tmp_path / "examples"
    shutil.copytree(REPO / "examples", folder)
    out = tmp_path / f"{fmt}.jsonl"
    code, stdout, stderr = run(capsys, "export", folder, "--format", fmt, "-o", out)
    assert code == 0, stderr
    assert "(2 corrections from 2 notebooks)" in stdout
    dataset = load(out, tmp_path)
    assert len(dataset) == (4 if fmt == "kto" else 2)
    check_trainer_fields(dataset, fmt)
    metadata = dataset["metadata"]
    assert {Path(m["notebook"]).name for m in metadata} == {
        "citations.ipynb",
        "collaborator-style.ipynb",
    }
    # They were recorded when a context kept only the first 280 characters of an
    # amended answer, and theirs were longer: the chosen answers are the corrections
    # applied to the highlighted spans.
    assert {m["chosen_from"] for m in metadata} == {"corrected_span"}
    citations = next(m for m in metadata if m["cell_id"] == "ask-references")
    assert citations["amendment"]["id"] == "a-fe4e0e1bfff1"
    assert citations["correction"]["operation"] == "replace"
    assert citations["span"]["start"] == 0 and citations["span"]["end"] == 78
    assert citations["model"] == "SmolLM2-135M-Instruct"


def test_a_constructed_notebook_as_preference_pairs(capsys, tmp_path):
    nb = corrected_notebook(tmp_path / "analysis.ipynb")
    out = tmp_path / "pairs.jsonl"
    code, _, stderr = run(capsys, "export", nb, "--format", "dpo", "-o", out)
    assert code == 0, stderr
    dataset = load(out, tmp_path)
    check_trainer_fields(dataset, "dpo")
    rows = {row["metadata"]["cell_id"]: row for row in dataset}

    origin = rows["ask-origin"]
    assert origin["prompt"] == [{"role": "user", "content": PROMPT}]
    assert origin["rejected"][0]["content"] == ANSWER
    # The amended answer the preview produced and the researcher accepted, kept whole.
    assert origin["chosen"][0]["content"] == AMENDED
    meta = origin["metadata"]
    assert meta["chosen_from"] == "amended_answer"
    assert meta["span"]["text"] == "Smith et al. in 2021"
    assert ANSWER[meta["span"]["start"] : meta["span"]["end"]] == meta["span"]["text"]
    assert meta["correction"]["text"] == "Hubinger et al. in 2019"
    assert meta["amendment"]["text"] == FACT.text and meta["amendment"]["kind"] == "fact"
    assert meta["rejected_hash"] == sha256_text(ANSWER)
    assert meta["chosen_hash"] == sha256_text(AMENDED)
    assert meta["provider"] == "anthropic" and meta["model"] == "claude-sonnet-5-5"
    assert meta["notebook"] == str(nb) and meta["trusted"] is True
    assert meta["answered"] is not None and meta["highlighted"] is not None

    report = rows["ask-report"]
    # An amended answer longer than the 280 characters other probes keep: still whole.
    assert len(LONG_AMENDED) > MAX_STORED_ANSWER
    assert report["chosen"][0]["content"] == LONG_AMENDED
    assert report["metadata"]["chosen_from"] == "amended_answer"
    assert report["metadata"]["mode"] == "learning"

    units = rows["ask-units"]
    # Finalized without a preview: the correction applied to its span.
    assert units["chosen"][0]["content"] == "The field station is 12 in kilometres from the campus."
    assert units["metadata"]["chosen_from"] == "corrected_span"


def test_a_context_that_kept_only_the_start_of_the_amended_answer(capsys, tmp_path):
    """A context written when the prompt's amended answer was cut to 280 characters
    (its hash covers the whole answer): chosen falls back to the corrected span."""
    nb = corrected_notebook(tmp_path / "analysis.ipynb")
    store = LocalContextStore(nb)
    context = store.load()
    assert context is not None
    context = context.editable_copy()
    for amendment in context.amendments:
        amendment.preview = [
            result.model_copy(update={"amended_text": clip(result.amended_text or "", 280)})
            for result in amendment.preview
        ]
    store.save(context)
    out = tmp_path / "pairs.jsonl"
    code, _, stderr = run(capsys, "export", nb, "--format", "dpo", "-o", out)
    assert code == 0, stderr
    rows = {row["metadata"]["cell_id"]: row for row in load(out, tmp_path)}
    assert rows["ask-origin"]["metadata"]["chosen_from"] == "amended_answer"  # short: whole
    report = rows["ask-report"]
    assert report["metadata"]["chosen_from"] == "corrected_span"
    assert report["chosen"][0]["content"] == (
        "The patients were randomly assigned to two groups. Outcomes improved in the treated group."
    )


def test_sft_and_kto_records_of_the_same_notebook(tmp_path):
    nb = corrected_notebook(tmp_path / "analysis.ipynb")
    sft = export_corrections([nb], "sft", tmp_path / "sft.jsonl")
    kto = export_corrections([nb], "kto", tmp_path / "kto.jsonl", system="persona")
    assert (sft.records, sft.examples, kto.records, kto.examples) == (3, 3, 6, 3)
    sft_rows = load(tmp_path / "sft.jsonl", tmp_path)
    check_trainer_fields(sft_rows, "sft")
    origin = next(r for r in sft_rows if r["metadata"]["cell_id"] == "ask-origin")
    assert origin["messages"] == [
        {"role": "user", "content": PROMPT},
        {"role": "assistant", "content": AMENDED},
    ]
    kto_rows = load(tmp_path / "kto.jsonl", tmp_path)
    check_trainer_fields(kto_rows, "kto")
    report = [r for r in kto_rows if r["metadata"]["cell_id"] == "ask-report"]
    # The persona of the answer's mode leads the prompt as a system message.
    assert report[0]["prompt"][0] == {"role": "system", "content": persona_text("learning")}
    by_label = {r["label"]: r["completion"][0]["content"] for r in report}
    assert by_label[False] == REPORT_ANSWER
    assert by_label[True] != REPORT_ANSWER


def test_comments_and_answers_asked_again(tmp_path):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        collab_cell("with-answer", PROMPT, ANSWER),
        collab_cell("comment-only", "Cite the origin.", "It was Smith (2021)."),
        collab_cell("asked-again", "Who wrote it?", "Smith wrote it."),
    ]
    comment = CorrectionInput(operation="comment", text="this reference is invented")
    # A comment rewrites nothing, but the accepted amended answer was kept whole.
    context = correct(
        CollabContext(), notebook, "with-answer", "Smith et al.", comment, FACT, AMENDED
    )
    # A comment and no preview: nothing to prefer over the answer.
    context = correct(
        context,
        notebook,
        "comment-only",
        "Smith (2021)",
        comment,
        AmendmentDraft(kind="fact", text="The origin is Hubinger et al. (2019)."),
    )
    context = correct(
        context,
        notebook,
        "asked-again",
        "Smith",
        CorrectionInput(text="Hubinger"),
        AmendmentDraft(kind="fact", text="Hubinger wrote it."),
    )
    # The cell is answered again afterwards: the corrected answer is gone.
    asked_again = collab_cell("asked-again", "Who wrote it?", "Hubinger wrote it, in 2019.")
    _cell(notebook, "asked-again")["outputs"] = asked_again["outputs"]
    nb = save(tmp_path / "mixed.ipynb", notebook, context)

    summary = export_corrections([nb], "dpo", tmp_path / "out.jsonl")
    assert summary.examples == 1
    (report,) = summary.notebooks
    reasons = dict(report.skipped)
    assert len(reasons) == 2
    assert any("comment" in why for why in reasons.values())
    assert any("answered again" in why for why in reasons.values())
    (row,) = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert row["metadata"]["cell_id"] == "with-answer"
    assert row["metadata"]["correction"]["operation"] == "comment"
    assert row["chosen"][0]["content"] == AMENDED


def _embedded_only(tmp_path: Path) -> Path:
    """A corrected notebook as someone else shares it: the context inside, no sidecar."""
    nb = corrected_notebook(tmp_path / "shared.ipynb")
    LocalContextStore(nb).path.unlink()
    return nb


def test_untrusted_notebooks_export_nothing_without_the_flag(capsys, tmp_path):
    nb = _embedded_only(tmp_path)
    out = tmp_path / "out.jsonl"
    code, _, stderr = run(capsys, "export", nb, "--format", "sft", "-o", out)
    assert code == 1
    assert "not trusted" in stderr and "--include-untrusted" in stderr
    assert f"jupyter trust {nb}" in stderr
    assert "nothing was written" in stderr
    assert not out.exists()

    code, _, stderr = run(capsys, "export", nb, "--format", "sft", "-o", out, "--include-untrusted")
    assert code == 0, stderr
    assert "exported although not trusted" in stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 3 and {r["metadata"]["trusted"] for r in rows} == {False}

    # Trusted the way `jupyter trust` does it: exported without the flag.
    from nbformat.sign import NotebookNotary

    NotebookNotary().sign(nbformat.read(str(nb), as_version=4))
    code, _, stderr = run(capsys, "export", nb, "--format", "sft", "-o", out)
    assert code == 0, stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert {r["metadata"]["trusted"] for r in rows} == {True}


def test_folders_are_walked_without_checkpoints_or_hidden_folders(capsys, tmp_path):
    project = tmp_path / "project"
    (project / "week-1").mkdir(parents=True)
    nb = corrected_notebook(project / "week-1" / "analysis.ipynb")
    for hidden in (".ipynb_checkpoints", ".git"):
        (project / "week-1" / hidden).mkdir()
        shutil.copy(nb, project / "week-1" / hidden / "analysis-checkpoint.ipynb")
    # A copy elsewhere (a run's output, say) carries the same corrections.
    (project / "runs").mkdir()
    copy = project / "runs" / "analysis.ipynb"
    shutil.copy(nb, copy)
    shutil.copy(LocalContextStore(nb).path, LocalContextStore(copy).path)
    # The context's evidence (highlights, corrections) travels in its own folder.
    source_evidence = evidence_folder(LocalContextStore(nb).path)
    if source_evidence.is_dir():
        shutil.copytree(source_evidence, evidence_folder(LocalContextStore(copy).path))
    save(project / "plain.ipynb", nbformat.v4.new_notebook(), None)

    out = tmp_path / "out.jsonl"
    code, stdout, stderr = run(capsys, "export", project, nb, "--format", "dpo", "-o", out)
    assert code == 0, stderr
    assert "3 corrections from 1 notebook; 3 found in more than one notebook" in stdout
    notebooks = {json.loads(line)["metadata"]["notebook"] for line in out.read_text().splitlines()}
    assert len(notebooks) == 1 and "checkpoint" not in next(iter(notebooks))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["missing.ipynb"], "missing.ipynb: no such notebook or folder"),
        (["notes.txt"], "notes.txt: not a notebook (expected a .ipynb file or a folder)"),
        (["empty"], "empty: no notebooks (.ipynb files) in this folder"),
        (["broken.ipynb"], "broken.ipynb: not a valid notebook: invalid JSON at line 1"),
        (["plain.ipynb"], "no corrections to export from 1 notebook; nothing was written"),
        (["plain.ipynb", "-o", "plain.ipynb"], "plain.ipynb: the output is a notebook's"),
        (["plain.ipynb", "-o", "plain.collab.json"], "or a context file's name"),
        (["plain.ipynb", "-o", "nowhere/out.jsonl"], "the folder nowhere does not exist"),
        (["plain.ipynb", "--format", "csv"], "invalid choice: 'csv'"),
    ],
)
def test_bad_input_is_one_clear_error(capsys, tmp_path, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("not a notebook")
    (tmp_path / "empty").mkdir()
    (tmp_path / "broken.ipynb").write_text("{not json")
    save(tmp_path / "plain.ipynb", nbformat.v4.new_notebook(), None)
    out = tmp_path / "out.jsonl"
    out.write_text("kept\n")
    defaults = {"--format": "sft", "-o": str(out)}
    for flag, value in defaults.items():
        if flag not in argv:
            argv = [*argv, flag, value]
    code, _, stderr = run(capsys, "export", *argv)
    assert code == 1
    assert message in stderr
    assert out.read_text() == "kept\n", "a failed export leaves the output file alone"
