"""Prompt assembly: deterministic and byte-stable.

Order: the base persona, then the notebook's facts, then its process rules
(enabled amendments, each kind in creation order), then the conversation
(earlier collaborator turns, when wanted), then the prompt. Amendments added
during the conversation (since the oldest turn sent was answered, as its
recorded ``included_amendments`` say) come after the conversation, under their
own heading before the prompt, until old turns are dropped and the system prompt
takes them in (:func:`_split_at_anchor`): a prefix cached with the conversation
stays valid when an amendment is finalized while working.

Prompt caching (Anthropic; other providers ignore the marks): the system prompt
is two cached blocks, persona + facts, then the process rules, so a rule added
while working leaves the persona and the facts cached; the last earlier turn of
the conversation closes a third cached prefix, and the prompt itself a fourth
(the API's limit is four). The prompt's breakpoint is for the next cell: its
request sends this prompt as history, and reads it from the cache instead of
writing it (only the answer, which no request has sent yet, is new to the
cache). The last earlier turn keeps its own breakpoint so a cell run again with
an edited prompt still reads the conversation before it. Old turns are dropped
a few at a time (see :func:`history_window`), not one per call, so consecutive
cells send the same conversation prefix and read it from the cache.

Where the constitution goes depends on the model family (:func:`constitution_placement`):
in the system prompt (Claude and any model not measured otherwise: the layout
above, with its cache breakpoints), before the prompt in the user turn, or in
the system prompt plus a short reminder of its entries after the prompt. Small
embedded models lose track of a long system prompt; benchmarks/bench_quality.py
measures each placement per model and the table below follows its figures.

Shared layers (``core/layers.py``: the researcher's personal layer, then the
project's) come before the notebook's own entries, most stable first, each
under its own heading, and the constitution's introduction tells the model that
a later layer wins over an earlier one where entries disagree. The system
prompt is then three cached blocks: persona and the shared layers (which change
least), the notebook's facts, the notebook's process rules. Without shared
entries the text is exactly what it was before layers existed, so recorded
answers still replay. The API takes at most four breakpoints
(:data:`MAX_CACHE_BREAKPOINTS`); with a conversation and a continued prompt the
notebook's facts then share a cached prefix with its rules.

Appending an amendment never changes the bytes before the point where it is
inserted, which is what keeps earlier cache prefixes valid; with a conversation,
that point is after the conversation. How the system
prompt is split into blocks does not change its text (the blocks joined by a
blank line are the one block earlier versions sent) nor the input hash, so
recorded answers stay replayable.
"""

from __future__ import annotations

import operator
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from itertools import compress, repeat

from .context_model import Amendment, AmendmentKind, AmendmentStatus, CollabContext, Mode
from .hashing import hash_json, sha256_text
from .personas import persona_text
from .providers.base import ChatRequest, Message, SystemBlock

CONSTITUTION_HEADING = "# This notebook's constitution"
CONSTITUTION_INTRO = (
    "The researcher finalized these amendments for this notebook. "
    "Facts are corrections of what you know; process rules say how to work. "
    "Follow them in every answer."
)
FACTS_HEADING = "## Facts"
PROCESS_HEADING = "## Process rules"
REMINDER_HEADING = "(Follow this notebook's constitution:"
ADDED_HEADING = "# Added to this notebook's constitution during this conversation"
ADDED_INTRO = "Follow these amendments too, as part of the constitution above."
LAYERS_INTRO = (
    "The entries come in layers, from the most general to the most specific: the "
    "researcher's personal layer, the project's layer, then this notebook's own entries. "
    "Where two entries disagree, follow the later one: this notebook's entries override "
    "the project's, and the project's override the personal ones."
)
#: The heading of each shared layer's section (layer names from core/layers.py).
LAYER_HEADINGS = {
    "personal": "## Personal layer (the researcher's entries for every notebook)",
    "project": "## Project layer (entries for every notebook of this project)",
}
OWN_FACTS_HEADING = "## This notebook's facts"
OWN_PROCESS_HEADING = "## This notebook's process rules"
#: Anthropic's limit on ``cache_control`` breakpoints per request.
MAX_CACHE_BREAKPOINTS = 4
DEFAULT_HISTORY_TURNS = 6
#: Old turns are dropped this many at a time (so between DEFAULT_HISTORY_TURNS and
#: DEFAULT_HISTORY_TURNS + DEFAULT_HISTORY_STEP - 1 turns are sent).
DEFAULT_HISTORY_STEP = 3


