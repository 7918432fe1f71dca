"""The probes of a promotion's model preview: prompts of the other notebooks the
moved entry would reach, each to be answered with that notebook's own context in
effect (its notebook context and the layers that reach it, ``layers.py``)
without the entry (baseline) and with it (amended). An import from another
notebook is previewed the same way on the importing notebook's own prompts
(:func:`import_effect`).

:func:`preview_move` (``layer_preview.py``) says which notebooks a move reaches;
this module picks their prompts (parsed by the one cell parser,
``notebook.collab_prompts``) and loads their contexts, so both doors run the
same preview (``Broker.preview_move``). Nothing here calls a model or writes.

* The source notebook is left out (its answers already have the entry), and so
  is every notebook that already says the same (the repeats check).
* A project layer reaches the notebooks ``preview_move`` lists; the personal
  layer reaches every notebook, so the notebooks under ``personal_root`` (the
  server root, the CLI's folder) that have collaborator cells stand in for
  them, most recently modified first.
* Each notebook gives its most recent prompts, spread round-robin across the
  notebooks so one long notebook does not take every probe.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .context_model import MAX_QUOTE_TEXT, Amendment, CollabContext, ProbeKind
from .errors import CollabError
from .layer_moves import notebook_layer_path
from .layer_preview import MovePreview, notebooks_under
from .layers import context_in_effect
from .notebook import collab_prompts, read_notebook_file
from .operation_models import AmendmentDraft, Probe
from .operations.amend import repeats
from .operations.common import clip
from .store import LocalContextStore, read_context_file

#: Prompts asked per reached notebook: its most recent ones, which say best what
#: it is used for now; two show a change without one notebook dominating.
PROBES_PER_NOTEBOOK = 2
#: Probes in all: each costs two answers (and a judge call when they differ), and
#: a promotion's preview should take about as long as an amendment's (whose own
#: fixed and generated probes are about a dozen).
MAX_EFFECT_PROBES = 12

#: Prompts of the importing notebook an import's preview asks: its most recent
#: ones, as many as an amendment's preview takes from the notebook.
IMPORT_PROBES = 6

EXPECT_IMPORTED = (
    "A prompt of {notebook}, which the entry would be imported into: it may change only "
    "where the entry applies."
)

EXPECT_REACHED = (
    "A prompt of {notebook}, which the entry would reach: it may change only where the "
    "entry applies."
)


@dataclass
class LayerEffect:
    """What a promotion's model preview asks: the entry as a draft, the probes (each
    naming its notebook) and each notebook's context in effect today, by that name."""

    draft: AmendmentDraft
    probes: list[Probe]
    contexts: dict[str, CollabContext | None]
    #: Notebooks left out because they could not be read, each with why.
    problems: list[str] = field(default_factory=list)


def _same_file(a: Path, b: Path) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def _recent_first(folder: Path) -> list[Path]:
    found, _truncated = notebooks_under(folder)

    def modified(path: Path) -> float:
        try:
            return path.stat().st_mtime
        except OSError:
            return 0.0

    return sorted(found, key=modified, reverse=True)


def _repeats_entry(notebook: Path, draft: AmendmentDraft, entry_id: str) -> bool:
    own_path = notebook_layer_path(notebook)
    own = read_context_file(own_path, str(own_path))
    others = [a for a in (own.amendments if own else []) if a.id != entry_id]
    return bool(repeats(draft.text, others))


def _candidates(move: MovePreview, personal_root: Path | None) -> list[tuple[Path, bool]]:
    """The notebooks the move reaches, each with whether it still needs the repeats
    check (``preview_move`` did it for a project layer's)."""
    if not move.every_notebook:
        return [(effect.notebook, False) for effect in move.notebooks if effect.effect == "gains"]
    if personal_root is None:
        return []
    return [(path, True) for path in _recent_first(personal_root)]


def _round_robin(prompts: list[tuple[Path, list[str]]]) -> list[tuple[Path, str]]:
    """The newest prompt of each notebook, then the next newest, … up to the bound."""
    picked: list[tuple[Path, str]] = []
    for depth in range(PROBES_PER_NOTEBOOK):
        for notebook, recent in prompts:
            if depth < len(recent) and len(picked) < MAX_EFFECT_PROBES:
                picked.append((notebook, recent[depth]))
    return picked


def layer_effect(
    move: MovePreview,
    source_notebook: str | os.PathLike[str],
    *,
    root: str | os.PathLike[str] | None = None,
    personal_root: str | os.PathLike[str] | None = None,
    name: Callable[[Path], str] = str,
) -> LayerEffect:
    """The probes of ``move``'s model preview and their notebooks' contexts.

    ``root`` bounds the project layer's walk (as for every prompt of the door);
    ``personal_root`` is the folder whose notebooks stand in for "every notebook"
    when the target is the personal layer; ``name`` is how a notebook is named on
    its probes (the server: its path under the root)."""
    entry = move.entry
    draft = _draft(entry)
    source = Path(source_notebook)
    folder = Path(personal_root) if personal_root is not None else None
    problems: list[str] = []
    with_prompts: list[tuple[Path, list[str]]] = []
    contexts: dict[str, CollabContext | None] = {}
    for notebook, check_repeats in _candidates(move, folder):
        # Enough notebooks for the round-robin to fill every probe: stop reading.
        enough = sum(min(len(p), PROBES_PER_NOTEBOOK) for _, p in with_prompts)
        if enough >= MAX_EFFECT_PROBES or len(with_prompts) >= MAX_EFFECT_PROBES:
            break
        if _same_file(notebook, source):
            continue
        try:
            prompts, _cell_problems = collab_prompts(read_notebook_file(notebook))
            if not prompts:
                continue
            if check_repeats and _repeats_entry(notebook, draft, entry.id):
                continue
            own = LocalContextStore(notebook).load_for_prompt()
            contexts[name(notebook)] = context_in_effect(notebook, own, root=root)
        except CollabError as err:
            problems.append(f"{name(notebook)}: {err}")
            continue
        recent = list(reversed(prompts))[:PROBES_PER_NOTEBOOK]
        with_prompts.append((notebook, recent))
    probes = [
        Probe(
            prompt=clip(prompt, MAX_QUOTE_TEXT),
            kind=ProbeKind.notebook,
            expectation=EXPECT_REACHED.format(notebook=name(notebook)),
            notebook=name(notebook),
        )
        for notebook, prompt in _round_robin(with_prompts)
    ]
    return LayerEffect(draft=draft, probes=probes, contexts=contexts, problems=problems)


def _draft(entry: Amendment) -> AmendmentDraft:
    return AmendmentDraft(kind=entry.kind, text=entry.text, rationale=entry.rationale)


def import_effect(
    notebook: dict[str, Any], label: str, entry: Amendment, context: CollabContext | None
) -> LayerEffect:
    """The probes of the model preview of importing ``entry`` into a notebook (its
    JSON, read by the door: the server through its contents manager): its most
    recent prompts, named ``label``, answered with ``context`` (the notebook's
    context in effect) without and with the entry."""
    prompts, _cell_problems = collab_prompts(notebook)
    probes = [
        Probe(
            prompt=clip(prompt, MAX_QUOTE_TEXT),
            kind=ProbeKind.notebook,
            expectation=EXPECT_IMPORTED.format(notebook=label),
            notebook=label,
        )
        for prompt in list(reversed(prompts))[:IMPORT_PROBES]
    ]
    return LayerEffect(draft=_draft(entry), probes=probes, contexts={label: context})
