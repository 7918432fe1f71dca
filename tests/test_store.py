"""The context store: validation, atomic writes, revisions, hostile files.

(The SIGKILL loop that was here is R5 of the reliability suite:
``tests/reliability/test_r05_sigkill.py``.)"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from jupyter_collab.core.context_evidence import evidence_ref
from jupyter_collab.core.context_format import (
    context_to_jsonable,
    parse_context,
    serialize_context,
    serialize_context_bytes,
    serialize_evidence_bytes,
    serialize_hot_body,
    sidecar_path_for,
)
from jupyter_collab.core.context_model import Amendment, CollabContext
from jupyter_collab.core.errors import ContextFileError, StaleRevisionError
from jupyter_collab.core.gc_pause import gc_paused
from jupyter_collab.core.local_files import SETTLED_SECONDS, file_signature, signature_settled
from jupyter_collab.core.store import LocalContextStore, evidence_folder
from tests.hostile_contexts import HOSTILE, plant, state


@pytest.fixture
def store(tmp_path: Path) -> LocalContextStore:
    return LocalContextStore(tmp_path / "analysis.ipynb")


def test_sidecar_name_sits_beside_the_notebook():
    assert sidecar_path_for("dir/analysis.ipynb") == "dir/analysis.collab.json"
    with pytest.raises(ValueError, match="not a notebook"):
        sidecar_path_for("dir/analysis.py")


def test_missing_sidecar_loads_as_none(store):
    assert store.load() is None
    assert store.load_or_new().revision == 0


def test_save_bumps_revision_and_writes_sorted_stable_json(store):
    context = store.load_or_new()
    context.amendments.append(Amendment(kind="fact", text="The 2019 paper is by Hubinger et al."))
    saved = store.save(context)
    assert saved.revision == 1
    text = store.path.read_text()
    assert text == serialize_context(saved)
    data = json.loads(text)
    assert list(data) == sorted(data)
    assert list(data["amendments"][0]) == sorted(data["amendments"][0])
    # Saving the same content again gives the same bytes but for the revision.
    again = store.save(saved)
    assert again.revision == 2
    assert store.path.read_text() == text.replace('"revision": 1', '"revision": 2')


def test_stale_save_is_refused_and_changes_nothing(store):
    first = store.save(store.load_or_new())
    winner = first.model_copy(deep=True)
    winner.amendments.append(Amendment(kind="fact", text="winner"))
    store.save(winner)
    before = store.path.read_bytes()
    loser = first.model_copy(deep=True)
    loser.amendments.append(Amendment(kind="process", text="loser"))
    with pytest.raises(StaleRevisionError) as info:
        store.save(loser)
    assert info.value.expected == 1 and info.value.actual == 2
    assert store.path.read_bytes() == before


def test_update_applies_a_change_under_the_lock(store):
    store.update(lambda c: c.amendments.append(Amendment(kind="fact", text="one")))
    result = store.update(lambda c: c.amendments.append(Amendment(kind="fact", text="two")))
    assert [a.text for a in result.amendments] == ["one", "two"]
    assert result.revision == 2


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_bad_files_raise_naming_the_file_and_are_never_overwritten(store, name):
    content, expected = HOSTILE[name]
    plant(store.path, content)
    before = state(store.path)
    with pytest.raises(ContextFileError) as info:
        store.load()
    message = str(info.value)
    assert str(store.path) in message
    assert expected in message
    with pytest.raises(ContextFileError):
        store.save(CollabContext())
    with pytest.raises(ContextFileError):
        store.update(lambda c: None)
    assert state(store.path) == before


def test_parse_names_the_source_for_dicts():
    with pytest.raises(ContextFileError, match=r"^nb.ipynb \(metadata\): settings.mode"):
        parse_context({"schema_version": 1, "settings": {"mode": "chaos"}}, "nb.ipynb (metadata)")


def test_a_save_sees_a_change_made_by_another_writer(tmp_path):
    """The revision check skips re-parsing only a file this store itself last saw."""
    ours = LocalContextStore(tmp_path / "nb.ipynb")
    theirs = LocalContextStore(tmp_path / "nb.ipynb")
    base = ours.save(CollabContext())
    other = theirs.load()
    other.amendments.append(Amendment(kind="fact", text="theirs"))
    theirs.save(other)
    mine = base.model_copy(deep=True)
    mine.amendments.append(Amendment(kind="fact", text="mine"))
    with pytest.raises(StaleRevisionError):
        ours.save(mine)
    assert [a.text for a in ours.load().amendments] == ["theirs"]


# -- serialization from the models, the collector pause, file signatures --------------


def _varied_context() -> CollabContext:
    """Every kind of value the file holds: enums, datetimes in several forms
    (UTC from utcnow, parsed Z and offsets, naive, with microseconds), non-ASCII
    text, nested models, optional numbers, tombstones."""
    data = {
        "schema_version": 1,
        "revision": 3,
        "settings": {"mode": "learning", "temperature": 0.7, "token_budget": 1234},
        "amendments": [
            {
                "kind": "fact",
                "text": "Ünïcödé — “quotes”, tabs\tand\nnewlines; emoji 🧪 and \\ backslash",
                "created": "2026-01-01T00:00:00Z",
                "updated": "2026-01-01T12:30:00.5+02:00",
                "preview": [
                    {
                        "probe": "p",
                        "probe_kind": "should_not_change",
                        "baseline_hash": "sha256:a",
                        "amended_hash": "sha256:b",
                        "verdict": "unchanged",
                    }
                ],
                "history": [
                    {"at": "2026-01-01T00:00:00.000001-05:30", "kind": "process", "text": "old",
                     "status": "disabled", "note": "n"}
                ],
            },
            {"kind": "process", "text": "Rule.", "status": "superseded",
             "created": "2026-03-04T05:06:07", "updated": "2026-03-04T05:06:07+00:00"},
        ],
        "highlights": [
            {
                "position": {"start": 1, "end": 4},
                "quote": {"exact": "abc", "prefix": "<", "suffix": ">"},
                "created": "2026-01-01T00:00:00Z",
            }
        ],
        "corrections": [{"text": "fix", "rank": 0, "origin": "ai"}],
    }  # fmt: skip
    context = CollabContext.model_validate(data)
    context.amendments.append(Amendment(kind="fact", text="made now"))  # utcnow(), tz UTC
    return context


def _reference_text(context: CollabContext) -> str:
    return (
        json.dumps(context_to_jsonable(context), sort_keys=True, indent=2, ensure_ascii=False)
        + "\n"
    )


def test_serialization_from_the_models_is_byte_for_byte_the_documented_text():
    context = _varied_context()
    assert serialize_context(context) == _reference_text(context)
    assert serialize_context_bytes(context) == _reference_text(context).encode()
    assert '"removed"' not in serialize_context(context)  # no tombstones: key left out
    context.removed.append("a-000000000001")
    assert serialize_context(context) == _reference_text(context)
    assert '"removed": [\n    "a-000000000001"\n  ]' in serialize_context(context)
    assert parse_context(serialize_context_bytes(context), "x") == context


def test_a_saved_file_loads_back_equal(store):
    saved = store.save(_varied_context().model_copy(update={"revision": 0}))
    # The evidence (provenance, previews, highlights...) is in its own file, named
    # by its hash in the hot file; the two read back as the whole context.
    evidence = serialize_evidence_bytes(saved)
    ref = evidence_ref(evidence)
    assert store.path.read_bytes() == serialize_hot_body(saved, [ref]) + b"\n"
    assert (evidence_folder(store.path) / ref.file).read_bytes() == evidence
    assert store.load() == saved


def test_parsing_pauses_the_collector_and_restores_it():
    import gc

    good = serialize_context_bytes(_varied_context())
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():  # nested (or another thread's) pause
            assert parse_context(good, "x").revision == 3
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(ContextFileError):
        parse_context(b"{broken", "x")
    assert gc.isenabled()  # also after an error
    gc.disable()
    try:
        parse_context(good, "x")
        assert not gc.isenabled()  # a collector the caller disabled stays disabled
    finally:
        gc.enable()


def test_file_signature_changes_with_any_rewrite(tmp_path):
    path = tmp_path / "f.json"
    assert file_signature(path) is None
    path.write_text("one")
    first = file_signature(path)
    assert first is not None and first[2] == 3
    os.utime(path, ns=(first[3] + 5_000_000, first[3] + 5_000_000))  # same size, new mtime
    assert file_signature(path) != first
    # Settled only when the last change (of mtime or ctime) is old enough when the
    # read starts: a rewrite in the same clock tick could not be told apart.
    now = time.time()
    signature = file_signature(path)
    assert not signature_settled(signature, now)
    assert signature_settled(signature, now + SETTLED_SECONDS + 1)
    assert not signature_settled(None, now)
