"""Deterministic checks of an amendment on one probe's answers: used before the
model judge, which is asked only when these cannot decide.

* A fact: its key terms (numbers, units, names, acronyms, quoted phrases; see
  :func:`.measures.key_terms`, the one reading of terms and shapes that the
  preview's measures use too) should appear in the amended answer of a prompt it should
  change. None of them there: the model ignores the fact. Some of them there and
  in no baseline sample: the amendment brought them, the change is intended.
* A process or format rule: the shape it asks for, read from its text (see
  :func:`rule_shape`): a length bound (at most N sentences, words, lines or
  bullet points), code only, or a question asked. The shape missing from the
  amended answer: the rule does not hold; present there and in no baseline
  sample: the rule made it.

Anything else (the terms or the shape in both answers, a rule with no shape we
can read) is left to the judge with the noise floor.

The check of a constitution asks first whether the amended answer alone has what
the amendment asks for (:func:`holds_on_amended`): a fact's key terms (other than
those the prompt itself contains, which an answer may only echo), a rule's shape.
When it has, the amendment holds on that probe whatever the model would answer
without it, and the answer without it is not asked for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from ..context_model import Amendment, AmendmentKind, MeasureValue
from .measures import answer_shape, key_terms, terms_found

_NUMBER_WORDS = {
    "one": 1,
    "a single": 1,
    "single": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
    "fifty": 50,
    "hundred": 100,
    "a hundred": 100,
    "one hundred": 100,
}

# -- the shape a rule asks for ---------------------------------------------------------

Unit = Literal["sentences", "words", "lines", "bullets"]
ShapeKind = Literal["max", "code_only", "question"]


@dataclass(frozen=True)
class Shape:
    """One shape a process rule asks of every answer it applies to."""

    kind: ShapeKind
    unit: Unit | None = None
    limit: int | None = None

    def describe(self) -> str:
        if self.kind == "max":
            return f"at most {self.limit} {self.unit}"
        if self.kind == "code_only":
            return "code only"
        return "a question asked"


_UNITS: dict[str, Unit] = {
    "sentence": "sentences",
    "sentences": "sentences",
    "word": "words",
    "words": "words",
    "line": "lines",
    "lines": "lines",
    "bullet": "bullets",
    "bullets": "bullets",
    "bullet points": "bullets",
    "bullet point": "bullets",
    "points": "bullets",
}
_NUMBER = (
    r"(\d{1,4}|" + "|".join(sorted(map(re.escape, _NUMBER_WORDS), key=len, reverse=True)) + ")"
)
_UNIT = r"(bullet points?|bullets?|sentences?|words?|lines?|points)"
_MAX = re.compile(
    rf"\b(?:at most|no more than|not more than|up to|maximum of|max(?:imum)?|under|fewer than|"
    rf"less than|within|in|limit(?:ed)? to|keep (?:it|answers?|them) to)\s+{_NUMBER}\s+{_UNIT}\b",
    re.IGNORECASE,
)
_CODE_ONLY = re.compile(
    r"\b(?:only (?:the |with )?code|code only|just (?:the )?code|nothing but code|"
    r"no (?:prose|explanations?|commentary)|without (?:any )?(?:prose|explanations?|commentary))\b",
    re.IGNORECASE,
)
_QUESTION = re.compile(
    r"\b(?:ask (?:a |one |me a |the researcher a |a clarifying |clarifying )?(?:\w+ )?questions?|"
    r"end (?:with|by asking) (?:a |one )?(?:\w+ )?question|clarifying question)\b",
    re.IGNORECASE,
)


def _number(text: str) -> int:
    text = " ".join(text.lower().split())
    return int(text) if text.isdigit() else _NUMBER_WORDS[text]


def rule_shape(rule: str) -> list[Shape]:
    """The shapes a process rule's text asks for (none when it asks for none we read)."""
    shapes: list[Shape] = []
    for match in _MAX.finditer(rule):
        limit = _number(match.group(1))
        unit = _UNITS[match.group(2).lower()]
        fewer = match.group(0).lower().startswith(("under", "fewer than", "less than"))
        shapes.append(Shape("max", unit, limit - 1 if fewer else limit))
    if _CODE_ONLY.search(rule):
        shapes.append(Shape("code_only"))
    if _QUESTION.search(rule):
        shapes.append(Shape("question"))
    return shapes


def count(unit: Unit, answer: str) -> int:
    """``answer``'s length in ``unit``, by the measures' one reading of an answer's
    shape (:func:`.measures.answer_shape`): words and sentences outside code, non-blank
    lines, bulleted and numbered items."""
    shape = answer_shape(answer)
    if unit == "words":
        return shape.prose_words
    if unit == "lines":
        return shape.lines
    if unit == "bullets":
        return shape.bullets + shape.numbered
    return shape.sentences


