"""The output a collaborator cell leaves in the notebook.

Both doors write exactly this bundle, so a notebook saved in JupyterLab replays
headless and vice versa:

* ``application/vnd.jupyter.collab+json``: the :class:`CompletionResult` plus
  the highlights (with their corrections) anchored on the answer;
* ``text/markdown`` and ``text/html`` fallbacks, so GitHub, nbviewer, VS Code
  and nbconvert HTML show the answer and its annotations;
* output ``metadata.jupyter_collab``: the provenance (input hash, context
  revision and hash, model, response id).
"""

from __future__ import annotations

import html
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .context_model import Amendment, CollabContext, Correction, Highlight
from .operation_models import CompletionResult

MIME_TYPE = "application/vnd.jupyter.collab+json"


class AnnotatedHighlight(BaseModel):
    highlight: Highlight
    corrections: list[Correction] = Field(default_factory=list)
    amendment_ids: list[str] = Field(default_factory=list)


class CollabOutput(BaseModel):
    """The payload of the project's MIME type."""

    result: CompletionResult
    highlights: list[AnnotatedHighlight] = Field(default_factory=list)
    version: int = 1


class OutputProvenance(BaseModel):
    """The provenance stored in the output's ``metadata.jupyter_collab``."""

    input_hash: str
    answer_hash: str
    context_revision: int
    context_hash: str
    provider: str
    model: str
    response_id: str


class CollabOutputData(BaseModel):
    """The output's MIME bundle (other MIME types may sit beside these)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, serialize_by_alias=True)

    payload: CollabOutput = Field(alias=MIME_TYPE)
    markdown: str = Field(alias="text/markdown")
    html: str = Field(alias="text/html")


class CollabOutputMetadata(BaseModel):
    model_config = ConfigDict(extra="allow")

    jupyter_collab: OutputProvenance


class CollabDisplayData(BaseModel):
    """The nbformat ``display_data`` output both doors write for an answer."""

    output_type: Literal["display_data"] = "display_data"
    data: CollabOutputData
    metadata: CollabOutputMetadata


def provenance(result: CompletionResult) -> OutputProvenance:
    return OutputProvenance(
        input_hash=result.input_hash,
        answer_hash=result.answer_hash,
        context_revision=result.context_revision,
        context_hash=result.context_hash,
        provider=result.provider,
        model=result.model,
        response_id=result.response_id,
    )


def _usage_line(result: CompletionResult) -> str:
    usage = result.usage
    parts = [f"{result.model}", f"{usage.total_input_tokens} in / {usage.output_tokens} out"]
    if usage.cache_read_input_tokens:
        parts.append(f"{usage.cache_read_input_tokens} from cache")
    parts.append(f"context r{result.context_revision}")
    return " · ".join(parts)


def _markdown(output: CollabOutput) -> str:
    text = output.result.answer
    notes = []
    for item in output.highlights:
        quote = item.highlight.quote.exact.replace("\n", " ")
        for correction in item.corrections:
            what = correction.text or correction.operation.value
            notes.append(f"> **Correction** on “{quote}” ({correction.operation.value}): {what}")
        if not item.corrections:
            notes.append(f"> **Highlighted:** “{quote}”")
    footer = f"\n\n<sub>{html.escape(_usage_line(output.result))}</sub>"
    return text + ("\n\n" + "\n>\n".join(notes) if notes else "") + footer


def _html(output: CollabOutput) -> str:
    answer = output.result.answer
    spans = sorted(
        (
            (h.highlight.position.start, h.highlight.position.end, h)
            for h in output.highlights
            if 0 <= h.highlight.position.start < h.highlight.position.end <= len(answer)
            and answer[h.highlight.position.start : h.highlight.position.end]
            == h.highlight.quote.exact
        ),
        key=lambda item: item[0],
    )
    pieces: list[str] = []
    cursor = 0
    notes: list[str] = []
    for start, end, item in spans:
        if start < cursor:  # overlapping highlights: the first one wins in the fallback
            continue
        pieces.append(html.escape(answer[cursor:start]))
        title = "; ".join(c.text or c.operation.value for c in item.corrections) or "highlighted"
        number = len(notes) + 1
        pieces.append(
            f'<mark class="jp-collab-highlight" title="{html.escape(title, quote=True)}">'
            f"{html.escape(answer[start:end])}</mark><sup>{number}</sup>"
        )
        notes.append(f"<li>{html.escape(title)}</li>")
        cursor = end
    pieces.append(html.escape(answer[cursor:]))
    body = "".join(pieces)
    notes_html = f'<ol class="jp-collab-notes">{"".join(notes)}</ol>' if notes else ""
    return (
        '<div class="jp-collab-output">'
        f'<div class="jp-collab-answer" style="white-space: pre-wrap">{body}</div>'
        f"{notes_html}"
        f'<div class="jp-collab-usage"><small>{html.escape(_usage_line(output.result))}'
        "</small></div></div>"
    )


def build_display(output: CollabOutput) -> CollabDisplayData:
    """The display output of an answer, as a model."""
    return CollabDisplayData(
        data=CollabOutputData(payload=output, markdown=_markdown(output), html=_html(output)),
        metadata=CollabOutputMetadata(jupyter_collab=provenance(output.result)),
    )


def build_output(output: CollabOutput) -> dict[str, Any]:
    """An nbformat ``display_data`` output dict."""
    return build_display(output).model_dump(mode="json")


def build_bundle(output: CollabOutput) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return ``(data, metadata)`` of the display output."""
    built = build_output(output)
    return built["data"], built["metadata"]