def estimate_tokens(text: str) -> int:
    """A provider-independent estimate (about four characters a token)."""
    return _tokens_for_length(len(text))


def _tokens_for_length(length: int) -> int:
    return (length + 3) // 4


def _entry_cost(text: str) -> int:
    """``estimate_tokens(_line(text)) + 1`` (the line and its newline), without
    building the line: ``_line`` adds 2 characters, and 2 per inner newline."""
    return _tokens_for_length(len(text) + 2 + 2 * text.count("\n")) + 1


class Placement(str, Enum):
    """Where the constitution is put in a request."""

    system = "system"  # in the system prompt (cached blocks)
    user_prefix = "user_prefix"  # persona alone in the system prompt; entries before the prompt
    reminder = "reminder"  # in the system prompt, and its entries again after the prompt


#: The placement per model family, from benchmarks/bench_quality.py's placement
#: comparison (benchmarks/results.json, embedded_quality_adherence details).
#: Last measured, share of the 32 cases passed (system / user_prefix / reminder):
#: SmolLM2 0.375 / 0.469 / 0.469 (facts 6 / 7 / 9 of 10, format rules 0 / 2 / 0);
#: Gemma 3 270M 0.375 / 0.375 / 0.188 (its turn format puts the system prompt at
#: the start of the user turn anyway; the reminder lost every fact). SmolLM2
#: gets the reminder, the placement it used facts best with; the examples are
#: recorded with it. Families not listed (Claude, OpenAI-compatible models) keep
#: the system prompt, which is also what keeps Anthropic's prompt cache effective.
FAMILY_PLACEMENT: dict[str, Placement] = {
    "smollm2": Placement.reminder,
    "gemma": Placement.system,
}


def model_family(model: str | None) -> str | None:
    """The family in FAMILY_PLACEMENT that ``model``'s name belongs to, if any."""
    name = (model or "").lower().replace("-", "")
    for family in FAMILY_PLACEMENT:
        if family in name:
            return family
    return None


def constitution_placement(model: str | None) -> Placement:
    family = model_family(model)
    return FAMILY_PLACEMENT[family] if family else Placement.system


@dataclass(frozen=True)
class Turn:
    """An earlier collaborator exchange of the same notebook."""

    prompt: str
    answer: str
    #: The amendments the answer's constitution held (``None``: not known).
    included: Sequence[str] | None = None


@dataclass
class AssembledPrompt:
    request: ChatRequest
    context_hash: str
    context_revision: int
    context_tokens: int
    included_ids: list[str] = field(default_factory=list)
    omitted_ids: list[str] = field(default_factory=list)

    @property
    def system_text(self) -> str:
        return self.request.system_text()


def _entry_line(amendment: Amendment) -> str:
    # One line per entry; inner newlines are indented so an entry cannot start
    # a heading of its own and reorder the constitution.
    return _line(amendment.text)


def _line(text: str) -> str:
    return "- " + text.strip().replace("\n", "\n  ")


# Contexts hold thousands of entries and are assembled for every prompt, so each
# entry's fields are read once, into a row, by C code (attrgetter through map):
# reading attributes of thousands of models scattered over the heap is the cost,
# not the Python that follows.
_ROW = operator.attrgetter("status", "kind", "text", "id")
_STATUS, _KIND, _TEXT, _ID = (operator.itemgetter(i) for i in range(4))
Row = tuple[AmendmentStatus, AmendmentKind, str, str]


def _rows(amendments: Iterable[Amendment]) -> list[Row]:
    return list(map(_ROW, amendments))


