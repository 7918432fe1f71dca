"""Deterministic measures of an answer against an amendment: which of a fact's key
terms it contains, and its shape (length, lists, headings, code, questions).

They stand beside every judge verdict of the preview (a small model's verdict is a
weak signal; these are not a judgement, but they cannot be talked into one) and
are what a check that "the fact still appears / the format still holds" compares.

* :func:`key_terms` — the distinctive terms of a fact amendment's text: numbers,
  names, hyphenated and longer content words, in the order they appear.
* :func:`terms_found` — which of those terms a text contains (case-insensitive,
  whole words).
* :func:`answer_shape` — the countable shape of an answer.
* :func:`shape_changes` — the shape features that differ between two answers.
* :func:`measure_answers` — all of the above for a baseline and an amended answer,
  as the wire model :class:`~..operation_models.AnswerMeasures`, with the verdict the
  measures alone point to (:func:`measured_verdict`).
"""

from __future__ import annotations

import re
from typing import Literal

from ..context_model import AmendmentKind, ProbeKind
from ..operation_models import AnswerMeasures, AnswerShape
from .diffing import word_change_share

#: At most this many key terms per fact (the most distinctive first).
MAX_KEY_TERMS = 12
#: Content words at least this long are key terms too, after the more distinctive
#: ones (``distutils``, ``fermentation``)...
LONG_WORD = 7
#: ...and words at least this long stand in for key terms when a fact has nothing
#: more distinctive.
CONTENT_WORD = 5
#: A length change beyond this share (of words) is a change of shape.
LENGTH_CHANGE = 0.5
#: Below this word-change share, with terms and shape the same, the answers say
#: the same thing: a few words reworded.
REWORDING_SHARE = 0.5

MeasuredVerdict = Literal["intended", "unintended", "unchanged"]

# Function words and the words amendments are phrased with; never key terms.
_STOPWORDS = frozenset(
    """
    a about above after again against all also always am an and any are as at be
    because been before being below between both but by can cannot could did do does
    doing done down during each else ever every few for from further had has have having
    he her here hers herself him himself his how however i if in into is it its it's
    itself just least less like many may me might more most must my myself never no nor
    not now of off often on once one only or other our ours ourselves out over own per
    rather same shall she should since so some such than that the their theirs them
    themselves then there these they this those though through to too under until up
    upon us use used using very was we were what when where whether which while who
    whom whose why will with within without would yes yet you your yours yourself
    answer answers assistant claim correct correctly fact give instead mention mentions
    note notebook paper question questions report reports said say says state states
    true user write wrong
    """.split()
)

# Quoted phrases (straight and typographic double quotes; single quotes are too
# often apostrophes) and short parentheticals (units, abbreviations, years).
_QUOTED = re.compile(r"[\"\u201c]([^\"\u201d]{2,60})[\"\u201d]")
_PAREN = re.compile(r"\(([^()]{1,40})\)")
#: A word, with the symbols units and names carry inside it (g/L, 37°C, C++, mesa-optimization).
_TOKEN = re.compile(r"[\w][\w'\u2019./%°µ·+-]*[\w%°+]|\w")
_EDGES = ".,;:!?()[]{}\"'\u201c\u201d\u2018\u2019"


def _distinctiveness(word: str, first_in_sentence: bool) -> int:
    """How distinctive ``word`` is as a term of a fact (0: not a key term)."""
    if not word or word.casefold() in _STOPWORDS:
        return 0
    if any(ch.isdigit() for ch in word):
        return 4  # years, figures, versions
    if any(ch in "/%°µ·+-" for ch in word) or (len(word) >= 2 and word.isupper()):
        return 3  # units, coined terms, acronyms
    if word[0].isupper() and not first_in_sentence:
        return 3  # names
    if len(word) >= LONG_WORD:
        return 2
    return 0


