"""Word-level diffs of a baseline and an amended answer, short enough for a table."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Literal

_TOKEN = re.compile(r"\s+|[^\s]+")


@dataclass(frozen=True)
class DiffPart:
    op: Literal["equal", "delete", "insert"]
    text: str


def word_diff(baseline: str, amended: str) -> list[DiffPart]:
    """The two texts as a sequence of equal/deleted/inserted runs (words and spaces)."""
    a = _TOKEN.findall(baseline)
    b = _TOKEN.findall(amended)
    parts: list[DiffPart] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            parts.append(DiffPart("equal", "".join(a[i1:i2])))
            continue
        if tag in ("delete", "replace"):
            parts.append(DiffPart("delete", "".join(a[i1:i2])))
        if tag in ("insert", "replace"):
            parts.append(DiffPart("insert", "".join(b[j1:j2])))
    return parts


def word_change_share(baseline: str, amended: str) -> float:
    """The share of words that differ: 0 for the same words in the same order, 1 for
    nothing in common. Whitespace is ignored (a shared space between two different
    words is no similarity)."""
    a = baseline.split()
    b = amended.split()
    if a == b:
        return 0.0
    return 1.0 - difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def short_diff(baseline: str, amended: str, width: int = 60) -> str:
    """A one-line summary such as ``-[old words] +[new words] (…2 more changes)``."""
    if baseline == amended:
        return "(identical)"
    changes = [p for p in word_diff(baseline, amended) if p.op != "equal"]
    pieces: list[str] = []
    used = 0
    shown = 0
    for part in changes:
        words = " ".join(part.text.split())
        if not words:
            continue
        sign = "-" if part.op == "delete" else "+"
        # The first change gets half the room, so a replacement shows both sides.
        room = width - used - 4
        budget = max(8, room // 2 if not pieces else room)
        if len(words) > budget:
            words = words[: budget - 1] + "…"
        piece = f"{sign}[{words}]"
        if pieces and used + len(piece) + 1 > width:
            break
        pieces.append(piece)
        used += len(piece) + 1
        shown += 1
    visible = [p for p in changes if " ".join(p.text.split())]
    rest = len(visible) - shown
    summary = " ".join(pieces) if pieces else "(whitespace only)"
    if rest > 0:
        summary += f" (+{rest} more)"
    return summary