def _fitting(
    rows: Sequence[Row], budget: int, estimate: Callable[[str], int] = estimate_tokens
) -> list[bool]:
    """Which entries fit ``budget``: the rule of :func:`select_within_budget`."""
    count = len(rows)
    rules = list(map(operator.eq, map(_KIND, rows), repeat(AmendmentKind.process)))
    order = list(compress(range(count), rules))
    order += compress(range(count - 1, -1, -1), map(operator.not_, reversed(rules)))
    texts = list(map(str.strip, map(_TEXT, rows)))
    default = estimate is estimate_tokens
    # No entry costs less than the shortest text as one line: once less budget
    # than that is left, nothing else can fit.
    smallest = _tokens_for_length(min(map(len, texts), default=0) + 2) + 1 if default else 0
    keep = [False] * count
    left = budget
    for index in order:
        if left < smallest:
            break
        text = texts[index]
        if default:
            cost = _entry_cost(text)
        else:
            cost = estimate(_line(text)) + 1
        if cost <= left:
            keep[index] = True
            left -= cost
    return keep


def select_within_budget(
    amendments: Sequence[Amendment],
    budget: int | None,
    estimate: Callable[[str], int] = estimate_tokens,
) -> tuple[list[Amendment], list[Amendment]]:
    """Choose the amendments that fit ``budget`` tokens; return (kept, left out).

    Process rules apply to every answer, so they are kept first; then facts,
    newest first (a newer fact is more likely the one the researcher is working
    on). Every entry that still fits is kept, so a short one can follow a long
    one that did not. The kept entries stay in creation order.
    """
    if budget is None:
        return list(amendments), []
    amendments = list(amendments)
    keep = _fitting(_rows(amendments), budget, estimate)
    return list(compress(amendments, keep)), list(compress(amendments, map(operator.not_, keep)))


def _constitution_parts(rows: Sequence[Row]) -> tuple[str, str]:
    """The constitution as (heading, intro and facts; process rules): the two parts
    joined by a blank line are :func:`render_constitution`'s text."""
    if not rows:
        return "", ""
    facts = [_line(text) for _, kind, text, _ in rows if kind == AmendmentKind.fact]
    rules = [_line(text) for _, kind, text, _ in rows if kind == AmendmentKind.process]
    head = [CONSTITUTION_HEADING, CONSTITUTION_INTRO]
    if facts:
        head.append(FACTS_HEADING + "\n" + "\n".join(facts))
    tail = PROCESS_HEADING + "\n" + "\n".join(rules) if rules else ""
    return "\n\n".join(head), tail


def render_constitution(amendments: Iterable[Amendment]) -> str:
    head, rules = _constitution_parts(_rows(amendments))
    return f"{head}\n\n{rules}" if rules else head


def _enabled(rows: Sequence[Row]) -> list[bool]:
    # Amendment.enabled
    return list(map(operator.eq, map(_STATUS, rows), repeat(AmendmentStatus.accepted)))


def context_amendments(
    context: CollabContext | None,
    *,
    extra: Sequence[Amendment] = (),
    exclude_ids: Iterable[str] = (),
) -> list[Amendment]:
    """Enabled amendments in creation order, plus ``extra`` (a candidate under preview)."""
    excluded = set(exclude_ids)
    base = context.amendments if context is not None else []
    enabled = list(compress(base, _enabled(_rows(base))))
    if excluded:
        enabled = [a for a in enabled if a.id not in excluded]
    return enabled + list(extra)


def history_window(
    count: int, keep: int = DEFAULT_HISTORY_TURNS, step: int = DEFAULT_HISTORY_STEP
) -> int:
    """Where the conversation sent with a prompt starts, given ``count`` earlier turns.

    At least the last ``keep`` turns are sent (none when ``keep`` is 0); older ones
    are dropped ``step`` at a time, so the start moves once every ``step`` cells
    instead of at every cell, and consecutive cells send the same conversation
    prefix (a sliding window would change it at each call, and with it every
    cached prefix that includes the conversation).
    """
    if keep <= 0:
        return count
    excess = max(0, count - keep)
    step = max(1, step)
    return excess - excess % step


