"""What every loop operation shares: the structured call, small response models
whose JSON schema suits both Anthropic tool use and llama.cpp grammars, and the
text helpers that put an answer and its highlighted span into a prompt."""

from __future__ import annotations

import copy
import difflib
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, create_model

from ..providers.base import ChatRequest, Message, Provider, SystemBlock
from ..structured import call_structured

T = TypeVar("T", bound=BaseModel)

#: Output budget of one structured call (schemas bound every string and array,
#: so a grammar-constrained local model always closes its JSON within it).
OPS_MAX_TOKENS = 2048
#: How much of an answer a prompt quotes (small local models have small contexts).
MAX_QUOTED_ANSWER = 6_000


def _inline_refs(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            resolved = _inline_refs(copy.deepcopy(defs[name]), defs)
            extra = {k: v for k, v in node.items() if k != "$ref"}
            return {**resolved, **_inline_refs(extra, defs)}
        return {
            key: _inline_refs(value, defs)
            for key, value in node.items()
            if key not in ("$defs", "title")
        }
    if isinstance(node, list):
        return [_inline_refs(item, defs) for item in node]
    return node


class OpsResponse(BaseModel):
    """Base of the operations' response models.

    Its JSON schema is flat (no ``$defs``/``$ref``, no titles) and every field is
    required, the subset that Anthropic tool use, llama.cpp's JSON-schema
    grammars and strict OpenAI ``json_schema`` all accept.
    """

    model_config = ConfigDict(extra="forbid")

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        schema = super().model_json_schema(*args, **kwargs)
        return _inline_refs(schema, schema.get("$defs", {}))


@lru_cache(maxsize=128)
def with_max_items(
    model: type[OpsResponse], limits: tuple[tuple[str, int, int], ...]
) -> type[OpsResponse]:
    """``model`` whose JSON schema asks for ``(name, min_items, max_items)`` items.

    The schema then asks for as many items as wanted, so a grammar-driven model
    spends no tokens on items that would be dropped. Validation keeps the base
    model's wider bounds: a model that returns one item too many is truncated
    by the caller, not retried.
    """
    fields: dict[str, Any] = {}
    for name, low, high in limits:
        base = model.model_fields[name]
        bounds = {
            key: getattr(item, key)
            for item in base.metadata
            for key in ("min_length", "max_length")
            if hasattr(item, key)
        }
        extra = {"minItems": min(low, high), "maxItems": high}
        fields[name] = (base.annotation, Field(**bounds, json_schema_extra=extra))
    return create_model(model.__name__, __base__=model, **fields)


@dataclass
class OpsClient:
    """The provider, model and sampling settings the operations call with."""

    provider: Provider
    model: str | None = None
    temperature: float | None = 0.0
    max_tokens: int = OPS_MAX_TOKENS

    async def structured(
        self,
        system: str,
        user: str,
        response: type[T],
        *,
        name: str,
        description: str,
    ) -> T:
        request = ChatRequest(
            model=self.model,
            # The instructions are the same for every call of an operation: the
            # breakpoint lets Anthropic cache them once they are long enough.
            system=[SystemBlock(text=system, cache=True)],
            messages=[Message(role="user", content=user)],
            max_tokens=self.max_tokens,
            temperature=self.temperature,
        )
        return await call_structured(
            self.provider, request, response, name=name, description=description
        )


# -- text helpers -------------------------------------------------------------


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, marking the cut."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 1)].rstrip() + "…"


def one_line(text: str, limit: int = 80) -> str:
    return clip(" ".join(text.split()), limit)


def normalize(text: str) -> str:
    """Case, punctuation and spacing removed: for duplicate detection."""
    return " ".join(re.sub(r"[^\w\s]", " ", text.casefold()).split())


_CONTENT_WORD = re.compile(r"\w{4,}")


def content_words(text: str) -> set[str]:
    """The words of ``text`` long enough to carry its topic (four letters or more),
    after :func:`normalize`."""
    return set(_CONTENT_WORD.findall(normalize(text)))


def word_overlap(words: set[str], theirs: set[str]) -> float:
    """How many of the content words ``theirs`` ``words`` shares, damped for long
    texts: the ranking of which entries are likely to pull against each other (a
    cheap filter before a probe or a model is asked, never the verdict itself)."""
    return len(words & theirs) / (1 + len(theirs))


def similarity(a: str, b: str) -> float:
    """0..1 similarity of two entry texts after :func:`normalize`."""
    left, right = normalize(a), normalize(b)
    if not left or not right:
        return 1.0 if left == right else 0.0
    if left == right:
        return 1.0
    return difflib.SequenceMatcher(None, left, right, autojunk=False).ratio()


def marked_answer(answer: str, start: int, end: int, limit: int = MAX_QUOTED_ANSWER) -> str:
    """The answer with the highlighted span between ``[[`` and ``]]``.

    Long answers are cut around the span so the span is always shown.
    """
    start = max(0, min(start, len(answer)))
    end = max(start, min(end, len(answer)))
    marked = f"{answer[:start]}[[{answer[start:end]}]]{answer[end:]}"
    if len(marked) <= limit:
        return marked
    half = max(0, (limit - (end - start)) // 2)
    lo = max(0, start - half)
    hi = min(len(marked), end + 4 + half)
    return ("…" if lo > 0 else "") + marked[lo:hi] + ("…" if hi < len(marked) else "")


def dedupe_texts(texts: list[str]) -> list[str]:
    """Drop blanks and repeats (after normalization), keeping first occurrences."""
    seen: set[str] = set()
    kept: list[str] = []
    for text in texts:
        key = normalize(text)
        if not key or key in seen:
            continue
        seen.add(key)
        kept.append(text.strip())
    return kept