def shape_holds(shape: Shape, answer: str) -> tuple[bool, str]:
    """Whether ``answer`` has the shape, and the measure that decided it."""
    if shape.kind == "max":
        assert shape.unit is not None and shape.limit is not None
        n = count(shape.unit, answer)
        return n <= shape.limit, f"{n} {shape.unit} (at most {shape.limit})"
    measured = answer_shape(answer)
    if shape.kind == "code_only":
        ok = measured.code_blocks > 0 and measured.prose_words == 0
        return ok, (
            f"{measured.code_blocks} code block(s), {measured.prose_words} word(s) outside code"
        )
    asked = measured.questions > 0
    return asked, "asks a question" if asked else "asks no question"


# -- one probe ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """What a deterministic check found on one probe whose answers differ (or not)."""

    decided: bool
    met: bool | None  # for a "should change" probe: the amendment has its effect
    reason: str
    measures: dict[str, MeasureValue]


def _undecided(reason: str, measures: dict[str, MeasureValue]) -> Decision:
    return Decision(False, None, reason, measures)


def check_change(kind: AmendmentKind, text: str, baselines: list[str], amended: str) -> Decision:
    """A deterministic decision on a probe the amendment should change, when one can be
    made: ``met`` False when the amended answer lacks every key term (fact) or the
    rule's shape (process rule); True when it has them and no baseline sample does."""
    if kind == AmendmentKind.fact:
        terms = key_terms(text)
        if not terms:
            return _undecided("the fact has no key terms to look for", {})
        found = terms_found(terms, amended)
        in_baseline = {t for b in baselines for t in terms_found(terms, b)}
        measures: dict[str, MeasureValue] = {
            "key_terms": ", ".join(terms)[:500],
            "terms_in_amended": len(found),
            "terms_in_baseline": len(in_baseline),
        }
        if not found:
            return Decision(
                True,
                False,
                f"the amended answer mentions none of the fact's key terms "
                f"({', '.join(terms[:6])}): the model ignores the fact",
                measures,
            )
        brought = [t for t in found if t not in in_baseline]
        if brought:
            return Decision(
                True,
                True,
                f"the amended answer has {', '.join(brought[:6])}, which no answer without "
                "the amendment has",
                measures,
            )
        return _undecided("the key terms appear with and without the amendment", measures)
    shapes = rule_shape(text)
    if not shapes:
        return _undecided("the rule asks for no shape that can be measured", {})
    measures = {}
    failed: list[str] = []
    made = False
    for shape in shapes:
        ok, measure = shape_holds(shape, amended)
        measures[f"shape: {shape.describe()}"] = measure
        if not ok:
            failed.append(f"{shape.describe()}: {measure}")
        elif baselines and not all(shape_holds(shape, b)[0] for b in baselines):
            made = True
    if failed:
        return Decision(
            True,
            False,
            "the rule does not hold on the amended answer: " + "; ".join(failed),
            measures,
        )
    if made:
        described = ", ".join(s.describe() for s in shapes)
        return Decision(
            True,
            True,
            f"the amended answer has the rule's shape ({described}); the "
            "answer without it does not",
            measures,
        )
    return _undecided("the answers with and without the rule both have its shape", measures)


def holds_on_amended(kind: AmendmentKind, text: str, prompt: str, amended: str) -> Decision:
    """Decided (and met) when the amended answer alone shows the amendment holds: a
    fact's key terms that the prompt does not contain, or every shape of a rule.
    Anything else is left undecided here (a failure is told apart, as no effect or
    an ignored fact, with the answer without the amendment: :func:`check_change`)."""
    if kind == AmendmentKind.fact:
        terms = key_terms(text)
        found = terms_found(terms, amended)
        echoed = set(terms_found(found, prompt))
        brought = [t for t in found if t not in echoed]
        measures: dict[str, MeasureValue] = {
            "key_terms": ", ".join(terms)[:500],
            "terms_in_amended": len(found),
        }
        if not brought:
            return _undecided("no key term of the fact beyond the prompt's own", measures)
        return Decision(
            True,
            True,
            f"the amended answer has {', '.join(brought[:6])}, the fact's key terms",
            measures,
        )
    shapes = rule_shape(text)
    measures = {}
    for shape in shapes:
        ok, measure = shape_holds(shape, amended)
        measures[f"shape: {shape.describe()}"] = measure
        if not ok:
            return _undecided(f"{shape.describe()}: {measure}", measures)
    if not shapes:
        return _undecided("the rule asks for no shape that can be measured", measures)
    described = ", ".join(s.describe() for s in shapes)
    return Decision(True, True, f"the amended answer has the rule's shape ({described})", measures)


def decidable(amendment: Amendment) -> bool:
    """Whether :func:`check_change` has something to look for in this amendment's
    answers (key terms of a fact, the shape of a rule)."""
    if amendment.kind == AmendmentKind.fact:
        return bool(key_terms(amendment.text))
    return bool(rule_shape(amendment.text))


def accepted_measures(
    kind: AmendmentKind, text: str, baseline: str, amended: str
) -> dict[str, MeasureValue]:
    """The deterministic measures of a probe at acceptance (kept with the amendment)."""
    return check_change(kind, text, [baseline], amended).measures
