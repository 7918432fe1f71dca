"""The context store: validation, atomic writes, revisions, hostile files.

(The SIGKILL loop that was here is R5 of the reliability suite:
``tests/reliability/test_r05_sigkill.py``.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jupyter_collab.core.errors import ContextFileError, StaleRevisionError
from jupyter_collab.core.models import Amendment, CollabContext
from jupyter_collab.core.store import (
    LocalContextStore,
    parse_context,
    serialize_context,
    sidecar_path_for,
)


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


HOSTILE = {
    "not json": (b"{not json", "invalid JSON at line 1 column 2"),
    "truncated": (b'{"schema_version": 1, "amendments": [', "invalid JSON at line 1"),
    "not an object": (b"[1, 2, 3]", "expected a JSON object, found list"),
    "future schema": (b'{"schema_version": 99}', "schema_version 99 is not supported"),
    "wrong kind": (
        b'{"schema_version": 1, "amendments": [{"kind": "opinion", "text": "x"}]}',
        "amendments.0.kind",
    ),
    "unknown field": (b'{"schema_version": 1, "surprise": true}', "surprise"),
    "blank text": (
        b'{"schema_version": 1, "amendments": [{"kind": "fact", "text": "   "}]}',
        "amendments.0.text",
    ),
    "duplicate ids": (
        b'{"schema_version": 1, "amendments": ['
        b'{"id": "a-1234", "kind": "fact", "text": "x"},'
        b'{"id": "a-1234", "kind": "fact", "text": "y"}]}',
        "duplicate id",
    ),
    "not utf-8": (b'{"schema_version": 1, "x": "\xff\xfe"}', "not UTF-8"),
    "deep nesting": (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    "negative revision": (b'{"schema_version": 1, "revision": -3}', "revision"),
    "oversized entry": (
        json.dumps(
            {"schema_version": 1, "amendments": [{"kind": "fact", "text": "x" * 9000}]}
        ).encode(),
        "amendments.0.text",
    ),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_bad_files_raise_naming_the_file_and_are_never_overwritten(store, name):
    content, expected = HOSTILE[name]
    store.path.write_bytes(content)
    with pytest.raises(ContextFileError) as info:
        store.load()
    message = str(info.value)
    assert str(store.path) in message
    assert expected in message
    with pytest.raises(ContextFileError):
        store.save(CollabContext())
    with pytest.raises(ContextFileError):
        store.update(lambda c: None)
    assert store.path.read_bytes() == content


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
