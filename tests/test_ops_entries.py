"""The context panel's pure entry operations: add, edit, toggle, remove/restore, undo."""

from __future__ import annotations

import pytest

from jupyter_collab.core.assembly import assemble
from jupyter_collab.core.context_format import serialize_context
from jupyter_collab.core.context_model import AmendmentKind, AmendmentStatus, CollabContext
from jupyter_collab.core.errors import InvalidRequestError, NotFoundError
from jupyter_collab.core.notebook import reconcile
from jupyter_collab.core.operations import entries


def base() -> CollabContext:
    context, _ = entries.add_amendment(CollabContext(), "fact", "R 4.3 is installed.")
    context, _ = entries.add_amendment(context, "process", "Be terse.", source="cli")
    return context


def test_add_appends_in_order_and_is_pure():
    empty = CollabContext()
    context, amendment = entries.add_amendment(empty, "process", "  Ask before writing.  ")
    assert empty.amendments == []
    assert amendment.text == "Ask before writing." and amendment.status == AmendmentStatus.accepted
    assert amendment.provenance.source == "user"
    context = base()
    assert [a.text for a in context.amendments] == ["R 4.3 is installed.", "Be terse."]
    assert context.amendments[1].provenance.source == "cli"


@pytest.mark.parametrize("text", ["", "   "])
def test_add_rejects_blank(text):
    with pytest.raises(InvalidRequestError, match="empty"):
        entries.add_amendment(CollabContext(), "fact", text)


def test_add_rejects_unknown_kind_and_duplicates():
    with pytest.raises(InvalidRequestError, match="kind"):
        entries.add_amendment(CollabContext(), "rule", "x y z")
    with pytest.raises(InvalidRequestError, match="already says this"):
        entries.add_amendment(base(), "process", "be terse")
    context, _ = entries.add_amendment(base(), "process", "be terse", allow_duplicate=True)
    assert len(context.amendments) == 3


def test_toggle_records_history_and_changes_assembly():
    context = base()
    rule = context.amendments[1]
    toggled, disabled = entries.toggle_amendment(context, rule.id)
    assert context.amendment(rule.id).status == AmendmentStatus.accepted  # pure
    assert disabled.status == AmendmentStatus.disabled and disabled.rev == rule.rev + 1
    assert disabled.history[-1].status == AmendmentStatus.accepted
    assert disabled.history[-1].note == "disabled"
    assert "Be terse." not in assemble("Hi", context=toggled).system_text
    again, enabled = entries.toggle_amendment(toggled, rule.id)
    assert enabled.enabled and enabled.rev == rule.rev + 2 and len(enabled.history) == 2
    assert "Be terse." in assemble("Hi", context=again).system_text


def test_edit_and_undo():
    context = base()
    fact = context.amendments[0]
    edited_ctx, edited = entries.edit_amendment(context, fact.id, text="R 4.4 is installed.")
    assert edited.text == "R 4.4 is installed." and edited.rev == 2
    assert edited.history[-1].text == "R 4.3 is installed."
    kind_ctx, rekinded = entries.edit_amendment(edited_ctx, fact.id, kind="process")
    assert rekinded.kind == AmendmentKind.process and len(rekinded.history) == 2
    undone_ctx, undone = entries.undo_amendment(kind_ctx, fact.id)
    assert undone.kind == AmendmentKind.fact and undone.text == "R 4.4 is installed."
    assert undone.rev == 4 and len(undone.history) == 1
    _, first = entries.undo_amendment(undone_ctx, fact.id)
    assert first.text == "R 4.3 is installed." and first.history == []
    with pytest.raises(InvalidRequestError, match="no earlier revision"):
        entries.undo_amendment(context, fact.id)


def test_edit_without_change_keeps_rev_and_rejects_duplicates():
    context = base()
    fact = context.amendments[0]
    _, same = entries.edit_amendment(context, fact.id, text=fact.text)
    assert same.rev == fact.rev and same.history == []
    with pytest.raises(InvalidRequestError, match="already says this"):
        entries.edit_amendment(context, fact.id, text="Be terse!")
    with pytest.raises(InvalidRequestError, match="empty"):
        entries.edit_amendment(context, fact.id, text=" ")


def test_remove_and_restore_in_place():
    context = base()
    first = context.amendments[0]
    removed_ctx, removed, index = entries.remove_amendment(context, first.id)
    assert [a.id for a in removed_ctx.amendments] == [context.amendments[1].id]
    restored = entries.restore_amendment(removed_ctx, removed, index)
    assert [a.id for a in restored.amendments] == [a.id for a in context.amendments]
    assert restored.amendments[0].rev == first.rev + 1
    with pytest.raises(InvalidRequestError, match="already"):
        entries.restore_amendment(restored, removed)


def test_unknown_ids_are_not_found():
    for call in (
        lambda c: entries.toggle_amendment(c, "a-missing"),
        lambda c: entries.remove_amendment(c, "a-missing"),
        lambda c: entries.edit_amendment(c, "a-missing", text="x"),
        lambda c: entries.undo_amendment(c, "a-missing"),
    ):
        with pytest.raises(NotFoundError, match="a-missing"):
            call(base())


def test_rev_bump_wins_when_reconciling_with_an_embedded_copy():
    sidecar = base()
    embedded, _ = entries.toggle_amendment(sidecar, sidecar.amendments[0].id)
    result = reconcile(sidecar, embedded)
    assert not result.conflicts
    assert result.context.amendments[0].status == AmendmentStatus.disabled
    # Entries stay serializable after every operation.
    assert "disabled" in serialize_context(result.context)
