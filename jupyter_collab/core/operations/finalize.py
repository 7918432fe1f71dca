"""Finalize an amendment: add it to the context with its full provenance.

Pure: returns a NEW context holding the highlight, the correction and the
amendment (status accepted), with the preview results; the door saves it with
the revision check.
"""

from __future__ import annotations

from ..context_model import (
    MAX_ACCEPTED_ANSWER,
    MAX_ENTRY_TEXT,
    MAX_QUOTE_TEXT,
    MAX_STORED_ANSWER,
    Amendment,
    AmendmentStatus,
    CollabContext,
    Correction,
    Highlight,
    PreviewResult,
    ProbeKind,
    Provenance,
)
from ..errors import InvalidRequestError
from ..hashing import sha256_text
from ..operation_models import AmendmentDraft, CorrectionInput, HighlightInput, PreviewReport
from .checks import accepted_measures
from .common import clip
from .entries import Source, find_duplicate


def _same_draft(a: AmendmentDraft, b: AmendmentDraft) -> bool:
    return a.kind == b.kind and a.text.strip() == b.text.strip()


def _kept_length(kind: ProbeKind) -> int:
    return MAX_ACCEPTED_ANSWER if kind == ProbeKind.original else MAX_STORED_ANSWER


def preview_results(report: PreviewReport) -> list[PreviewResult]:
    """What the amendment is accepted on, per probe: the prompt and its kind, the
    verdict, both answers' hashes, the amended answer (whole for the prompt the
    amendment came from, its start for other probes) and the deterministic
    measures the check compares against later."""
    draft = report.amendment
    results = []
    for outcome in report.outcomes[:200]:
        measures = accepted_measures(draft.kind, draft.text, outcome.baseline, outcome.amended)
        if outcome.noise is not None:
            measures["word_change"] = outcome.noise.amended_change
            measures["baseline_spread"] = outcome.noise.baseline_spread
        results.append(
            PreviewResult(
                probe=clip(outcome.probe.prompt, MAX_QUOTE_TEXT),
                probe_kind=outcome.probe.kind,
                baseline_hash=outcome.baseline_hash,
                amended_hash=outcome.amended_hash,
                verdict=outcome.verdict,
                reason=clip(outcome.reason, MAX_ENTRY_TEXT),
                amended_text=clip(outcome.amended, _kept_length(outcome.probe.kind)),
                measures=measures,
            )
        )
    return results


def _correction_summary(correction: CorrectionInput) -> str:
    if correction.operation.value == "delete":
        return "delete the span" + (f": {correction.text}" if correction.text else "")
    return correction.text


def finalize(
    context: CollabContext,
    draft: AmendmentDraft,
    *,
    highlight: HighlightInput | None = None,
    correction: CorrectionInput | None = None,
    report: PreviewReport | None = None,
    cell_id: str | None = None,
    source: Source = "loop",
) -> tuple[CollabContext, Amendment]:
    """The context with the amendment accepted, and the new amendment."""
    text = draft.text.strip()
    if not text:
        raise InvalidRequestError("the amendment text is empty")
    if report is not None and not _same_draft(report.amendment, draft):
        raise InvalidRequestError(
            "the preview was run for a different amendment text; preview the revised "
            "amendment before finalizing it"
        )
    existing = find_duplicate(context, text)
    if existing is not None:
        raise InvalidRequestError(
            f"amendment {existing.id} already says this ({existing.status.value}); "
            "edit or enable that entry instead"
        )

    updated = context.editable_copy()
    cell = cell_id or (highlight.cell_id if highlight is not None else None)
    stored_highlight: Highlight | None = None
    if highlight is not None:
        stored_highlight = Highlight(
            cell_id=cell,
            response_id=highlight.response_id,
            answer_hash=sha256_text(highlight.answer),
            position=highlight.position,
            quote=highlight.quote,
        )
        updated.highlights.append(stored_highlight)
    stored_correction: Correction | None = None
    if correction is not None:
        stored_correction = Correction(
            highlight_id=stored_highlight.id if stored_highlight else None,
            operation=correction.operation,
            text=correction.text,
            rationale=correction.why,
            origin=correction.origin,
            rank=correction.rank,
        )
        updated.corrections.append(stored_correction)

    provenance = Provenance(
        cell_id=cell,
        response_id=highlight.response_id if highlight is not None else None,
        highlight_id=stored_highlight.id if stored_highlight else None,
        correction_id=stored_correction.id if stored_correction else None,
        quote=highlight.quote.exact if highlight is not None else None,
        correction=_correction_summary(correction) if correction is not None else None,
        prompt=clip(highlight.prompt, MAX_QUOTE_TEXT)
        if highlight is not None and highlight.prompt
        else None,
        source=source,
    )
    amendment = Amendment(
        kind=draft.kind,
        text=text,
        status=AmendmentStatus.accepted,
        rationale=draft.rationale.strip(),
        provenance=provenance,
        preview=preview_results(report) if report is not None else [],
        preview_model=report.model if report is not None else None,
    )
    updated.amendments.append(amendment)
    return updated, amendment