def _layered_parts(rows: Sequence[Row], layers: Sequence[str | None]) -> tuple[str, str, str]:
    """The constitution with shared layers as (heading, intro and the shared layers;
    the notebook's facts; the notebook's process rules), each part possibly empty
    but the first."""
    sections = [CONSTITUTION_HEADING, CONSTITUTION_INTRO, LAYERS_INTRO]
    own_facts: list[str] = []
    own_rules: list[str] = []
    order: list[str] = []
    grouped: dict[str, tuple[list[str], list[str]]] = {}
    for row, layer in zip(rows, layers, strict=True):
        facts, rules = own_facts, own_rules
        if layer is not None:
            if layer not in grouped:
                order.append(layer)
                grouped[layer] = ([], [])
            facts, rules = grouped[layer]
        (facts if row[1] == AmendmentKind.fact else rules).append(_line(row[2]))
    for layer in order:
        facts, rules = grouped[layer]
        section = [LAYER_HEADINGS.get(layer, f"## {layer} layer")]
        if facts:
            section.append("### Facts\n" + "\n".join(facts))
        if rules:
            section.append("### Process rules\n" + "\n".join(rules))
        sections.append("\n\n".join(section))
    facts_part = OWN_FACTS_HEADING + "\n" + "\n".join(own_facts) if own_facts else ""
    rules_part = OWN_PROCESS_HEADING + "\n" + "\n".join(own_rules) if own_rules else ""
    return "\n\n".join(sections), facts_part, rules_part


def _row_layers(context: CollabContext | None) -> list[str | None]:
    """Each amendment's shared layer (``None``: the notebook's own), or ``[]`` when
    the context has no shared layers."""
    spans = context._shared_layers if context is not None else ()
    if not spans:
        return []
    layers: list[str | None] = []
    for layer, count in spans:
        layers += [layer] * count
    return layers + [None] * (len(context.amendments) - len(layers))


def _constitution_of(
    rows: Sequence[Row], layers: Sequence[str | None]
) -> tuple[str, str, str, str]:
    """(head, rules, shared, own facts) of ``rows``; ``shared`` and ``own facts`` are
    empty unless some row comes from a shared layer (``layers`` aligned with rows,
    or empty)."""
    if layers and any(layers):
        shared, own_facts, rules = _layered_parts(rows, layers)
        head = f"{shared}\n\n{own_facts}" if own_facts else shared
        return head, rules, shared, own_facts
    head, rules = _constitution_parts(rows)
    return head, rules, "", ""


@dataclass(frozen=True)
class _Rendered:
    """A context's constitution for one budget (what :func:`assemble` derives from
    the context alone)."""

    head: str
    rules: str
    entries: str  # the kept entries' lines alone (facts, then process rules)
    context_hash: str
    context_tokens: int
    included_ids: list[str]
    omitted_ids: list[str]
    kept: list[Row]  # the kept entries' rows, in creation order
    kept_layers: list[str | None]  # each kept row's shared layer (None: own), or []
    # With shared layers: the heading, intro and shared layers (``head`` starts
    # with it), and the notebook's own facts; both empty without shared entries.
    shared: str = ""
    own_facts: str = ""


# Contexts their holder promised not to change (see share_read_only), by id:
# (weak reference, renderings by budget).
_READ_ONLY: dict[int, tuple[weakref.ref, dict[int | None, _Rendered]]] = {}


def share_read_only(context: CollabContext) -> CollabContext:
    """Declare that ``context`` will not be changed any more, and return it.

    For a context parsed once and shared by many calls (the server door's
    per-path cache, the kernel door's notebook state): :func:`assemble` then
    keeps what it derives from the context alone (the amendments that fit the
    budget, the rendered constitution and its hash) and reuses it for every
    prompt, instead of going through every amendment again. Changing a context
    after sharing it would leave that rendering stale: make a copy to change
    (``CollabContext.editable_copy()``).
    """
    key = id(context)
    entry = _READ_ONLY.get(key)
    if entry is None or entry[0]() is not context:

        def forget(ref: weakref.ref, key: int = key) -> None:
            current = _READ_ONLY.get(key)
            if current is not None and current[0] is ref:
                del _READ_ONLY[key]

        _READ_ONLY[key] = (weakref.ref(context, forget), {})
    return context


def is_shared_read_only(context: CollabContext | None) -> bool:
    if context is None:
        return False
    entry = _READ_ONLY.get(id(context))
    return entry is not None and entry[0]() is context


