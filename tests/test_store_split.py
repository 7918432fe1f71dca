"""The context file split in two: the hot file every prompt reads, the evidence
file beside it (``core/context_evidence.py``)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from jupyter_collab.core import store as store_module
from jupyter_collab.core.context_evidence import CHUNK, HotContext
from jupyter_collab.core.context_format import parse_context, serialize_context_bytes
from jupyter_collab.core.context_model import (
    Amendment,
    CollabContext,
    Correction,
    Highlight,
    PreviewResult,
    Provenance,
)
from jupyter_collab.core.errors import ContextFileError
from jupyter_collab.core.operations.entries import set_status
from jupyter_collab.core.operations.expectations import add_probe
from jupyter_collab.core.store import LocalContextStore, evidence_folder


def _context(n: int = 3) -> CollabContext:
    amendments = []
    highlights = []
    corrections = []
    for i in range(n):
        highlight = Highlight(
            id=f"h-{i:04d}",
            position={"start": 0, "end": 3},
            quote={"exact": "abc", "prefix": "", "suffix": "x"},
        )
        correction = Correction(id=f"c-{i:04d}", highlight_id=highlight.id, text=f"fix {i}")
        highlights.append(highlight)
        corrections.append(correction)
        amendments.append(
            Amendment(
                id=f"a-{i:04d}",
                kind="fact",
                text=f"Fact number {i}.",
                provenance=Provenance(
                    highlight_id=highlight.id, correction_id=correction.id, quote="abc"
                ),
                preview=[
                    PreviewResult(
                        probe=f"probe {i}",
                        baseline_hash="sha256:a",
                        amended_hash="sha256:b",
                        verdict="intended",
                    )
                ],
            )
        )
    amendments.append(Amendment(id="a-lean", kind="process", text="Be terse."))
    return CollabContext(amendments=amendments, highlights=highlights, corrections=corrections)


@pytest.fixture
def store(tmp_path: Path) -> LocalContextStore:
    return LocalContextStore(tmp_path / "analysis.ipynb")


def _evidence_files(store: LocalContextStore) -> list[str]:
    folder = evidence_folder(store.path)
    return sorted(os.listdir(folder)) if folder.exists() else []


def test_the_hot_file_holds_the_amendments_and_names_the_evidence_file(store):
    saved = store.save(_context())
    hot = json.loads(store.path.read_text())
    assert [a["text"] for a in hot["amendments"]][:2] == ["Fact number 0.", "Fact number 1."]
    for entry in hot["amendments"]:
        assert not {"provenance", "preview", "history", "check"} & set(entry)
    assert "highlights" not in hot and "corrections" not in hot
    [name] = _evidence_files(store)
    assert [ref["file"] for ref in hot["evidence"]] == [name]
    evidence = json.loads((evidence_folder(store.path) / name).read_text())
    assert sorted(evidence["amendments"]) == ["a-0000", "a-0001", "a-0002"]  # not a-lean
    assert len(evidence["highlights"]) == 3
    assert store.load() == saved


def test_a_context_without_evidence_stays_one_file(store):
    saved = store.save(CollabContext(amendments=[Amendment(kind="fact", text="Only text.")]))
    assert store.path.read_bytes() == serialize_context_bytes(saved)
    assert not evidence_folder(store.path).exists()
    assert store.load() == saved


def test_an_old_single_file_context_is_read_as_it_is_and_split_on_its_next_save(store):
    old = _context().model_copy(update={"revision": 4})
    store.path.write_bytes(serialize_context_bytes(old))  # as written before the split
    loaded = store.load()
    assert loaded == old
    assert store.load_for_prompt().amendments[0].text == "Fact number 0."
    saved = store.save(loaded)
    assert saved.revision == 5
    assert "evidence" in json.loads(store.path.read_text())
    assert store.load() == saved


def test_the_prompt_read_has_the_amendments_without_their_evidence_and_cannot_be_saved(store):
    saved = store.save(_context())
    hot = store.load_for_prompt()
    assert [a.id for a in hot.amendments] == [a.id for a in saved.amendments]
    assert [a.text for a in hot.amendments] == [a.text for a in saved.amendments]
    assert all(not a.preview for a in hot.amendments) and not hot.highlights
    before = store.path.read_bytes()
    with pytest.raises(ContextFileError, match="without its evidence"):
        store.save(hot)
    with pytest.raises(ContextFileError, match="without its evidence"):
        store_module.write_context_file(store.path, hot)
    assert store.path.read_bytes() == before
    assert store.load() == saved


def test_a_save_with_unchanged_evidence_writes_the_hot_file_only(store):
    store.save(_context())
    [name] = _evidence_files(store)
    evidence_path = evidence_folder(store.path) / name
    inode = evidence_path.stat().st_ino

    def disable(context: CollabContext) -> None:
        context.amendments[0].status = "disabled"

    written = store.update(disable)
    assert _evidence_files(store) == [name]
    assert evidence_path.stat().st_ino == inode  # not rewritten
    assert store.load() == written
    assert store.load().amendments[0].status == "disabled"


def test_evidence_changed_in_place_or_replaced_is_written(store):
    store.save(_context())
    first = _evidence_files(store)

    def add_highlight(context: CollabContext) -> None:
        context.highlights.append(
            Highlight(id="h-new", position={"start": 1, "end": 2}, quote={"exact": "b"})
        )

    store.update(add_highlight)
    second = _evidence_files(store)
    assert len(second) == 2 and set(first) < set(second)  # the replaced one is kept
    assert store.load().highlights[-1].id == "h-new"

    def add_preview(context: CollabContext) -> None:
        context.amendments[1].preview.append(
            PreviewResult(probe="more", baseline_hash="x", amended_hash="y", verdict="unchanged")
        )

    written = store.update(add_preview)
    third = _evidence_files(store)
    # Only the current evidence file and the one it replaced are left.
    assert len(third) == 2 and not set(first) & set(third)
    assert store.load() == written
    assert store.load().amendments[1].preview[-1].probe == "more"

    # An operation (a NEW context sharing the unchanged evidence) is seen too.
    result, _ = add_probe(store.load(), "a-0002", "another probe", "change")
    again = store.save(result)
    assert store.load() == again
    assert store.load().amendments[2].preview[-1].probe == "another probe"


def test_an_edit_rewrites_only_the_evidence_file_of_its_run_of_entries(store):
    saved = store.save(_context(2 * CHUNK + 10))
    files = _evidence_files(store)
    assert len(files) == 3
    # The panel's edit of one amendment (its history grows): one file changes.
    edited, _ = set_status(store.load(), f"a-{CHUNK + 5:04d}", "disabled")
    written = store.save(edited)
    after = _evidence_files(store)
    assert len(set(after) - set(files)) == 1
    assert store.load() == written
    assert store.load().amendments[CHUNK + 5].history[-1].status == "accepted"
    hot = json.loads(store.path.read_text())
    assert len(hot["evidence"]) == 3
    assert saved.revision + 1 == written.revision


def test_evidence_moved_between_amendments_is_written(store):
    store.save(_context())
    context = store.load()
    first, second = context.amendments[0], context.amendments[1]
    first.provenance, second.provenance = second.provenance, first.provenance
    first.preview, second.preview = second.preview, first.preview
    written = store.save(context)
    loaded = store.load()
    assert loaded == written
    assert loaded.amendments[0].provenance.highlight_id == "h-0001"
    assert loaded.amendments[1].preview[0].probe == "probe 0"


def test_evidence_models_are_frozen_and_an_editable_copy_shares_them():
    context = _context()
    with pytest.raises(ValidationError):
        context.amendments[0].provenance.quote = "changed"
    with pytest.raises(ValidationError):
        context.highlights[0].cell_id = "changed"
    copy = context.editable_copy()
    assert copy.amendments[0].provenance is context.amendments[0].provenance
    copy.amendments[0].status = "disabled"
    copy.amendments[0].preview.clear()
    copy.highlights.clear()
    copy.settings.model = "other"
    assert context.amendments[0].status == "accepted"
    assert context.amendments[0].preview and context.highlights
    assert context.settings.model is None


def test_a_crash_between_the_evidence_and_the_hot_file_loses_nothing(store, monkeypatch):
    saved = store.save(_context())
    real_write = store_module.atomic_write_bytes

    def crash_on_the_hot_file(path: Path, *chunks: bytes) -> None:
        if path == store.path:
            raise OSError("killed")
        real_write(path, *chunks)

    monkeypatch.setattr(store_module, "atomic_write_bytes", crash_on_the_hot_file)
    changed = saved.editable_copy()
    changed.highlights.pop()
    with pytest.raises(OSError, match="killed"):
        store.save(changed)
    monkeypatch.undo()
    assert len(_evidence_files(store)) == 2  # the new evidence file, named by nobody
    assert LocalContextStore(store.notebook_path).load() == saved  # the old context whole
    written = store.save(changed)
    assert LocalContextStore(store.notebook_path).load() == written


def test_a_missing_evidence_file_is_reported_and_nothing_is_overwritten(store):
    store.save(_context())
    [name] = _evidence_files(store)
    (evidence_folder(store.path) / name).unlink()
    before = store.path.read_bytes()
    fresh = LocalContextStore(store.notebook_path)
    with pytest.raises(ContextFileError, match=f"evidence file .*{name}.*missing"):
        fresh.load()
    with pytest.raises(ContextFileError, match="missing"):
        fresh.update(lambda context: None)
    assert store.path.read_bytes() == before
    # Prompts still get the amendments.
    assert len(fresh.load_for_prompt().amendments) == 4


def test_an_evidence_file_changed_since_it_was_written_is_refused(store):
    store.save(_context())
    [name] = _evidence_files(store)
    path = evidence_folder(store.path) / name
    path.write_text(path.read_text().replace("probe 1", "probe X"))
    with pytest.raises(ContextFileError, match="does not match the hash"):
        LocalContextStore(store.notebook_path).load()


def test_a_hot_file_alone_is_not_taken_for_a_whole_context(store):
    store.save(_context())
    with pytest.raises(ContextFileError, match="without their evidence"):
        parse_context(store.path.read_bytes(), "embedded")
    assert isinstance(store.load_for_prompt(), HotContext)


def test_a_context_that_loses_all_its_evidence_goes_back_to_one_file(store):
    saved = store.save(_context())

    def strip(context: CollabContext) -> CollabContext:
        return CollabContext(
            revision=context.revision,
            amendments=[Amendment(id=a.id, kind=a.kind, text=a.text) for a in context.amendments],
        )

    store.update(strip)
    written = store.update(lambda context: None)
    assert "evidence" not in json.loads(store.path.read_text())
    assert _evidence_files(store) == []
    assert store.load() == written
    assert [a.id for a in written.amendments] == [a.id for a in saved.amendments]


class _RemoteContents:
    """A contents manager that is not local (no root folder on this machine), as
    S3 or database backends are: it serves the files of a FileContentsManager."""

    def __init__(self, root: Path):
        from jupyter_server.services.contents.filemanager import FileContentsManager

        self._inner = FileContentsManager(root_dir=str(root))

    def file_exists(self, path: str) -> bool:
        return self._inner.file_exists(path)

    def get(self, path: str, **kwargs):
        return self._inner.get(path, **kwargs)

    def save(self, model: dict, path: str):
        return self._inner.save(model, path)


def test_a_contents_manager_that_is_not_local_reads_a_split_context(tmp_path):
    import asyncio

    from jupyter_collab.server.contents_store import ContentsContextStore

    local = LocalContextStore(tmp_path / "nb.ipynb")
    saved = local.save(_context())
    remote = ContentsContextStore(_RemoteContents(tmp_path))
    assert not remote.is_local
    assert asyncio.run(remote.load("nb.ipynb")) == saved
    [name] = _evidence_files(local)
    (evidence_folder(local.path) / name).unlink()
    with pytest.raises(ContextFileError, match="missing"):
        asyncio.run(remote.load("nb.ipynb"))
