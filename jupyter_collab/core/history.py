"""The conversation a collaborator cell continues: earlier collaborator turns.

A collaborator cell's history is the list of (prompt, answer) turns of the
collaborator cells *above it* in the notebook that have an answer, in notebook
order. The prompt of a turn is the stored ``result.prompt``, i.e. the prompt
after ``{name}`` filling, exactly as it was sent; the answer is the stored
answer text. This is the only implementation: the server door applies it to
the cells the lab front end sends from its notebook model (unsaved edits
included), the kernel door to the notebook on disk plus the answers of its own
session, so a cell's input hash does not depend on the door.

Plain Python, no IPython: works on nbformat dicts (or ``NotebookNode``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .notebook import is_collab_cell
from .operation_models import CompletionResult, TurnModel
from .outputs import find_cell_output


def cell_key(cell: Mapping[str, Any], index: int) -> str:
    """A cell's id, or ``#index`` for notebooks older than nbformat 4.5 (no ids)."""
    cell_id = cell.get("id")
    return str(cell_id) if cell_id else f"#{index}"


def cell_source(cell: Mapping[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def stored_result(cell: Mapping[str, Any]) -> CompletionResult | None:
    found = find_cell_output(dict(cell))
    return found.result if found is not None else None


def turns_above(
    notebook: Mapping[str, Any],
    cell_index: int,
    session: Mapping[str, CompletionResult] | None = None,
) -> list[TurnModel]:
    """Turns of the collaborator cells above ``cell_index``, in notebook order.

    ``session`` maps cell keys (see :func:`cell_key`) to answers given since the
    notebook was saved; they take precedence over the outputs on disk.
    """
    session = session or {}
    turns: list[TurnModel] = []
    for index, cell in enumerate(list(notebook.get("cells") or [])[: max(0, cell_index)]):
        if not is_collab_cell(dict(cell)):
            continue
        result = session.get(cell_key(cell, index)) or stored_result(cell)
        if result is not None and result.answer:
            turns.append(turn_of(result))
    return turns


def turn_of(result: CompletionResult) -> TurnModel:
    """The turn an answer adds to the conversation, with the amendments it was
    answered with (prompt assembly keeps those before the conversation)."""
    return TurnModel(
        prompt=result.prompt,
        answer=result.answer,
        included_amendments=list(result.included_amendments),
    )


def turns_for_cell(
    notebook: Mapping[str, Any] | None,
    cell_index: int | None,
    session: Mapping[str, CompletionResult] | None = None,
    session_order: Sequence[str] = (),
    current_key: str | None = None,
) -> list[TurnModel]:
    """The history of one cell.

    With the notebook and the cell's place in it, the turns above the cell. When
    the cell could not be located (no notebook found, or a cell that is not
    saved yet), the answers of this session in the order they were given,
    excluding the current cell.
    """
    if notebook is not None and cell_index is not None:
        return turns_above(notebook, cell_index, session)
    session = session or {}
    turns = []
    for key in session_order:
        if key == current_key or key not in session:
            continue
        result = session[key]
        if result.answer:
            turns.append(turn_of(result))
    return turns


def collab_cell_prompts(notebook: Mapping[str, Any]) -> list[str]:
    """The stored (filled) prompts of the notebook's answered collaborator cells."""
    prompts = []
    for cell in notebook.get("cells") or []:
        if is_collab_cell(dict(cell)):
            result = stored_result(cell)
            if result is not None:
                prompts.append(result.prompt)
    return prompts
