"""Embedding the context in a notebook and reconciling it with the sidecar."""

from __future__ import annotations

import pytest

from jupyter_collab.core.context_model import Amendment, CollabContext
from jupyter_collab.core.errors import ContextFileError
from jupyter_collab.core.notebook import (
    ReconcileKind,
    carried_context,
    embed_context,
    extract_context,
    reconcile,
    shared_context,
)


def _nb() -> dict:
    return {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def test_embed_and_extract_round_trip():
    context = CollabContext(amendments=[Amendment(kind="fact", text="x")], revision=3)
    nb = embed_context(_nb(), context)
    assert extract_context(nb, "nb.ipynb") == context
    assert extract_context(_nb(), "nb.ipynb") is None


def _collab_cell(cell_id: str, context: CollabContext | None) -> dict:
    output = {"output_type": "display_data", "data": {}, "metadata": {}}
    if context is not None:
        embed_context(output, context)
    return {
        "id": cell_id,
        "cell_type": "code",
        "source": "%%collab\nq",
        "metadata": {},
        "outputs": [output],
    }


def test_the_last_collaborator_output_carrying_a_context_is_the_carried_one():
    older = CollabContext(amendments=[Amendment(kind="fact", text="old")], revision=1)
    newer = CollabContext(amendments=[Amendment(kind="fact", text="new")], revision=2)
    nb = _nb()
    nb["cells"] = [_collab_cell("a", older), _collab_cell("b", newer), _collab_cell("c", None)]
    assert carried_context(nb, "copy.ipynb") == newer
    # An ordinary code cell with the same metadata is not a collaborator output.
    stray = _collab_cell("d", older)
    stray["source"] = "print(1)"
    nb["cells"].append(stray)
    assert carried_context(nb, "copy.ipynb") == newer
    assert carried_context(_nb(), "copy.ipynb") is None


def test_outputs_stand_in_only_when_neither_metadata_nor_sidecar_has_a_context():
    in_outputs = CollabContext(amendments=[Amendment(kind="fact", text="outputs")])
    in_metadata = CollabContext(amendments=[Amendment(kind="fact", text="metadata")])
    nb = _nb()
    nb["cells"] = [_collab_cell("a", in_outputs)]
    assert shared_context(nb, "copy.ipynb", has_sidecar=False) == in_outputs
    # Beside a sidecar, old outputs must not bring back entries it dropped since.
    assert shared_context(nb, "copy.ipynb", has_sidecar=True) is None
    embed_context(nb, in_metadata)
    assert shared_context(nb, "copy.ipynb", has_sidecar=False) == in_metadata


def test_a_damaged_carried_context_names_the_cell_and_output():
    nb = _nb()
    cell = _collab_cell("ask", None)
    cell["outputs"][0]["metadata"]["jupyter_collab"] = {"context": {"amendments": 3}}
    nb["cells"] = [cell]
    with pytest.raises(ContextFileError, match=r"copy\.ipynb \(cell ask, output 0\)"):
        carried_context(nb, "copy.ipynb")


def test_invalid_embedded_context_names_the_notebook():
    nb = _nb()
    nb["metadata"]["jupyter_collab"] = {"context": {"schema_version": 1, "amendments": 3}}
    with pytest.raises(ContextFileError, match=r"nb.ipynb \(metadata.jupyter_collab.context\)"):
        extract_context(nb, "nb.ipynb")


def test_reconcile_cases():
    a = Amendment(kind="fact", text="a")
    sidecar = CollabContext(amendments=[a], revision=4)
    assert reconcile(None, None).kind == ReconcileKind.none
    assert reconcile(sidecar, None).kind == ReconcileKind.sidecar_only
    restored = reconcile(None, sidecar)
    assert restored.kind == ReconcileKind.embedded_only
    assert restored.context.revision == 0 and restored.embedded_only_ids == [a.id]
    same = reconcile(sidecar, sidecar.model_copy(update={"revision": 2}))
    assert same.kind == ReconcileKind.identical


def test_merge_by_id_newer_entry_wins_and_conflicts_are_reported():
    shared = Amendment(kind="fact", text="v1")
    edited = shared.model_copy(update={"text": "v2", "rev": 2})
    clash = Amendment(kind="process", text="mine")
    clash_theirs = clash.model_copy(update={"text": "theirs"})
    only_sidecar = Amendment(kind="fact", text="sidecar only")
    only_embedded = Amendment(kind="fact", text="embedded only")
    sidecar = CollabContext(amendments=[shared, clash, only_sidecar], revision=7)
    embedded = CollabContext(amendments=[edited, clash_theirs, only_embedded], revision=5)
    result = reconcile(sidecar, embedded)
    assert result.kind == ReconcileKind.merged
    texts = [a.text for a in result.context.amendments]
    assert texts == ["v2", "mine", "sidecar only", "embedded only"]
    assert result.context.revision == 7
    assert len(result.conflicts) == 1 and clash.id in result.conflicts[0]
    assert result.embedded_only_ids == [only_embedded.id]
    assert result.sidecar_needs_write


def test_deleted_entries_are_not_brought_back_by_an_older_embedded_copy():
    from jupyter_collab.core.context_format import serialize_context
    from jupyter_collab.core.operations import entries

    older = CollabContext(
        amendments=[Amendment(kind="fact", text="keep"), Amendment(kind="fact", text="gone")]
    )
    gone = older.amendments[1].id
    assert '"removed"' not in serialize_context(older)  # files without deletions unchanged
    current, _, _ = entries.remove_amendment(older, gone)
    assert current.removed == [gone] and '"removed"' in serialize_context(current)
    result = reconcile(current, older)
    assert [a.text for a in result.context.amendments] == ["keep"]
    assert result.embedded_only_ids == [] and result.context.removed == [gone]
    # Undoing the deletion clears the tombstone.
    restored = entries.restore_amendment(current, older.amendments[1])
    assert restored.removed == []
    # The other way round (deleted in the notebook's copy only) is reported, not applied.
    result = reconcile(older, current)
    assert len(result.context.amendments) == 2
    assert any("deleted in the notebook's copy" in c for c in result.conflicts)
    # A whole context replacing another: what it drops is deleted.
    replaced = entries.carry_tombstones(older, CollabContext(amendments=older.amendments[:1]))
    assert replaced.removed == [gone]
