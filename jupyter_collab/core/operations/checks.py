"""Deterministic checks of an amendment on one probe's answers: used before the
model judge, which is asked only when these cannot decide.

* A fact: its key terms (numbers, units, names, acronyms, quoted phrases; see
  :func:`key_terms`) should appear in the amended answer of a prompt it should
  change. None of them there: the model ignores the fact. Some of them there and
  in no baseline sample: the amendment brought them, the change is intended.
* A process or format rule: the shape it asks for, read from its text (see
  :func:`rule_shape`): a length bound (at most N sentences, words, lines or
  bullet points), code only, or a question asked. The shape missing from the
  amended answer: the rule does not hold; present there and in no baseline
  sample: the rule made it.

Anything else (the terms or the shape in both answers, a rule with no shape we
can read) is left to the judge with the noise floor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from ..models import Amendment, AmendmentKind, MeasureValue

#: At most this many key terms are taken from one fact.
MAX_KEY_TERMS = 12

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

_STOP = set(
    """a an the and or but if then than that this these those is are was were be been being
    to of in on at by for with from as into about over under after before not no nor so
    it its it's we you they he she them their our your my his her which who whom whose what
    when where why how all any each every some such only own same very can will should would
    could may might must do does did done have has had i me us use used using also always never
    answer answers report reports give say write state mention notebook here there""".split()
)

# Straight and typographic double quotes (single quotes are apostrophes too often).
_QUOTED = re.compile(r"[\"\u201c]([^\"\u201d]{2,60})[\"\u201d]")
_PAREN = re.compile(r"\(([^()]{1,40})\)")
_TOKEN = re.compile(r"[\w][\w./%°µ·+-]*[\w%°]|\w")


def _strip_token(token: str) -> str:
    return token.strip(".,;:!?()[]{}\"'\u201c\u201d\u2018\u2019")


def key_terms(fact: str) -> list[str]:
    """The distinctive terms of a fact: quoted phrases, short parentheticals (units,
    abbreviations, citations), numbers, tokens with digits or symbols (``g/L``,
    ``2015``, ``HPLC``), and capitalised words past the first; when none, its
    longer content words. In order of appearance, without repeats."""
    terms: list[str] = []

    def add(term: str) -> None:
        term = _strip_token(term.strip())
        if len(term) >= 1 and term.casefold() not in {t.casefold() for t in terms}:
            terms.append(term)

    for match in _QUOTED.finditer(fact):
        add(match.group(1))
    for match in _PAREN.finditer(fact):
        inner = match.group(1).strip()
        if len(inner.split()) <= 3:
            add(inner)
    words = [_strip_token(w) for w in _TOKEN.findall(fact)]
    for index, word in enumerate(words):
        if not word or word.casefold() in _STOP:
            continue
        has_digit = any(c.isdigit() for c in word)
        has_symbol = any(c in "/%°µ·+" for c in word)
        acronym = len(word) >= 2 and word.isupper()
        capital = index > 0 and word[:1].isupper() and not _sentence_start(fact, word)
        if has_digit or has_symbol or acronym or capital:
            add(word)
    if not terms:
        for word in words:
            if len(word) >= 5 and word.casefold() not in _STOP:
                add(word)
    return terms[:MAX_KEY_TERMS]


def _sentence_start(text: str, word: str) -> bool:
    """Whether every occurrence of ``word`` in ``text`` opens a sentence."""
    for match in re.finditer(re.escape(word), text):
        before = text[: match.start()].rstrip()
        if before and before[-1] not in ".!?:":
            return False
    return True


def _normal(text: str) -> str:
    return " ".join(text.casefold().split())


def term_found(term: str, answer: str) -> bool:
    """``term`` in ``answer``, case and spacing aside; a word-like term as a whole word."""
    needle, haystack = _normal(term), _normal(answer)
    if not needle:
        return False
    if re.fullmatch(r"\w+", needle):
        return re.search(rf"(?<!\w){re.escape(needle)}(?!\w)", haystack) is not None
    return needle in haystack


def terms_found(terms: list[str], answer: str) -> list[str]:
    return [term for term in terms if term_found(term, answer)]


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


_FENCE = re.compile(r"```[^\n]*\n.*?```", re.DOTALL)
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+", re.MULTILINE)


def _prose(answer: str) -> str:
    return _FENCE.sub(" ", answer)


def count(unit: Unit, answer: str) -> int:
    prose = _prose(answer).strip()
    if unit == "words":
        return len(prose.split())
    if unit == "lines":
        return len([line for line in answer.strip().splitlines() if line.strip()])
    if unit == "bullets":
        return len(_BULLET.findall(answer))
    # Sentences: ends of sentence in the prose, a last unterminated one counting too.
    parts = [p for p in re.split(r"(?<=[.!?])\s+", prose) if re.search(r"\w", p)]
    return len(parts)


def shape_holds(shape: Shape, answer: str) -> tuple[bool, str]:
    """Whether ``answer`` has the shape, and the measure that decided it."""
    if shape.kind == "max":
        assert shape.unit is not None and shape.limit is not None
        n = count(shape.unit, answer)
        return n <= shape.limit, f"{n} {shape.unit} (at most {shape.limit})"
    if shape.kind == "code_only":
        blocks = _FENCE.findall(answer)
        outside = _prose(answer).strip()
        ok = bool(blocks) and not re.search(r"\w", outside)
        return ok, f"{len(blocks)} code block(s), {len(outside.split())} word(s) outside code"
    asked = "?" in _prose(answer)
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