def _render(
    context: CollabContext | None,
    extra: Sequence[Amendment],
    exclude_ids: Iterable[str],
    budget: int | None,
    estimate: Callable[[str], int],
) -> _Rendered:
    exclude_ids = tuple(exclude_ids)
    memo = None
    if context is not None and not extra and not exclude_ids and estimate is estimate_tokens:
        entry = _READ_ONLY.get(id(context))
        if entry is not None and entry[0]() is context:
            memo = entry[1]
            found = memo.get(budget)
            if found is not None:
                return found
    # context_amendments and select_within_budget, on rows read once.
    rows = _rows(context.amendments) if context is not None else []
    layers = _row_layers(context)
    enabled = _enabled(rows)
    rows = list(compress(rows, enabled))
    layers = list(compress(layers, enabled))
    if exclude_ids:
        excluded = set(exclude_ids)
        if layers:
            pairs = zip(rows, layers, strict=True)
            layers = [layer for row, layer in pairs if row[3] not in excluded]
        rows = [row for row in rows if row[3] not in excluded]
    rows += _rows(extra)
    keep = _fitting(rows, budget, estimate) if budget is not None else [True] * len(rows)
    kept = list(compress(rows, keep))
    kept_layers = list(compress(layers + [None] * len(extra), keep)) if layers else []
    head, rules, shared, own_facts = _constitution_of(kept, kept_layers)
    constitution = f"{head}\n\n{rules}" if rules else head
    facts = [_line(text) for _, kind, text, _ in kept if kind == AmendmentKind.fact]
    process = [_line(text) for _, kind, text, _ in kept if kind == AmendmentKind.process]
    rendered = _Rendered(
        head=head,
        rules=rules,
        entries="\n".join(facts + process),
        context_hash=sha256_text(constitution),
        context_tokens=estimate(constitution) if constitution else 0,
        included_ids=list(map(_ID, kept)),
        omitted_ids=list(map(_ID, compress(rows, map(operator.not_, keep)))),
        kept=kept,
        kept_layers=kept_layers,
        shared=shared,
        own_facts=own_facts,
    )
    if memo is not None:
        memo[budget] = rendered
    return rendered


def _split_at_anchor(
    kept: Sequence[Row], kept_layers: Sequence[str | None], window: Sequence[Turn]
) -> tuple[list[Row], list[str | None], list[Row]] | None:
    """The kept entries as (before the conversation, their layers, added during it),
    or ``None``
    when they all go before it.

    The anchor is the oldest turn sent: the entries its answer was given with stay
    in the system prompt, and the ones added since follow the conversation, so an
    amendment finalized while working leaves the system prompt and the
    conversation, both cached, as the previous cell sent them. The anchor moves
    when old turns are dropped (the conversation is written to the cache again
    then anyway), and the system prompt takes in what was added until then. A turn
    whose amendments are not known, or that was answered without any (before the
    first amendment, or with ``--no-context``), splits nothing.
    """
    if not window or not window[0].included:
        return None
    anchor = set(window[0].included)
    stays = [row[3] in anchor for row in kept]
    if all(stays):
        return None
    before = list(compress(kept, stays))
    before_layers = list(compress(kept_layers, stays)) if kept_layers else []
    return before, before_layers, [row for row in kept if row[3] not in anchor]


def _added_text(rows: Sequence[Row]) -> str:
    head, rules = _constitution_parts(rows)
    # The same facts/rules sections as the constitution, under their own heading.
    sections = head.split("\n\n", 2)[2:] if head else []
    if rules:
        sections.append(rules)
    return "\n\n".join([ADDED_HEADING, ADDED_INTRO, *sections])


