"""Propose amendments of the notebook's constitution from a chosen correction."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from ..context_model import Amendment, AmendmentKind, AmendmentStatus, CollabContext
from ..errors import InvalidRequestError
from ..operation_models import CorrectionInput, HighlightInput, ProposedAmendment
from .common import OpsClient, OpsResponse, clip, marked_answer, similarity, with_max_items

MAX_PROPOSALS = 5
#: Normalized texts at least this similar are duplicates, whatever the model says.
DUPLICATE_RATIO = 0.9
MAX_LISTED_ENTRIES = 60

SYSTEM = """\
You help a researcher turn a correction of an AI answer into an amendment of their \
notebook's constitution: a short instruction the assistant will follow in every later \
answer of this notebook.

Each amendment has:
- kind: "fact" for object-level knowledge (the right citation, a definition, a value, a \
name) or "process" for how to work (verbosity, format, tone, asking before writing, \
which tools or methods to use);
- text: the amendment itself, one or two sentences, general enough to apply to later \
prompts but no broader than the correction supports;
- rationale: one short sentence linking it to the correction;
- duplicates: ids of existing entries that already say the same thing ([] if none);
- contradicts: ids of existing entries that it conflicts with ([] if none).

Do not repeat existing entries; if the only sensible amendment repeats or contradicts \
one, still give it and list that entry's id."""


EntryRef = Annotated[str, Field(max_length=64)]


class _Proposal(OpsResponse):
    kind: Literal["fact", "process"]
    text: str = Field(min_length=1, max_length=300)
    rationale: str = Field(max_length=160)
    duplicates: list[EntryRef] = Field(max_length=3)
    contradicts: list[EntryRef] = Field(max_length=3)


class AmendmentsResponse(OpsResponse):
    amendments: list[_Proposal] = Field(min_length=1, max_length=MAX_PROPOSALS)

    @field_validator("amendments")
    @classmethod
    def _usable(cls, value: list[_Proposal]) -> list[_Proposal]:
        usable = [p for p in value if p.text.strip()]
        if not usable:
            raise ValueError("every proposed amendment has an empty text")
        return usable


def existing_entries(context: CollabContext | None) -> list[Amendment]:
    """The entries a proposal is checked against: everything not superseded."""
    if context is None:
        return []
    return [a for a in context.amendments if a.status != AmendmentStatus.superseded]


def _entries_block(entries: list[Amendment]) -> str:
    if not entries:
        return "The constitution has no entries yet."
    lines = []
    for entry in entries[-MAX_LISTED_ENTRIES:]:
        state = "" if entry.enabled else f", {entry.status.value}"
        lines.append(f"[{entry.id}] ({entry.kind.value}{state}) {clip(entry.text.strip(), 400)}")
    return "Existing entries of the constitution:\n" + "\n".join(lines)


def build_prompt(
    highlight: HighlightInput,
    correction: CorrectionInput,
    entries: list[Amendment],
    n: int,
) -> str:
    parts = []
    if highlight.prompt.strip():
        parts.append(f"The researcher asked:\n{clip(highlight.prompt.strip(), 2000)}")
    start = highlight.answer.find(highlight.quote.exact)
    if highlight.answer[highlight.position.start : highlight.position.end] == highlight.quote.exact:
        start = highlight.position.start
    end = start + len(highlight.quote.exact) if start >= 0 else 0
    marked = marked_answer(highlight.answer, max(start, 0), end)
    parts.append(f"The answer, with the highlighted span in [[ ]]:\n{marked}")
    what = {
        "replace": f"replace the span with: {correction.text!r}",
        "delete": "delete the span",
        "insert": f"insert after the span: {correction.text!r}",
        "comment": f"comment: {correction.text!r}",
    }[correction.operation.value]
    line = f"The researcher's correction: {what}"
    if correction.why.strip():
        line += f"\nWhy: {correction.why.strip()}"
    parts.append(line)
    parts.append(_entries_block(entries))
    parts.append(f"Propose up to {n} amendments.")
    return "\n\n".join(parts)


def repeats(text: str, entries: list[Amendment]) -> list[str]:
    """The ids of ``entries`` (not superseded) that say the same as ``text``:
    normalized texts at least ``DUPLICATE_RATIO`` similar. The check every new
    entry gets: a proposal, a promoted or imported entry, a layer against another."""
    return [
        entry.id
        for entry in entries
        if entry.status != AmendmentStatus.superseded
        and similarity(text, entry.text) >= DUPLICATE_RATIO
    ]


def flag_duplicates(
    proposals: list[ProposedAmendment], entries: list[Amendment]
) -> list[ProposedAmendment]:
    """Add the ids of near-identical existing entries to each proposal's ``duplicates``."""
    flagged = []
    for proposal in proposals:
        duplicates = list(proposal.duplicates)
        duplicates += [i for i in repeats(proposal.text, entries) if i not in duplicates]
        flagged.append(proposal.model_copy(update={"duplicates": duplicates}))
    return flagged


async def propose_amendments(
    ops: OpsClient,
    highlight: HighlightInput,
    correction: CorrectionInput,
    context: CollabContext | None,
    n: int = 3,
) -> list[ProposedAmendment]:
    """Up to ``n`` candidate amendments; ones that repeat or contradict the
    constitution are flagged (``duplicates``/``contradicts``) and listed last."""
    if not 1 <= n <= MAX_PROPOSALS:
        raise InvalidRequestError(f"n must be between 1 and {MAX_PROPOSALS}, not {n}")
    if correction.operation.value != "delete" and not correction.text.strip():
        raise InvalidRequestError("the correction has no text")
    entries = existing_entries(context)
    known = {entry.id for entry in entries}
    response = await ops.structured(
        SYSTEM,
        build_prompt(highlight, correction, entries, n),
        with_max_items(AmendmentsResponse, (("amendments", 1, n),)),
        name="propose_amendments",
        description="Candidate amendments of the notebook's constitution.",
    )
    proposals: list[ProposedAmendment] = []
    for item in response.amendments:
        text = item.text.strip()
        if any(similarity(text, earlier.text) >= DUPLICATE_RATIO for earlier in proposals):
            continue
        proposals.append(
            ProposedAmendment(
                kind=AmendmentKind(item.kind),
                text=text,
                rationale=item.rationale.strip(),
                # The model may name ids that do not exist: keep only real ones.
                duplicates=_known(item.duplicates, known),
                contradicts=_known(item.contradicts, known),
            )
        )
    proposals = flag_duplicates(proposals, entries)
    proposals.sort(key=lambda p: bool(p.duplicates or p.contradicts))  # stable
    return proposals[:n]


def _known(ids: list[str], known: set[str]) -> list[str]:
    result: list[str] = []
    for raw in ids:
        entry_id = raw.strip().strip("[]")
        if entry_id in known and entry_id not in result:
            result.append(entry_id)
    return result