def key_terms(text: str, limit: int = MAX_KEY_TERMS) -> list[str]:
    """The distinctive terms of a fact: quoted phrases, short parentheticals (units,
    abbreviations, citations), figures, tokens with symbols (``g/L``, ``C++``,
    ``mesa-optimization``), acronyms, capitalised words past a sentence's start, then
    content words of seven letters or more; the most distinctive first, ties in
    order of appearance, each once (ignoring case). A fact with none of these gets
    its content words of five letters or more instead."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    scored: list[tuple[int, int, str]] = []
    seen: set[str] = set()

    def add(term: str, score: int, position: int) -> None:
        term = term.strip().strip(_EDGES)
        if term and score and term.casefold() not in seen:
            seen.add(term.casefold())
            scored.append((-score, position, term))

    for match in _QUOTED.finditer(text):
        add(match.group(1), 5, match.start())
    for match in _PAREN.finditer(text):
        inner = match.group(1).strip()
        if len(inner.split()) <= 3:
            add(inner, max(3, _distinctiveness(inner, False)), match.start())
    words: list[tuple[int, str]] = []
    previous_end = 0
    for match in _TOKEN.finditer(text):
        # The last visible character before the token (in the gap, else the end of
        # the previous token) tells whether it opens a sentence; read in linear time.
        gap = text[previous_end : match.start()]
        before = gap.rstrip()[-1:] or text[previous_end - 1 : previous_end]
        first = not before or before in ".!?:" or "\n" in gap
        previous_end = match.end()
        word = match.group().strip(_EDGES)
        words.append((match.start(), word))
        add(word, _distinctiveness(word, first), match.start())
    if not scored:
        for start, word in words:
            if len(word) >= CONTENT_WORD and word.casefold() not in _STOPWORDS:
                add(word, 1, start)
    scored.sort()
    return [term for _, _, term in scored[:limit]]


def _term_pattern(term: str) -> re.Pattern[str]:
    # A whole-word match, ignoring case; a phrase matches across any run of spaces.
    spaced = r"\s+".join(re.escape(part) for part in term.split())
    return re.compile(rf"(?<![\w]){spaced}(?![\w])", re.IGNORECASE)


def terms_found(terms: list[str], text: str) -> list[str]:
    """The ``terms`` that occur in ``text`` as whole words, ignoring case and spacing."""
    return [term for term in terms if _term_pattern(term).search(text)]


_BULLET = re.compile(r"^\s*[-*•+]\s+\S")
_NUMBERED = re.compile(r"^\s*\d+[.)]\s+\S")
_HEADING = re.compile(r"^\s*#{1,6}\s+\S")
_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+")


def _sentences(prose: str) -> int:
    """Sentences of prose: each end of sentence, and a last one left unterminated."""
    return sum(1 for part in _SENTENCE_BREAK.split(prose.strip()) if re.search(r"\w", part))


def answer_shape(text: str) -> AnswerShape:
    """The countable shape of an answer (markdown-aware, code blocks counted once)."""
    lines = text.splitlines()
    bullets = numbered = headings = table_rows = code_blocks = 0
    in_code = False
    prose: list[str] = []
    for line in lines:
        if _FENCE.match(line):
            if not in_code:
                code_blocks += 1
            in_code = not in_code
            continue
        if in_code:
            continue
        prose.append(line)
        if _BULLET.match(line):
            bullets += 1
        elif _NUMBERED.match(line):
            numbered += 1
        elif _HEADING.match(line):
            headings += 1
        elif _TABLE_ROW.match(line):
            table_rows += 1
    body = "\n".join(prose)
    return AnswerShape(
        words=len(text.split()),
        prose_words=len(body.split()),
        lines=sum(1 for line in lines if line.strip()),
        bullets=bullets,
        numbered=numbered,
        headings=headings,
        table_rows=table_rows,
        code_blocks=code_blocks,
        questions=body.count("?"),
        sentences=_sentences(body),
    )


def _length_ratio(baseline: AnswerShape, amended: AnswerShape) -> float:
    if baseline.words == 0:
        return 1.0 if amended.words == 0 else float(amended.words)
    return amended.words / baseline.words


def shape_changes(baseline: AnswerShape, amended: AnswerShape) -> list[str]:
    """The shape features that differ, in words, e.g. ``"bullets 0 → 4"``; a length
    change counts only beyond ±50% (rewording moves length a little)."""
    changes: list[str] = []
    for name in ("bullets", "numbered", "headings", "table_rows", "code_blocks"):
        before, after = getattr(baseline, name), getattr(amended, name)
        if before != after:
            changes.append(f"{name.replace('_', ' ')} {before} → {after}")
    # A question appearing or disappearing is a change of kind (asking back vs answering).
    if (baseline.questions > 0) != (amended.questions > 0):
        changes.append(f"questions {baseline.questions} → {amended.questions}")
    ratio = _length_ratio(baseline, amended)
    if abs(ratio - 1.0) > LENGTH_CHANGE:
        changes.append(f"words {baseline.words} → {amended.words}")
    return changes


def measured_verdict(
    amendment_kind: AmendmentKind,
    probe_kind: ProbeKind,
    measures: AnswerMeasures,
) -> MeasuredVerdict:
    """The verdict the measures alone point to.

    * same words, or a rewording that keeps the terms and the shape: ``unchanged``;
    * otherwise, on a probe the amendment should not change: ``unintended``;
    * a fact whose key terms now appear, or a process rule that changed the shape:
      ``intended``; any other change (the fact still absent, the shape the same but
      the content different): ``unintended``.
    """
    gained, lost = measures.terms_gained, measures.terms_lost
    if measures.word_change_share == 0.0:
        return "unchanged"
    substantive = bool(gained or lost or measures.shape_changes)
    if not substantive and measures.word_change_share < REWORDING_SHARE:
        return "unchanged"
    if probe_kind == ProbeKind.should_not_change:
        return "unintended"
    if amendment_kind == AmendmentKind.fact:
        return "intended" if gained else "unintended"
    return "intended" if measures.shape_changes else "unintended"


def measure_answers(
    amendment_kind: AmendmentKind,
    amendment_text: str,
    probe_kind: ProbeKind,
    baseline: str,
    amended: str,
) -> AnswerMeasures:
    """Every measure of one probe's baseline and amended answers."""
    terms = key_terms(amendment_text) if amendment_kind == AmendmentKind.fact else []
    in_baseline = terms_found(terms, baseline)
    in_amended = terms_found(terms, amended)
    shape_before = answer_shape(baseline)
    shape_after = answer_shape(amended)
    measures = AnswerMeasures(
        word_change_share=round(word_change_share(baseline, amended), 3),
        key_terms=terms,
        terms_in_baseline=in_baseline,
        terms_in_amended=in_amended,
        terms_gained=[t for t in in_amended if t not in in_baseline],
        terms_lost=[t for t in in_baseline if t not in in_amended],
        length_ratio=round(_length_ratio(shape_before, shape_after), 3),
        baseline_shape=shape_before,
        amended_shape=shape_after,
        shape_changes=shape_changes(shape_before, shape_after),
        measured_verdict="unchanged",
    )
    verdict = measured_verdict(amendment_kind, probe_kind, measures)
    return measures.model_copy(update={"measured_verdict": verdict})


def measures_text(measures: AnswerMeasures) -> str:
    """The measures in one line, for the judge's prompt and for tables."""
    parts = [f"{measures.word_change_share:.0%} of words changed"]
    if measures.key_terms:
        # What changed first: a narrow table column shows the start.
        if measures.terms_gained:
            parts.append("now present: " + ", ".join(measures.terms_gained))
        if measures.terms_lost:
            parts.append("no longer present: " + ", ".join(measures.terms_lost))
        total = len(measures.key_terms)
        parts.append(
            f"key terms of the fact in BASELINE {len(measures.terms_in_baseline)}/{total}, "
            f"in AMENDED {len(measures.terms_in_amended)}/{total}"
        )
    parts.append(f"length x{measures.length_ratio:.2f}")
    parts.append(
        "shape: " + ("; ".join(measures.shape_changes) if measures.shape_changes else "same")
    )
    return "; ".join(parts)
