"""Where an entry of one layer contradicts an entry of another: "answer in French"
in the project layer against "answer in English" in the notebook's.

Whether two rules pull against each other takes a model (a proposal's own check
asks the ops model too, ``amend.py``), so this is one structured call, asked
only about the pairs worth asking:

* candidate pairs are entries that reach the prompt (``layers.entries_in_effect``)
  from *different* layers (a layer's own entries are checked when they are
  proposed), less pairs that repeat each other (``amend.repeats``' rule: the
  layers report already names those);
* they are ranked by the content words they share (``common.word_overlap``, the
  ranking the check's conflict search uses) and at most :data:`MAX_PAIRS` are
  asked;
* a pair's verdict is kept by the texts of both entries and the ops model
  (:class:`ContradictionCache`), so asking again about unchanged layers (the
  context panel re-opened) asks the model nothing; so is the lack of one, when
  the model's answer left a pair out: the same question (asked at the preview's
  temperature, 0 by default) gets the same answer, and a small model that cannot
  answer it would otherwise be asked again on every change of the layers; and two
  askers of the same pairs at the same time (two users' panels on one notebook)
  share one call;
* pairs the model names that were not asked (invented or misspelt ids) are
  dropped, and no candidate pair means no call at all.

Where two entries contradict each other, the nearer layer's wins (the
precedence ``core/layers.py`` documents and the constitution tells the assistant).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, Field

from ..context_model import Amendment
from ..hashing import hash_json
from ..layers import PROMPT_ORDER, ContextLayers, Layer, entries_in_effect
from ..lru import LRU
from .amend import DUPLICATE_RATIO
from .common import (
    OpsClient,
    OpsResponse,
    clip,
    content_words,
    similarity,
    with_max_items,
    word_overlap,
)

#: Pairs asked in one call. Each pair quotes two entries (up to
#: :data:`QUOTED_ENTRY` characters each) and its verdict costs about 60-70 output
#: tokens. The worst case (twelve pairs of 400-character entries) is 2,302 tokens
#: of SmolLM2's tokenizer with the instructions, which leaves 1,794 of the
#: embedded model's default 4,096-token context (``local_n_ctx``) for the
#: verdicts; the closest pairs by shared words come first, so the ones left out
#: are the least likely to contradict.
MAX_PAIRS = 12
#: How much of an entry's text the prompt quotes.
QUOTED_ENTRY = 400
#: Verdicts kept in memory (by both texts and the ops model).
CACHE_SIZE = 1024

SYSTEM = """\
You check the constitution of an AI research assistant. Its rules come in layers: \
the researcher's personal layer, a project layer shared by the project's notebooks, \
and the notebook's own layer. You are given pairs of rules from different layers.

For each pair, decide whether the two rules contradict each other: following one \
means breaking the other for some request (for example "answer in French" and \
"answer in English", or "cite X as the source" and "never cite X"). Rules about \
different things, or where one only adds to or narrows the other, do not contradict.

Answer for every pair:
- first, second: the two rules' ids exactly as given (like project:a-1234);
- contradicts: true or false;
- why: when they contradict, one short sentence saying how; otherwise ""."""


class LayerEntryRef(BaseModel):
    """One entry of one layer."""

    layer: Layer
    id: str

    def __str__(self) -> str:
        return f"{self.layer.value}:{self.id}"


class LayerContradiction(BaseModel):
    nearer: LayerEntryRef = Field(
        description="the entry of the nearer layer: it wins where the two disagree"
    )
    farther: LayerEntryRef
    why: str = Field(description="how they contradict each other, one sentence")


class LayerContradictions(BaseModel):
    contradictions: list[LayerContradiction] = Field(
        description="in prompt order of the nearer entries' layers"
    )
    compared: int = Field(ge=0, description="entry pairs of different layers judged")
    asked: int = Field(
        ge=0, description="pairs the ops model was asked about this time (others were kept)"
    )
    unanswered: int = Field(
        ge=0,
        description="pairs whose verdict the model's answer left out (or gave for ids that "
        "were not asked); not asked again while their texts and the ops model are the same",
    )
    left_out: int = Field(
        ge=0, description="candidate pairs beyond the bound, least similar first, not judged"
    )


Ref = Annotated[str, Field(max_length=80)]


class _Verdict(OpsResponse):
    first: Ref
    second: Ref
    contradicts: bool
    why: str = Field(max_length=200)


class ContradictionsResponse(OpsResponse):
    verdicts: list[_Verdict] = Field(max_length=MAX_PAIRS)


@dataclass(frozen=True, eq=False)
class _Side:
    layer: Layer
    entry: Amendment

    @property
    def ref(self) -> LayerEntryRef:
        return LayerEntryRef(layer=self.layer, id=self.entry.id)


@dataclass(frozen=True, eq=False)  # one pair is one object: verdicts are keyed by it
class _Pair:
    """Two entries of different layers, the farther layer's first."""

    farther: _Side
    nearer: _Side

    def refs(self) -> frozenset[str]:
        return frozenset((str(self.farther.ref), str(self.nearer.ref)))


@dataclass(frozen=True)
class _Verdicted:
    contradicts: bool
    why: str
    #: False: the model was asked and its answer left this pair out.
    answered: bool = True


NO_VERDICT = _Verdicted(contradicts=False, why="", answered=False)


