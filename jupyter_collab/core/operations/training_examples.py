"""The corrections of one notebook as training examples: a prompt, the answer as
it was (rejected) and the answer the researcher wanted (chosen).

Where each part comes from:

* the correction, and the span it applies to, from the notebook's context (its
  ``corrections`` and their ``highlights``);
* the prompt and the answer as it was, from the collaborator cell the highlight
  names: its stored output (the prompt as the model got it, ``{name}`` values
  filled). The answer must be the one that was highlighted: the highlight keeps
  its hash, so an answer asked again since is never paired with a correction
  made on another;
* the chosen answer: the amended answer to that same prompt that the preview
  produced and the researcher accepted with the amendment made from this
  correction, when the amendment is in force and its stored text is the whole
  answer (the hash tells: contexts written before the evidence kept the prompt's
  amended answer whole have only its first 280 characters); otherwise the answer
  with the correction applied to its span (``corrected_answer.py``).

Pure: no file system, no model. Each correction that gives no example is
listed with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from ..context_model import (
    Amendment,
    AmendmentKind,
    AmendmentStatus,
    CollabContext,
    Correction,
    CorrectionOperation,
    Highlight,
    Mode,
    ProbeKind,
)
from ..hashing import sha256_text
from ..notebook import is_collab_cell
from ..outputs import CollabOutput, find_cell_output
from .corrected_answer import corrected_answer

ChosenFrom = Literal["amended_answer", "corrected_span"]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SpanRecord(_Record):
    """The highlighted span of the rejected answer, in code points."""

    start: int
    end: int
    text: str


class CorrectionRecord(_Record):
    id: str
    operation: CorrectionOperation
    text: str
    rationale: str
    origin: Literal["ai", "user"]
    created: datetime


class AmendmentRecord(_Record):
    id: str
    kind: AmendmentKind
    text: str
    status: AmendmentStatus
    created: datetime
    updated: datetime


class ExampleMetadata(_Record):
    """What a training record says about where it came from."""

    notebook: str
    cell_id: str
    provider: str
    model: str
    response_id: str
    mode: Mode
    answered: datetime
    highlighted: datetime
    span: SpanRecord
    correction: CorrectionRecord
    amendment: AmendmentRecord | None
    chosen_from: ChosenFrom
    rejected_hash: str
    chosen_hash: str
    trusted: bool


@dataclass(frozen=True)
class CorrectionExample:
    prompt: str
    rejected: str
    chosen: str
    metadata: ExampleMetadata


@dataclass
class NotebookExamples:
    examples: list[CorrectionExample] = field(default_factory=list)
    #: ``(correction id, why it gave no example)``
    skipped: list[tuple[str, str]] = field(default_factory=list)


def _collab_outputs(notebook: dict[str, Any]) -> dict[str, CollabOutput | None]:
    """Each collaborator cell's stored answer (``None`` when it has none), by cell id."""
    found: dict[str, CollabOutput | None] = {}
    for cell in notebook.get("cells") or []:
        if isinstance(cell, dict) and is_collab_cell(cell) and isinstance(cell.get("id"), str):
            found[cell["id"]] = find_cell_output(cell)
    return found


def _amendment_of(context: CollabContext, correction: Correction) -> Amendment | None:
    """The amendment finalized from ``correction`` (the newest, if several were)."""
    made = [a for a in context.amendments if a.provenance.correction_id == correction.id]
    return made[-1] if made else None


def accepted_answer(amendment: Amendment, prompt: str) -> str | None:
    """The amended answer to ``prompt`` that ``amendment`` was accepted on, when the
    amendment is in force and the context kept that answer whole."""
    if amendment.status != AmendmentStatus.accepted:
        return None
    for result in amendment.preview:
        # The doors send the cell's prompt as the original probe (stripped).
        if result.probe_kind != ProbeKind.original or result.probe.strip() != prompt.strip():
            continue
        text = result.amended_text
        if text is not None and sha256_text(text) == result.amended_hash:
            return text
    return None


def _amendment_record(amendment: Amendment | None) -> AmendmentRecord | None:
    if amendment is None:
        return None
    return AmendmentRecord(
        id=amendment.id,
        kind=amendment.kind,
        text=amendment.text,
        status=amendment.status,
        created=amendment.created,
        updated=amendment.updated,
    )


def _correction_record(correction: Correction) -> CorrectionRecord:
    return CorrectionRecord(
        id=correction.id,
        operation=correction.operation,
        text=correction.text,
        rationale=correction.rationale,
        origin=correction.origin,
        created=correction.created,
    )


def _example(
    correction: Correction,
    highlight: Highlight,
    output: CollabOutput,
    amendment: Amendment | None,
    *,
    source: str,
    trusted: bool,
) -> CorrectionExample | str:
    """The example of one correction, or why there is none."""
    result = output.result
    answer = result.answer
    if highlight.answer_hash is not None and sha256_text(answer) != highlight.answer_hash:
        return (
            f"cell {highlight.cell_id} was answered again after the correction: the "
            "highlighted answer is no longer in the notebook"
        )
    corrected = corrected_answer(answer, highlight, correction)
    placement = corrected.placement
    if placement.start is None or placement.end is None:
        return f"the highlighted span is no longer in the answer of cell {highlight.cell_id}"
    chosen = accepted_answer(amendment, result.prompt) if amendment is not None else None
    chosen_from: ChosenFrom = "amended_answer"
    if chosen is None:
        chosen, chosen_from = corrected.text, "corrected_span"
    if chosen is None:
        return (
            "a comment, which does not rewrite the answer, and no accepted amended answer "
            "was kept whole"
        )
    if chosen == answer:
        return "the correction leaves the answer unchanged"
    metadata = ExampleMetadata(
        notebook=source,
        cell_id=str(highlight.cell_id),
        provider=result.provider,
        model=result.model,
        response_id=result.response_id,
        mode=result.mode,
        answered=result.created,
        highlighted=highlight.created,
        span=SpanRecord(
            start=placement.start, end=placement.end, text=answer[placement.start : placement.end]
        ),
        correction=_correction_record(correction),
        amendment=_amendment_record(amendment),
        chosen_from=chosen_from,
        rejected_hash=sha256_text(answer),
        chosen_hash=sha256_text(chosen),
        trusted=trusted,
    )
    return CorrectionExample(
        prompt=result.prompt, rejected=answer, chosen=chosen, metadata=metadata
    )


def notebook_examples(
    notebook: dict[str, Any], context: CollabContext, *, source: str, trusted: bool
) -> NotebookExamples:
    """Every correction of ``context`` made on an answer of ``notebook``, as an example."""
    found = NotebookExamples()
    outputs = _collab_outputs(notebook)
    highlights = {h.id: h for h in context.highlights}
    for correction in context.corrections:
        highlight = highlights.get(correction.highlight_id or "")
        if highlight is None:
            found.skipped.append((correction.id, "no highlighted span is recorded for it"))
            continue
        if highlight.cell_id not in outputs:
            found.skipped.append(
                (correction.id, f"its cell {highlight.cell_id} is not in the notebook")
            )
            continue
        output = outputs[str(highlight.cell_id)]
        if output is None:
            found.skipped.append((correction.id, f"cell {highlight.cell_id} has no answer"))
            continue
        example = _example(
            correction,
            highlight,
            output,
            _amendment_of(context, correction),
            source=source,
            trusted=trusted,
        )
        if isinstance(example, str):
            found.skipped.append((correction.id, example))
        else:
            found.examples.append(example)
    return found