def annotation_for(context: CollabContext, amendment: Amendment) -> AnnotatedHighlight | None:
    """The highlight a finalized ``amendment`` came from, with its corrections."""
    highlight_id = amendment.provenance.highlight_id
    highlight = next((h for h in context.highlights if h.id == highlight_id), None)
    if highlight is None:
        return None
    return AnnotatedHighlight(
        highlight=highlight,
        corrections=[c for c in context.corrections if c.highlight_id == highlight.id],
        amendment_ids=[amendment.id],
    )


def with_annotation(output: CollabOutput, annotation: AnnotatedHighlight) -> CollabOutput:
    """``output`` with ``annotation`` added, or merged into the entry of the same highlight."""
    highlights = list(output.highlights)
    for index, item in enumerate(highlights):
        if item.highlight.id == annotation.highlight.id:
            ids = list(dict.fromkeys([*item.amendment_ids, *annotation.amendment_ids]))
            highlights[index] = annotation.model_copy(update={"amendment_ids": ids})
            break
    else:
        highlights.append(annotation)
    return output.model_copy(update={"highlights": highlights})


def _on_answer(highlight: Highlight, output: CollabOutput) -> bool:
    """Whether ``highlight`` was made on the answer ``output`` holds."""
    result = output.result
    return (
        highlight.response_id is not None
        and highlight.response_id == result.response_id
        and highlight.answer_hash in (None, result.answer_hash)
    )


def annotated_display(
    payload: dict[str, Any], context: CollabContext, amendment: Amendment
) -> CollabDisplayData | None:
    """The display output of an answer (its raw MIME payload) once ``amendment`` is
    finalized on it: the amendment's highlight shown on the answer and in the
    fallbacks. ``None`` when the payload is damaged or the amendment has no highlight.

    The highlights of the context's other amendments finalized on the same answer
    are added too when the payload lacks them: under real-time collaboration two
    people can finalize on one answer at once, and the payload one of them sends
    may predate the other's highlight reaching the shared notebook."""
    annotation = annotation_for(context, amendment)
    output = read_output({"data": {MIME_TYPE: payload}})
    if annotation is None or output is None:
        return None
    shown = {item.highlight.id for item in output.highlights}
    for other in context.amendments:
        if other.id == amendment.id:
            continue
        other_annotation = annotation_for(context, other)
        if (
            other_annotation is not None
            and other_annotation.highlight.id not in shown
            and _on_answer(other_annotation.highlight, output)
        ):
            output = with_annotation(output, other_annotation)
            shown.add(other_annotation.highlight.id)
    return build_display(with_annotation(output, annotation))


def read_output(nb_output: dict[str, Any]) -> CollabOutput | None:
    """The collab payload of one nbformat output, or ``None`` if it has none or is damaged."""
    data = nb_output.get("data") or {}
    payload = data.get(MIME_TYPE)
    if payload is None:
        return None
    try:
        return CollabOutput.model_validate(payload)
    except ValidationError:
        return None


def find_cell_output(cell: dict[str, Any]) -> CollabOutput | None:
    for nb_output in cell.get("outputs") or []:
        found = read_output(nb_output)
        if found is not None:
            return found
    return None