class ContradictionCache(LRU[_Verdicted]):
    """Verdicts (or their lack) by the ops model and the two texts: the same pair is
    not asked twice, nor twice at once (``asking``: the call in flight for a set of
    pairs, which a second asker of the same set awaits)."""

    def __init__(self, maxsize: int = CACHE_SIZE):
        super().__init__(maxsize)
        self.asking: dict[str, asyncio.Future[None]] = {}

    @staticmethod
    def key(ops: OpsClient, pair: _Pair) -> str:
        model = ops.model or ops.provider.default_model
        return hash_json(
            [ops.provider.name, model, pair.farther.entry.text, pair.nearer.entry.text]
        )


def candidate_pairs(layers: ContextLayers) -> list[_Pair]:
    """Every pair of entries in effect from different layers that do not repeat
    each other, those sharing the most content words first (stable otherwise)."""
    sides = [_Side(layer, entry) for layer, entry in entries_in_effect(layers)]
    words = {id(side): content_words(side.entry.text) for side in sides}
    pairs = []
    for i, farther in enumerate(sides):
        for nearer in sides[i + 1 :]:
            if nearer.layer == farther.layer:
                continue
            if similarity(farther.entry.text, nearer.entry.text) >= DUPLICATE_RATIO:
                continue  # a repeat, which the layers report names
            pairs.append((farther, nearer))

    def shared(pair: tuple[_Side, _Side]) -> float:
        a, b = words[id(pair[0])], words[id(pair[1])]
        return word_overlap(a, b) + word_overlap(b, a)

    pairs.sort(key=shared, reverse=True)
    return [_Pair(farther=a, nearer=b) for a, b in pairs]


def build_prompt(pairs: list[_Pair]) -> str:
    lines = []
    for number, pair in enumerate(pairs, 1):
        lines.append(
            f"{number}. [{pair.farther.ref}] ({pair.farther.entry.kind.value}) "
            f"{clip(pair.farther.entry.text.strip(), QUOTED_ENTRY)}\n"
            f"   [{pair.nearer.ref}] ({pair.nearer.entry.kind.value}) "
            f"{clip(pair.nearer.entry.text.strip(), QUOTED_ENTRY)}"
        )
    return (
        "Pairs of rules, each from two different layers:\n\n"
        + "\n".join(lines)
        + f"\n\nJudge each of the {len(pairs)} pairs."
    )


async def _ask(ops: OpsClient, pairs: list[_Pair], cache: ContradictionCache) -> None:
    """Ask the ops model about ``pairs`` and keep each verdict, or its lack, in ``cache``."""
    response = await ops.structured(
        SYSTEM,
        build_prompt(pairs),
        with_max_items(ContradictionsResponse, (("verdicts", len(pairs), len(pairs)),)),
        name="layer_contradictions",
        description="Whether each pair of rules from different layers contradicts.",
    )
    by_refs = {pair.refs(): pair for pair in pairs}
    answered: set[_Pair] = set()
    for item in response.verdicts:
        refs = frozenset(ref.strip().strip("[]") for ref in (item.first, item.second))
        pair = by_refs.get(refs)
        if pair is None or pair in answered:
            continue  # not a pair that was asked (an invented id), or said twice
        answered.add(pair)
        verdict = _Verdicted(item.contradicts, item.why.strip() if item.contradicts else "")
        cache.put(ContradictionCache.key(ops, pair), verdict)
    for pair in pairs:
        if pair not in answered:
            cache.put(ContradictionCache.key(ops, pair), NO_VERDICT)


async def _ask_once(ops: OpsClient, pairs: list[_Pair], cache: ContradictionCache) -> None:
    """:func:`_ask`, shared with whoever asks about the same pairs meanwhile. The call
    runs to its end even if this asker goes away (its verdicts are kept for the next)."""
    batch = hash_json(sorted(ContradictionCache.key(ops, pair) for pair in pairs))
    running = cache.asking.get(batch)
    if running is None:
        running = asyncio.ensure_future(_ask(ops, pairs, cache))
        cache.asking[batch] = running

        def done(future: asyncio.Future[None]) -> None:
            cache.asking.pop(batch, None)
            if not future.cancelled():
                future.exception()  # retrieved: every asker may have gone away

        running.add_done_callback(done)
    await asyncio.shield(running)


async def find_contradictions(
    ops: OpsClient, layers: ContextLayers, cache: ContradictionCache | None = None
) -> LayerContradictions:
    """Which entries of the notebook's layers contradict an entry of another layer."""
    candidates = candidate_pairs(layers)
    pairs = candidates[:MAX_PAIRS]
    cache = cache if cache is not None else ContradictionCache()
    verdicts: dict[_Pair, _Verdicted] = {}
    unknown = []
    for pair in pairs:
        known = cache.get(ContradictionCache.key(ops, pair))
        if known is None:
            unknown.append(pair)
        elif known.answered:
            verdicts[pair] = known
    if unknown:
        await _ask_once(ops, unknown, cache)
        for pair in unknown:
            known = cache.get(ContradictionCache.key(ops, pair))
            if known is not None and known.answered:
                verdicts[pair] = known
    found = [
        LayerContradiction(nearer=pair.nearer.ref, farther=pair.farther.ref, why=verdicts[pair].why)
        for pair in pairs
        if pair in verdicts and verdicts[pair].contradicts
    ]
    found.sort(
        key=lambda c: [PROMPT_ORDER.index(c.nearer.layer), PROMPT_ORDER.index(c.farther.layer)]
    )
    return LayerContradictions(
        contradictions=found,
        compared=len(verdicts),
        asked=len(unknown),
        unanswered=len(pairs) - len(verdicts),
        left_out=len(candidates) - len(pairs),
    )
