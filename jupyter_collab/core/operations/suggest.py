"""Suggest corrections for a highlighted span of an answer."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from ..assembly import render_constitution
from ..context_model import CollabContext, CorrectionOperation
from ..errors import InvalidRequestError
from ..operation_models import HighlightInput, SuggestedCorrection
from .common import OpsClient, OpsResponse, clip, marked_answer, with_max_items

MAX_SUGGESTIONS = 5

SYSTEM = """\
You review an AI assistant's answer together with a researcher. The researcher \
highlighted a span of the answer (between [[ and ]]) because it is wrong or unhelpful. \
Suggest corrections for that span only.

Each correction has:
- operation: "replace" (text is the new wording of the span), "delete" (remove the \
span; text is empty), "insert" (text is added right after the span) or "comment" \
(text says what is wrong, when you cannot fix it yourself);
- text: the replacement, insertion or comment, short;
- why: one short sentence saying what was wrong.

Give distinct alternatives, best first. Never invent citations or facts you are unsure of: \
prefer a "comment" then."""


class _Suggestion(OpsResponse):
    operation: Literal["replace", "delete", "insert", "comment"]
    text: str = Field(max_length=300)
    why: str = Field(max_length=160)


class SuggestionsResponse(OpsResponse):
    suggestions: list[_Suggestion] = Field(min_length=1, max_length=MAX_SUGGESTIONS)

    @field_validator("suggestions")
    @classmethod
    def _usable(cls, value: list[_Suggestion]) -> list[_Suggestion]:
        usable = [s for s in value if s.operation == "delete" or s.text.strip()]
        if not usable:
            raise ValueError("every suggestion has an empty text")
        return usable


def build_prompt(highlight: HighlightInput, n: int, context: CollabContext | None) -> str:
    parts = []
    if highlight.prompt.strip():
        parts.append(f"The researcher asked:\n{clip(highlight.prompt.strip(), 2000)}")
    start, end = highlight.position.start, highlight.position.end
    if highlight.answer[start:end] != highlight.quote.exact:
        # The position is stale (the door sends what it has); mark the quote instead.
        found = highlight.answer.find(highlight.quote.exact)
        start, end = (found, found + len(highlight.quote.exact)) if found >= 0 else (0, 0)
    marked = marked_answer(highlight.answer, start, end)
    parts.append(f"The answer, with the highlighted span in [[ ]]:\n{marked}")
    parts.append(f"Highlighted span: {highlight.quote.exact!r}")
    if context is not None:
        constitution = render_constitution(context.enabled_amendments())
        if constitution:
            parts.append(f"The notebook already has these rules:\n{clip(constitution, 3000)}")
    parts.append(f"Suggest up to {n} corrections for the highlighted span.")
    return "\n\n".join(parts)


async def suggest_corrections(
    ops: OpsClient,
    highlight: HighlightInput,
    n: int = 3,
    context: CollabContext | None = None,
) -> list[SuggestedCorrection]:
    """Up to ``n`` candidate corrections of the highlighted span, best first."""
    if not 1 <= n <= MAX_SUGGESTIONS:
        raise InvalidRequestError(f"n must be between 1 and {MAX_SUGGESTIONS}, not {n}")
    response = await ops.structured(
        SYSTEM,
        build_prompt(highlight, n, context),
        with_max_items(SuggestionsResponse, (("suggestions", 1, n),)),
        name="suggest_corrections",
        description="Corrections for the highlighted span of the answer.",
    )
    results: list[SuggestedCorrection] = []
    seen: set[tuple[str, str]] = set()
    for item in response.suggestions:
        text = "" if item.operation == "delete" else item.text.strip()
        key = (item.operation, text.casefold())
        if key in seen:
            continue
        seen.add(key)
        results.append(
            SuggestedCorrection(
                operation=CorrectionOperation(item.operation),
                text=text,
                why=item.why.strip(),
                rank=len(results),
            )
        )
        if len(results) == n:
            break
    return results
