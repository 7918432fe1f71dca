"""Prompt assembly: deterministic and byte-stable.

Order: the base persona, then the notebook's facts, then its process rules
(enabled amendments, each kind in creation order), then the conversation
(earlier collaborator turns, when wanted), then the prompt. The persona and the
constitution form one system block that closes with a cache breakpoint, so
later calls of the notebook read it from the provider's prompt cache.

Appending an amendment never changes the bytes before the point where it is
inserted, which is what keeps earlier cache prefixes valid.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from .hashing import hash_json, sha256_text
from .models import Amendment, AmendmentKind, CollabContext, Mode
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
DEFAULT_HISTORY_TURNS = 6


def estimate_tokens(text: str) -> int:
    """A provider-independent estimate (about four characters a token)."""
    return (len(text) + 3) // 4


@dataclass(frozen=True)
class Turn:
    """An earlier collaborator exchange of the same notebook."""

    prompt: str
    answer: str


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
    text = amendment.text.strip().replace("\n", "\n  ")
    return f"- {text}"


def select_within_budget(
    amendments: Sequence[Amendment],
    budget: int | None,
    estimate: Callable[[str], int] = estimate_tokens,
) -> tuple[list[Amendment], list[Amendment]]:
    """Choose the amendments that fit ``budget`` tokens; return (kept, left out).

    Process rules apply to every answer, so they are kept first; then facts,
    newest first (a newer fact is more likely the one the researcher is working
    on). The kept entries stay in creation order.
    """
    if budget is None:
        return list(amendments), []
    order = [a for a in amendments if a.kind == AmendmentKind.process] + [
        a for a in reversed(amendments) if a.kind == AmendmentKind.fact
    ]
    kept_ids: set[str] = set()
    used = 0
    for amendment in order:
        cost = estimate(_entry_line(amendment)) + 1
        if used + cost <= budget:
            kept_ids.add(amendment.id)
            used += cost
    kept = [a for a in amendments if a.id in kept_ids]
    omitted = [a for a in amendments if a.id not in kept_ids]
    return kept, omitted


def render_constitution(amendments: Iterable[Amendment]) -> str:
    amendments = list(amendments)
    facts = [a for a in amendments if a.kind == AmendmentKind.fact]
    rules = [a for a in amendments if a.kind == AmendmentKind.process]
    if not amendments:
        return ""
    parts = [CONSTITUTION_HEADING, CONSTITUTION_INTRO]
    if facts:
        parts.append(FACTS_HEADING + "\n" + "\n".join(_entry_line(a) for a in facts))
    if rules:
        parts.append(PROCESS_HEADING + "\n" + "\n".join(_entry_line(a) for a in rules))
    return "\n\n".join(parts)


def context_amendments(
    context: CollabContext | None,
    *,
    extra: Sequence[Amendment] = (),
    exclude_ids: Iterable[str] = (),
) -> list[Amendment]:
    """Enabled amendments in creation order, plus ``extra`` (a candidate under preview)."""
    excluded = set(exclude_ids)
    base = context.enabled_amendments() if context is not None else []
    return [a for a in base if a.id not in excluded] + list(extra)


def assemble(
    prompt: str,
    *,
    context: CollabContext | None,
    mode: Mode | str | None = None,
    history: Sequence[Turn] = (),
    history_turns: int = DEFAULT_HISTORY_TURNS,
    extra_amendments: Sequence[Amendment] = (),
    exclude_ids: Iterable[str] = (),
    token_budget: int | None = None,
    model: str | None = None,
    max_tokens: int = 1024,
    temperature: float | None = None,
    estimate: Callable[[str], int] = estimate_tokens,
) -> AssembledPrompt:
    if not prompt.strip():
        from .errors import InvalidRequestError

        raise InvalidRequestError("the prompt is empty")
    settings_mode = context.settings.mode if context is not None else Mode.research
    persona = persona_text(mode or settings_mode)
    candidates = context_amendments(context, extra=extra_amendments, exclude_ids=exclude_ids)
    kept, omitted = select_within_budget(candidates, token_budget, estimate)
    constitution = render_constitution(kept)
    system = persona if not constitution else f"{persona}\n\n{constitution}"

    messages: list[Message] = []
    for turn in list(history)[-history_turns:] if history_turns > 0 else []:
        messages.append(Message(role="user", content=turn.prompt))
        messages.append(Message(role="assistant", content=turn.answer))
    if messages:
        messages[-1].cache = True
    messages.append(Message(role="user", content=prompt))

    request = ChatRequest(
        model=model,
        system=[SystemBlock(text=system, cache=True)],
        messages=messages,
        max_tokens=max_tokens,
        temperature=temperature,
    )
    return AssembledPrompt(
        request=request,
        context_hash=sha256_text(constitution),
        context_revision=context.revision if context is not None else 0,
        context_tokens=estimate(constitution) if constitution else 0,
        included_ids=[a.id for a in kept],
        omitted_ids=[a.id for a in omitted],
    )


def input_hash(provider: str, model: str, request: ChatRequest) -> str:
    """A hash of everything that shapes an answer; equal hashes may replay."""
    return hash_json(
        {
            "provider": provider,
            "model": model,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "system": [block.model_dump() for block in request.system],
            # Role and text only: a cache breakpoint changes what is billed, not
            # the answer, so it must not make stored answers stale.
            "messages": [
                message.model_dump(include={"role", "content"}) for message in request.messages
            ],
        }
    )