def assemble(
    prompt: str,
    *,
    context: CollabContext | None,
    mode: Mode | str | None = None,
    history: Sequence[Turn] = (),
    history_turns: int = DEFAULT_HISTORY_TURNS,
    history_step: int = DEFAULT_HISTORY_STEP,
    extra_amendments: Sequence[Amendment] = (),
    exclude_ids: Iterable[str] = (),
    token_budget: int | None = None,
    model: str | None = None,
    max_tokens: int = 1024,
    temperature: float | None = None,
    estimate: Callable[[str], int] = estimate_tokens,
    placement: Placement | None = None,
    continued: bool = True,
) -> AssembledPrompt:
    """The request for ``prompt``; ``placement`` overrides the model family's
    (:func:`constitution_placement` of ``model``, which callers pass resolved).
    ``continued``: a later request may send this prompt as history (not so for a
    cell run without history), so the prompt closes a cached prefix."""
    if not prompt.strip():
        from .errors import InvalidRequestError

        raise InvalidRequestError("the prompt is empty")
    settings_mode = context.settings.mode if context is not None else Mode.research
    persona = persona_text(mode or settings_mode)
    rendered = _render(context, extra_amendments, exclude_ids, token_budget, estimate)
    where = placement or constitution_placement(model)
    turns = list(history)
    window = turns[history_window(len(turns), history_turns, history_step) :]
    head, rules, added = rendered.head, rendered.rules, ""
    shared, own_facts = rendered.shared, rendered.own_facts
    split = (
        _split_at_anchor(rendered.kept, rendered.kept_layers, window)
        if where is Placement.system
        else None
    )
    if split is not None:
        head, rules, shared, own_facts = _constitution_of(split[0], split[1])
        added = _added_text(split[2])
    if where is Placement.user_prefix and head:
        system = [SystemBlock(text=persona, cache=True)]
        constitution = f"{head}\n\n{rules}" if rules else head
        prompt = f"{constitution}\n\n{prompt}"
    elif shared:
        # Most stable first: persona and the shared layers, then the notebook's
        # facts, then its process rules, each closing a cached prefix.
        system = [SystemBlock(text=f"{persona}\n\n{shared}", cache=True)]
        for part in (own_facts, rules):
            if part:
                system.append(SystemBlock(text=part, cache=True))
    # Two cached blocks: a process rule added while working leaves persona + facts
    # cached. Joined by a blank line they are the one block of earlier versions.
    elif rules:
        system = [
            SystemBlock(text=f"{persona}\n\n{head}", cache=True),
            SystemBlock(text=rules, cache=True),
        ]
    else:
        text = f"{persona}\n\n{head}" if head else persona
        system = [SystemBlock(text=text, cache=True)]

    messages: list[Message] = []
    for turn in window:
        messages.append(Message(role="user", content=turn.prompt))
        messages.append(Message(role="assistant", content=turn.answer))
    if messages:
        messages[-1].cache = True
    if where is Placement.reminder and rendered.entries:
        prompt = f"{prompt}\n\n{REMINDER_HEADING}\n{rendered.entries})"
    if added:
        prompt = f"{added}\n\n{prompt}"
    # The fourth breakpoint (see the module's docstring): the next cell reads this
    # prompt from the cache. A request that no later one continues would pay the
    # cache write price (1.25x) on its prompt instead of the plain price for nothing.
    messages.append(Message(role="user", content=prompt, cache=continued))
    _within_breakpoint_limit(system, messages)

    request = ChatRequest(
        model=model,
        system=system,
        messages=messages,
        max_tokens=max_tokens,
        temperature=temperature,
    )
    return AssembledPrompt(
        request=request,
        context_hash=rendered.context_hash,
        context_revision=context.revision if context is not None else 0,
        context_tokens=rendered.context_tokens,
        included_ids=list(rendered.included_ids),
        omitted_ids=list(rendered.omitted_ids),
    )


def _within_breakpoint_limit(system: list[SystemBlock], messages: list[Message]) -> None:
    """Unmark system blocks beyond :data:`MAX_CACHE_BREAKPOINTS`, inner ones first:
    the first block (persona and the most stable layers) and the last (the whole
    system prompt) are the prefixes most often read again. Only the billing
    changes: the text and :func:`input_hash` do not."""
    marks = sum(block.cache for block in system) + sum(message.cache for message in messages)
    excess = marks - MAX_CACHE_BREAKPOINTS
    for block in [*system[1:-1], *system]:
        if excess <= 0:
            break
        if block.cache:
            block.cache = False
            excess -= 1


def input_hash(provider: str, model: str, request: ChatRequest) -> str:
    """A hash of everything that shapes an answer; equal hashes may replay.

    Cache breakpoints change what is billed, not the answer, so they must not
    make stored answers stale: the messages count by role and text only, and the
    system prompt by its text, whatever blocks it is split into (hashed in the
    form it had as one cached block, so answers recorded then still match).
    """
    system = request.system_text()
    return hash_json(
        {
            "provider": provider,
            "model": model,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "system": [{"text": system, "cache": True}] if request.system else [],
            "messages": [
                message.model_dump(include={"role", "content"}) for message in request.messages
            ],
        }
    )
