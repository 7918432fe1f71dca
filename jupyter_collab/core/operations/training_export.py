"""Corrections exported as training data: JSON Lines in the dataset shapes Hugging
Face TRL's trainers read, conversational form.

* ``sft`` (``SFTTrainer``, conversational language modeling): ``messages``, the
  prompt then the chosen answer as the assistant's turn;
* ``dpo`` (``DPOTrainer``, preference with an explicit prompt): ``prompt`` (a list
  of messages), ``chosen`` and ``rejected`` (each one assistant message);
* ``kto`` (``KTOTrainer``, unpaired preference): ``prompt``, ``completion`` (one
  assistant message) and a boolean ``label``: two records per correction, the
  chosen answer labelled true and the rejected one false.

Every record has a ``metadata`` column (``training_examples.ExampleMetadata``:
the span, the correction, the amendment, provenance). The prompt is the cell's
prompt alone (one turn): earlier collaborator turns and the constitution are not
included, so the model learns the corrected answer itself. ``system="persona"``
adds the collaborator persona of the answer's mode as a system message.

Trust follows the rule every door applies: a context that came inside a notebook
(entries only its embedded copy holds) and that nobody accepted on this machine
(no ``jupyter trust``, no ``jupyter collab context import``) is not used, so a
notebook carrying one exports nothing unless ``include_untrusted`` is set.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..context_format import is_sidecar_path
from ..errors import InvalidRequestError, NotFoundError
from ..local_files import atomic_write_text
from ..notebook import check_notebook, parse_notebook_json, read_notebook_text, reconcile
from ..notebook import shared_context as embedded_context
from ..personas import persona_text
from ..store import LocalContextStore
from ..trust import is_text_trusted
from .training_examples import CorrectionExample, NotebookExamples, notebook_examples

Format = Literal["sft", "dpo", "kto"]
FORMATS: tuple[Format, ...] = ("sft", "dpo", "kto")
SystemMessage = Literal["none", "persona"]
CHECKPOINTS = ".ipynb_checkpoints"


@dataclass
class NotebookReport:
    path: Path
    examples: int = 0
    #: ``(correction id, why it gave no record)``
    skipped: list[tuple[str, str]] = field(default_factory=list)
    #: Entries of its context only the copy embedded in the notebook holds, which
    #: nobody accepted here; non-zero means the notebook is untrusted.
    unreviewed_entries: int = 0
    #: Whether its records were left out for that reason.
    excluded_untrusted: bool = False


@dataclass
class ExportSummary:
    format: Format
    records: int
    examples: int
    #: Corrections found in more than one notebook (a copy carries its context), written once.
    duplicates: int
    notebooks: list[NotebookReport]
    #: How many notebooks the records written come from.
    sources: int
    #: Where the records were written; ``None`` when there was nothing to write.
    output: Path | None


def find_notebooks(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """The notebooks named, and those under the folders named (checkpoints and hidden
    folders left out), each once, in a stable order."""
    if not paths:
        raise InvalidRequestError("name at least one notebook or folder to export")
    found: dict[Path, Path] = {}
    for given in paths:
        path = Path(given)
        if path.is_dir():
            under = _notebooks_under(path)
            if not under:
                raise NotFoundError(f"{path}: no notebooks (.ipynb files) in this folder")
            for notebook in under:
                found.setdefault(notebook.resolve(), notebook)
        elif path.exists():
            if path.suffix != ".ipynb":
                raise InvalidRequestError(
                    f"{path}: not a notebook (expected a .ipynb file or a folder)"
                )
            found.setdefault(path.resolve(), path)
        else:
            raise NotFoundError(f"{path}: no such notebook or folder")
    return list(found.values())


def _notebooks_under(folder: Path) -> list[Path]:
    notebooks: list[Path] = []
    for root, folders, files in os.walk(folder):
        # Checkpoints are older copies of the notebooks beside them; hidden folders
        # (.git, virtualenvs) hold nobody's work.
        folders[:] = sorted(f for f in folders if f != CHECKPOINTS and not f.startswith("."))
        notebooks.extend(Path(root) / name for name in sorted(files) if name.endswith(".ipynb"))
    return notebooks


def read_examples(path: Path, *, include_untrusted: bool) -> tuple[NotebookExamples, int]:
    """The examples of the notebook at ``path`` and how many of its context's entries
    nobody accepted on this machine (none are exported then, unless ``include_untrusted``).

    A notebook or context file that cannot be read raises the error naming it.
    """
    text = read_notebook_text(path)
    notebook = check_notebook(path, parse_notebook_json(path, text))
    sidecar = LocalContextStore(path).load()
    embedded = embedded_context(notebook, str(path), has_sidecar=sidecar is not None)
    if sidecar is None and embedded is None:
        return NotebookExamples(), 0
    reconciled = reconcile(sidecar, embedded)
    unreviewed = 0
    if reconciled.embedded_only_ids and not is_text_trusted(text):
        unreviewed = len(reconciled.embedded_only_ids)
    if unreviewed and not include_untrusted:
        return NotebookExamples(), unreviewed
    found = notebook_examples(
        notebook, reconciled.context, source=str(path), trusted=unreviewed == 0
    )
    return found, unreviewed


def _prompt(example: CorrectionExample, system: SystemMessage) -> list[dict[str, str]]:
    messages = []
    if system == "persona":
        messages.append({"role": "system", "content": persona_text(example.metadata.mode)})
    messages.append({"role": "user", "content": example.prompt})
    return messages


def _assistant(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


def training_records(
    example: CorrectionExample, fmt: Format, *, system: SystemMessage = "none"
) -> list[dict[str, Any]]:
    """The records of one example in ``fmt``."""
    prompt = _prompt(example, system)
    metadata = example.metadata.model_dump(mode="json")
    if fmt == "sft":
        return [{"messages": prompt + _assistant(example.chosen), "metadata": metadata}]
    if fmt == "dpo":
        return [
            {
                "prompt": prompt,
                "chosen": _assistant(example.chosen),
                "rejected": _assistant(example.rejected),
                "metadata": metadata,
            }
        ]
    if fmt == "kto":
        return [
            {"prompt": prompt, "completion": _assistant(text), "label": label, "metadata": metadata}
            for text, label in ((example.chosen, True), (example.rejected, False))
        ]
    raise InvalidRequestError(f"unknown format {fmt!r}: expected one of {', '.join(FORMATS)}")


def _check_output(output: Path) -> None:
    if output.suffix == ".ipynb" or is_sidecar_path(str(output)):
        raise InvalidRequestError(
            f"{output}: the output is a notebook's or a context file's name; name a .jsonl file"
        )
    if output.is_dir():
        raise InvalidRequestError(f"{output}: is a folder; name a .jsonl file to write")
    folder = output.parent
    if not folder.is_dir():
        raise NotFoundError(f"{output}: the folder {folder} does not exist")


def _unique(examples: list[CorrectionExample]) -> list[CorrectionExample]:
    """Each correction once: an executed or copied notebook carries the same context
    and answers, so its corrections would otherwise be exported twice. The copy from
    a trusted notebook is kept over one from an untrusted notebook."""
    kept: dict[tuple[str, str, str], CorrectionExample] = {}
    for example in examples:
        meta = example.metadata
        key = (meta.correction.id, meta.rejected_hash, meta.chosen_hash)
        if key not in kept or (meta.trusted and not kept[key].metadata.trusted):
            kept[key] = example
    return list(kept.values())


def export_corrections(
    paths: Sequence[str | os.PathLike[str]],
    fmt: Format,
    output: str | os.PathLike[str],
    *,
    include_untrusted: bool = False,
    system: SystemMessage = "none",
) -> ExportSummary:
    """Write the corrections of the notebooks in ``paths`` to ``output`` as ``fmt``
    records (JSON Lines, written atomically). Nothing is written when no correction
    gives a record; the summary says why for each notebook."""
    if fmt not in FORMATS:
        raise InvalidRequestError(f"unknown format {fmt!r}: expected one of {', '.join(FORMATS)}")
    target = Path(output)
    _check_output(target)
    reports: list[NotebookReport] = []
    examples: list[CorrectionExample] = []
    for path in find_notebooks(paths):
        found, unreviewed = read_examples(path, include_untrusted=include_untrusted)
        reports.append(
            NotebookReport(
                path=path,
                examples=len(found.examples),
                skipped=found.skipped,
                unreviewed_entries=unreviewed,
                excluded_untrusted=bool(unreviewed) and not include_untrusted,
            )
        )
        examples.extend(found.examples)
    unique = _unique(examples)
    lines = [
        json.dumps(record, ensure_ascii=False)
        for example in unique
        for record in training_records(example, fmt, system=system)
    ]
    written = None
    if lines:
        atomic_write_text(target, "\n".join(lines) + "\n")
        written = target
    return ExportSummary(
        format=fmt,
        records=len(lines),
        examples=len(unique),
        duplicates=len(examples) - len(unique),
        notebooks=reports,
        sources=len({example.metadata.notebook for example in unique}),
        output=written,
    )
