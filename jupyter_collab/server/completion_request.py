"""The wire models of asking: a collaborator cell's source parsed for the front end,
and a completion request turned into the core's :class:`CompletionInput`."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

from pydantic import Field, model_validator

from ..core.cellsource import fill_variables, parse_cell
from ..core.context_model import Mode
from ..core.history import turns_above
from ..core.operation_models import MAX_PROMPT, CompletionInput, TurnModel
from ..core.values import value_expression
from .route_models import NotebookPath, WireModel

MAX_VARIABLES = 200
MAX_CELLS_ABOVE = 10_000
MAX_VARIABLE_REPR = 100_000


class CellSourceRequest(WireModel):
    """``POST cell``: the whole source of a collaborator cell."""

    source: str = Field(max_length=MAX_PROMPT)


class ParsedCellOptions(WireModel):
    """The options of the ``%%collab`` line (``None``/``False``: not given)."""

    mode: Mode | None = None
    model: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    no_history: bool = False
    no_context: bool = False


class ParsedCell(WireModel):
    """``POST cell``'s answer: the cell as the core reads it, with the names its
    prompt references (``{name}``), which the front end reads from the kernel."""

    prompt: str
    variables: list[str]
    expressions: dict[str, str] = Field(
        description="for each referenced name, the Python expression the front end "
        "evaluates in the kernel (a user_expressions entry): the value formatted by "
        "the core's rule, JSON-encoded in a str"
    )
    options: ParsedCellOptions

    @classmethod
    def of(cls, source: str) -> ParsedCell:
        cell = parse_cell(source)
        return cls(
            prompt=cell.prompt,
            variables=cell.variables,
            expressions={name: value_expression(name) for name in cell.variables},
            options=ParsedCellOptions(**dataclasses.asdict(cell.options)),
        )


class CellOutputBundle(WireModel):
    """The ``data`` of one output of a cell (a MIME bundle)."""

    data: dict[str, Any] = Field(default_factory=dict)


class CellAbove(WireModel):
    """A cell above the one that runs, as the notebook model holds it."""

    cell_type: str = Field(max_length=50)
    source: str = Field(default="", max_length=MAX_PROMPT)
    outputs: list[CellOutputBundle] = Field(default_factory=list, max_length=1000)


class CompletionRequest(WireModel):
    """Ask: either the whole cell ``source`` (``%%collab [options]`` + prompt) or a
    ``prompt`` with explicit options. ``variables`` are ``{name: repr}`` the front
    end already read from the kernel; ``{name}`` references are filled with them.

    The conversation the cell continues is either ``cells_above`` (the notebook's
    cells above this one, unsaved edits included; the turns are taken from them
    by the core's rule, as in the kernel door) or explicit ``history`` turns."""

    path: NotebookPath | None = None
    source: str | None = Field(default=None, max_length=MAX_PROMPT)
    prompt: str | None = Field(default=None, max_length=MAX_PROMPT)
    variables: dict[str, Annotated[str, Field(max_length=MAX_VARIABLE_REPR)]] = Field(
        default_factory=dict, max_length=MAX_VARIABLES
    )
    cell_id: str | None = Field(default=None, max_length=200)
    history: list[TurnModel] = Field(default_factory=list, max_length=200)
    cells_above: list[CellAbove] | None = Field(default=None, max_length=MAX_CELLS_ABOVE)
    mode: Mode | None = None
    model: str | None = Field(default=None, max_length=200)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    max_tokens: int | None = Field(default=None, ge=1, le=200_000)
    use_context: bool = True
    use_history: bool = True

    @model_validator(mode="after")
    def _one_of_source_or_prompt(self) -> CompletionRequest:
        if (self.source is None) == (self.prompt is None):
            raise ValueError("give exactly one of 'source' (the whole cell) or 'prompt'")
        if self.cells_above is not None and self.history:
            raise ValueError("give either 'cells_above' or 'history', not both")
        return self

    def conversation(self) -> list[TurnModel]:
        """The turns this cell continues: from ``cells_above`` when given."""
        if self.cells_above is None:
            return self.history
        cells = [cell.model_dump() for cell in self.cells_above]
        return turns_above({"cells": cells}, len(cells))

    def to_input(self) -> CompletionInput:
        """The core's input: cell options first, then the request's own fields."""
        if self.source is not None:
            cell = parse_cell(self.source)
            options = cell.options
            prompt = cell.prompt
            mode = options.mode or self.mode
            model = options.model or self.model
            temperature = (
                options.temperature if options.temperature is not None else self.temperature
            )
            max_tokens = options.max_tokens or self.max_tokens
            use_context = self.use_context and not options.no_context
            use_history = self.use_history and not options.no_history
        else:
            prompt = self.prompt or ""
            mode, model = self.mode, self.model
            temperature, max_tokens = self.temperature, self.max_tokens
            use_context, use_history = self.use_context, self.use_history
        filled, _ = fill_variables(prompt, self.variables)
        return CompletionInput(
            prompt=filled,
            cell_id=self.cell_id,
            mode=mode,
            model=model,
            temperature=temperature,
            max_tokens=max_tokens,
            history=self.conversation(),
            use_context=use_context,
            use_history=use_history,
        )
