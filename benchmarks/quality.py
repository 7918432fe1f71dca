"""The quality suite's cases and their deterministic scoring (no model judges a model).

Cases live in ``quality_cases.json``: each has a category, the notebook's
constitution (facts and process rules), a prompt, and a check. A check is
scored from the answer text alone:

``terms``              every group of ``terms`` has one alternative in the answer
                       (case-insensitive, whole words); ``forbid``: none of these
``max_words``          at most ``limit`` words
``max_sentences``      at most ``limit`` sentences
``code_only``          one fenced code block and nothing else
``ends_with_question`` the last non-blank character is ``?``
``starts_with``        the answer starts with ``prefix`` (leading space ignored)
``bullets``            exactly ``count`` lines starting with ``-``, ``*`` or ``•``
``lowercase``          no upper-case letter
``only_number``        a single number and nothing else
``clarifying``         a question (``?``), at most ``limit`` words: asked, not answered
``structured``         (JSON cases) the operation returned a validated result; scored
                       by the bench, which runs the loop's own structured call
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CASES_FILE = Path(__file__).resolve().parent / "quality_cases.json"
CATEGORIES = ("fact", "format", "clarify", "json")

_WORD = re.compile(r"[\w'\u2019-]+")  # apostrophes: ' and the typographic one
_SENTENCE_END = re.compile(r"[.!?]+(?=\s|$)")
_FENCE = re.compile(r"^\s*```[\w+-]*[ \t]*\n.*?\n```\s*$", re.DOTALL)
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+\S")
_NUMBER = re.compile(r"^\s*[-+]?\d[\d,]*(?:\.\d+)?\.?\s*$")


@dataclass(frozen=True)
class Case:
    id: str
    category: str
    prompt: str
    check: dict[str, Any]
    facts: list[str] = field(default_factory=list)
    rules: list[str] = field(default_factory=list)
    operation: dict[str, Any] = field(default_factory=dict)  # json cases: what to call


@dataclass(frozen=True)
class Score:
    passed: bool
    detail: str


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def sentences(text: str) -> int:
    stripped = text.strip()
    if not stripped:
        return 0
    ends = len(_SENTENCE_END.findall(stripped))
    # A last sentence without closing punctuation still counts.
    return ends + (0 if _SENTENCE_END.search(stripped[-1:] + " ") else 1)


def has_term(text: str, term: str) -> bool:
    """``term`` as whole words, case-insensitive (so 'B' does not match 'about')."""
    pattern = r"(?<!\w)" + re.escape(term.casefold()) + r"(?!\w)"
    return re.search(pattern, text.casefold()) is not None


def score(check: dict[str, Any], answer: str) -> Score:
    kind = check["type"]
    text = answer.strip()
    if kind == "terms":
        missing = [g for g in check["terms"] if not any(has_term(text, t) for t in g)]
        present = [t for t in check.get("forbid", []) if has_term(text, t)]
        if missing:
            return Score(False, "missing " + "; ".join(" or ".join(g) for g in missing))
        if present:
            return Score(False, "contains " + ", ".join(present))
        return Score(True, "all key terms present")
    if kind == "max_words":
        count = len(words(text))
        return Score(0 < count <= check["limit"], f"{count} words (limit {check['limit']})")
    if kind == "max_sentences":
        count = sentences(text)
        return Score(0 < count <= check["limit"], f"{count} sentences (limit {check['limit']})")
    if kind == "code_only":
        ok = _FENCE.match(text) is not None and text.count("```") == 2
        return Score(ok, "one code block only" if ok else "prose or no single code block")
    if kind == "ends_with_question":
        ok = text.endswith("?")
        return Score(ok, "ends with a question" if ok else f"ends with {text[-20:]!r}")
    if kind == "starts_with":
        ok = text.startswith(check["prefix"])
        return Score(ok, f"starts with {text[:20]!r}")
    if kind == "bullets":
        count = sum(1 for line in text.splitlines() if _BULLET.match(line))
        return Score(count == check["count"], f"{count} bullet lines (want {check['count']})")
    if kind == "lowercase":
        upper = [c for c in text if c.isupper()]
        return Score(bool(text) and not upper, f"{len(upper)} upper-case letters")
    if kind == "only_number":
        ok = _NUMBER.match(text) is not None
        return Score(ok, "a single number" if ok else f"not a bare number: {text[:30]!r}")
    if kind == "clarifying":
        count = len(words(text))
        ok = "?" in text and count <= check["limit"]
        asked = "asks" if "?" in text else "no question"
        return Score(ok, f"{asked}, {count} words (limit {check['limit']})")
    raise ValueError(f"unknown check type {kind!r}")


def load_cases(path: Path = CASES_FILE) -> list[Case]:
    raw = json.loads(path.read_text(encoding="utf-8"))
    cases = [Case(**item) for item in raw["cases"]]
    seen: set[str] = set()
    for case in cases:
        if case.id in seen:
            raise ValueError(f"duplicate case id {case.id!r}")
        seen.add(case.id)
        if case.category not in CATEGORIES:
            raise ValueError(f"{case.id}: unknown category {case.category!r}")
        if case.check["type"] == "structured":
            if case.category != "json" or not case.operation:
                raise ValueError(f"{case.id}: a structured check needs a json case with operation")
        else:
            score(case.check, "")  # an unknown check type fails at load, not mid-run
    return cases


def adherence(passed: dict[str, list[bool]]) -> dict[str, float]:
    """Share passed per category, and ``all`` over every case."""
    shares = {cat: sum(r) / len(r) for cat, r in passed.items() if r}
    every = [x for results in passed.values() for x in results]
    shares["all"] = sum(every) / len(every) if every else 0.0
    return shares
