"""Parsing a collaborator cell: ``%%collab [options]`` then the prompt.

Both doors parse cells here (the lab extension sends the raw cell source to the
server), so options mean the same thing everywhere.
"""

from __future__ import annotations

import argparse
import functools
import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from .context_model import Mode
from .errors import InvalidRequestError

CELL_MAGIC = "%%collab"
# ``{name}`` or ``{name.attr}``; ``{{`` and ``}}`` are literal braces.
_VARIABLE = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\}(?!\})")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would exit the process
        raise InvalidRequestError(f"{CELL_MAGIC}: {message}")


@functools.cache
def _parser() -> _Parser:
    # Built once: parse_args keeps no state between calls, and building the
    # parser was a third of each cell's replay time.
    parser = _Parser(prog=CELL_MAGIC, add_help=False, allow_abbrev=False)
    parser.add_argument("--model", "-m", default=None)
    parser.add_argument("--mode", choices=[m.value for m in Mode], default=None)
    parser.add_argument("--temperature", "-t", type=float, default=None)
    parser.add_argument("--max-tokens", type=int, default=None, dest="max_tokens")
    parser.add_argument("--no-history", action="store_true", dest="no_history")
    parser.add_argument("--no-context", action="store_true", dest="no_context")
    return parser


@dataclass
class CellOptions:
    model: str | None = None
    mode: Mode | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    no_history: bool = False
    no_context: bool = False


@dataclass
class CollabCell:
    options: CellOptions
    prompt: str
    variables: list[str] = field(default_factory=list)


def parse_options(line: str) -> CellOptions:
    try:
        args = shlex.split(line)
    except ValueError as err:
        raise InvalidRequestError(f"{CELL_MAGIC}: cannot read the options ({err})") from None
    parsed = _parser().parse_args(args)
    if parsed.temperature is not None and not 0 <= parsed.temperature <= 2:
        raise InvalidRequestError(f"{CELL_MAGIC}: --temperature must be between 0 and 2")
    if parsed.max_tokens is not None and parsed.max_tokens < 1:
        raise InvalidRequestError(f"{CELL_MAGIC}: --max-tokens must be a positive number")
    return CellOptions(
        model=parsed.model,
        mode=Mode(parsed.mode) if parsed.mode else None,
        temperature=parsed.temperature,
        max_tokens=parsed.max_tokens,
        no_history=parsed.no_history,
        no_context=parsed.no_context,
    )


def parse_cell(source: str) -> CollabCell:
    """Split a whole cell source into options and prompt."""
    stripped = source.lstrip()
    if not stripped.startswith(CELL_MAGIC):
        raise InvalidRequestError(f"not a collaborator cell: it must start with {CELL_MAGIC}")
    first, _, body = stripped.partition("\n")
    options = parse_options(first[len(CELL_MAGIC) :])
    prompt = body.strip()
    if not prompt:
        raise InvalidRequestError("the collaborator cell has no prompt below %%collab")
    return CollabCell(options=options, prompt=prompt, variables=referenced_names(prompt))


def referenced_names(prompt: str) -> list[str]:
    """Names referenced as ``{name}``, in first-seen order, without duplicates."""
    seen: dict[str, None] = {}
    for match in _VARIABLE.finditer(prompt):
        seen.setdefault(match.group(1), None)
    return list(seen)


def fill_variables(
    prompt: str, values: Mapping[str, str] | Callable[[str], str | None]
) -> tuple[str, list[str]]:
    """Replace ``{name}`` with its value; unknown names stay as written.

    Returns the filled prompt and the names that were filled. ``{{``/``}}``
    become literal braces.
    """
    lookup = values.get if isinstance(values, Mapping) else values
    filled: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        value = lookup(name)
        if value is None:
            return match.group(0)
        if name not in filled:
            filled.append(name)
        return str(value)

    text = _VARIABLE.sub(substitute, prompt)
    return text.replace("{{", "{").replace("}}", "}"), filled
