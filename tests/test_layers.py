"""Context layers (``core/layers.py``, ``core/layer_moves.py``, ``core/layer_report.py``):
finding the project layer, the context a prompt is assembled from, its prompt
layout, and moving entries between layers with their provenance, both files or
neither."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from jupyter_collab.core import layer_moves
from jupyter_collab.core.assembly import LAYERS_INTRO, assemble
from jupyter_collab.core.context_format import serialize_context
from jupyter_collab.core.context_model import (
    Amendment,
    AmendmentStatus,
    CollabContext,
    PreviewResult,
    Provenance,
    Verdict,
)
from jupyter_collab.core.errors import (
    CollabError,
    ContextFileError,
    NotFoundError,
    StaleRevisionError,
)
from jupyter_collab.core.layer_moves import (
    MissingLayerError,
    demote,
    import_entries,
    promote,
)
from jupyter_collab.core.layer_report import layers_report
from jupyter_collab.core.layers import (
    Layer,
    context_in_effect,
    find_project_layer,
    layer_store,
    layered_context,
    personal_layer_path,
    project_layer_path,
    resolve_layers,
)
from jupyter_collab.core.store import LocalContextStore

PROJECT_FACT = "Cite Hubinger et al. 2019 for mesa-optimization."
PERSONAL_RULE = "Ask before writing a long report."
NOTEBOOK_FACT = "The admissions table has 4,210 rows."


@pytest.fixture
def personal(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter-data"))
    return personal_layer_path()


@pytest.fixture
def project(tmp_path) -> Path:
    """A repository with a notebook two folders below its project layer's folder."""
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    (root / "analysis" / "week1").mkdir(parents=True)
    nbformat.write(nbformat.v4.new_notebook(), root / "analysis" / "week1" / "nb.ipynb")
    return root


def write_layer(path: Path, *amendments: Amendment) -> CollabContext:
    path.parent.mkdir(parents=True, exist_ok=True)
    return layer_store(path).save(CollabContext(amendments=list(amendments)))


def notebook_of(project: Path) -> Path:
    return project / "analysis" / "week1" / "nb.ipynb"


def origin_entry() -> Amendment:
    return Amendment(
        id="a-origin000001",
        kind="fact",
        text=NOTEBOOK_FACT,
        provenance=Provenance(
            cell_id="cell-3",
            quote="about 4,000 rows",
            correction="4,210 rows",
            correction_id="c-corr00000001",
        ),
        preview=[
            PreviewResult(
                probe="How big is the table?",
                baseline_hash="b" * 64,
                amended_hash="c" * 64,
                verdict=Verdict.intended,
            )
        ],
    )


# -- finding the layers ------------------------------------------------------------


def test_the_nearest_project_layer_wins_and_the_walk_stops_at_the_repository(project):
    notebook = notebook_of(project)
    assert find_project_layer(notebook) is None
    outer = project_layer_path(project)
    write_layer(outer, Amendment(kind="fact", text=PROJECT_FACT))
    assert find_project_layer(notebook) == outer
    inner = project_layer_path(project / "analysis")
    write_layer(inner, Amendment(kind="fact", text="Week folders hold one notebook each."))
    assert find_project_layer(notebook) == inner
    # Above the repository root nothing is looked at.
    write_layer(project_layer_path(project.parent), Amendment(kind="fact", text="outside"))
    inner.unlink()
    assert find_project_layer(notebook) == outer
    outer.unlink()
    assert find_project_layer(notebook) is None


def test_the_walk_stops_at_the_given_root(project):
    write_layer(project_layer_path(project), Amendment(kind="fact", text=PROJECT_FACT))
    notebook = notebook_of(project)
    assert find_project_layer(notebook, root=project / "analysis") is None
    assert find_project_layer(notebook, root=project) == project_layer_path(project)


def test_a_layer_file_that_does_not_validate_is_named(project, personal):
    path = project_layer_path(project)
    path.parent.mkdir()
    path.write_text('{"amendments": [{"kind": "fact"}]}')
    with pytest.raises(ContextFileError) as caught:
        resolve_layers(notebook_of(project), None)
    assert str(path) in str(caught.value) and "text" in str(caught.value)


# -- the context in effect and its prompt --------------------------------------------


def test_without_shared_entries_the_notebooks_own_context_is_used_unchanged(project, personal):
    own = CollabContext(amendments=[Amendment(kind="fact", text=NOTEBOOK_FACT)])
    assert context_in_effect(notebook_of(project), own) is own
    write_layer(project_layer_path(project))  # a layer with no entries
    assert context_in_effect(notebook_of(project), own) is own


def test_layers_assemble_most_stable_first_and_say_the_nearer_one_wins(project, personal):
    write_layer(personal, Amendment(kind="process", text=PERSONAL_RULE))
    write_layer(project_layer_path(project), Amendment(kind="fact", text=PROJECT_FACT))
    own = CollabContext(
        revision=3,
        amendments=[
            Amendment(kind="fact", text=NOTEBOOK_FACT),
            Amendment(kind="process", text="Answer in at most three sentences."),
        ],
    )
    effective = context_in_effect(notebook_of(project), own)
    assert [a.text for a in effective.amendments][:2] == [PERSONAL_RULE, PROJECT_FACT]
    assembled = assemble("How many rows?", context=effective)
    system = assembled.request.system
    # persona + shared layers | the notebook's facts | the notebook's rules
    assert len(system) == 3 and all(block.cache for block in system)
    assert LAYERS_INTRO in system[0].text
    assert system[0].text.index(PERSONAL_RULE) < system[0].text.index(PROJECT_FACT)
    assert NOTEBOOK_FACT in system[1].text and "three sentences" in system[2].text
    assert assembled.context_revision == 3
    # The text is the blocks joined, so the input hash is that of the whole prompt.
    assert assembled.system_text == "\n\n".join(block.text for block in system)

    # A fact added to the notebook leaves the shared block byte for byte: it stays cached.
    grown = own.model_copy(
        update={"amendments": [*own.amendments, Amendment(kind="fact", text="New fact.")]}
    )
    again = assemble("How many rows?", context=context_in_effect(notebook_of(project), grown))
    assert again.request.system[0].text == system[0].text
    # The effective context is never a file: the notebook's own is unchanged.
    assert len(own.amendments) == 2


def test_with_a_conversation_layers_stay_within_the_apis_four_breakpoints(project, personal):
    from jupyter_collab.core.assembly import ADDED_HEADING, MAX_CACHE_BREAKPOINTS, Turn

    write_layer(personal, Amendment(kind="process", text=PERSONAL_RULE))
    write_layer(project_layer_path(project), Amendment(kind="fact", text=PROJECT_FACT))
    own = CollabContext(
        amendments=[
            Amendment(id="a-fact", kind="fact", text=NOTEBOOK_FACT),
            Amendment(id="a-rule", kind="process", text="Answer in at most three sentences."),
        ]
    )
    effective = context_in_effect(notebook_of(project), own)
    ids = [a.id for a in effective.amendments]
    earlier = [Turn(prompt="How many rows?", answer="4,210.", included=ids)]
    alone = assemble("And columns?", context=effective)
    assembled = assemble("And columns?", context=effective, history=earlier)
    system, messages = assembled.request.system, assembled.request.messages
    marks = sum(b.cache for b in system) + sum(m.cache for m in messages)
    assert marks == MAX_CACHE_BREAKPOINTS
    # The notebook's facts share a cached prefix with its rules; the shared layers
    # and the whole system prompt keep theirs, the text is unchanged.
    assert [b.cache for b in system] == [True, False, True]
    assert assembled.system_text == alone.system_text

    # An entry finalized during the conversation follows it; the layered system
    # prompt the conversation was cached with stays byte for byte.
    grown = own.model_copy(
        update={
            "amendments": [*own.amendments, Amendment(id="a-new", kind="fact", text="New fact.")]
        }
    )
    later = assemble(
        "And columns?", context=context_in_effect(notebook_of(project), grown), history=earlier
    )
    assert later.system_text == assembled.system_text
    assert ADDED_HEADING in later.request.messages[-1].content
    assert "New fact." in later.request.messages[-1].content


def test_a_nearer_copy_of_an_entry_overrides_the_farther_one(project, personal):
    shared = Amendment(kind="fact", text="Use the 2019 cohort.")
    write_layer(project_layer_path(project), shared)
    nearer = shared.model_copy(update={"text": "Use the 2021 cohort."})
    own = CollabContext(amendments=[nearer])
    effective = context_in_effect(notebook_of(project), own)
    assert effective is own  # the project's copy is overridden: no shared entry left
    report = layers_report(resolve_layers(notebook_of(project), own), "nb.ipynb")
    project_entry = report.layers[1].entries[0]
    assert not project_entry.applies and "overridden by the notebook layer" in project_entry.why


def test_disabled_and_superseded_shared_entries_stay_out_of_the_prompt(project, personal):
    write_layer(
        project_layer_path(project),
        Amendment(kind="fact", text="Disabled fact.", status=AmendmentStatus.disabled),
        Amendment(kind="fact", text=PROJECT_FACT),
    )
    assembled = assemble("q", context=context_in_effect(notebook_of(project), None))
    assert PROJECT_FACT in assembled.system_text and "Disabled fact." not in assembled.system_text


def test_the_report_says_why_entries_apply_and_which_repeat(project, personal):
    write_layer(personal, Amendment(kind="process", text=PERSONAL_RULE))
    write_layer(project_layer_path(project), Amendment(kind="fact", text=PROJECT_FACT))
    own = CollabContext(
        amendments=[Amendment(kind="fact", text="cite Hubinger et al 2019 for mesa optimization")]
    )
    report = layers_report(resolve_layers(notebook_of(project), own), "nb.ipynb")
    assert [layer.layer for layer in report.layers] == [
        Layer.personal,
        Layer.project,
        Layer.notebook,
    ]
    personal_entry, project_entry, own_entry = (layer.entries[0] for layer in report.layers)
    assert personal_entry.applies and "every notebook" in personal_entry.why
    assert project_entry.applies and str(project) in project_entry.why
    assert own_entry.repeats == [f"project:{project_entry.id}"]
    assert project_entry.repeats == [f"notebook:{own_entry.id}"]
    assert personal_entry.repeats == []


# -- promote, demote, import ---------------------------------------------------------


def test_promote_carries_provenance_and_demote_brings_it_back(project, personal):
    notebook = notebook_of(project)
    store = LocalContextStore(notebook)
    store.save(CollabContext(amendments=[origin_entry()]))
    write_layer(project_layer_path(project))

    moved = promote(notebook, "a-origin000001", "project")
    entry = moved.entry
    assert entry.provenance.notebook == "analysis/week1/nb.ipynb"
    assert entry.provenance.cell_id == "cell-3" and entry.provenance.quote == "about 4,000 rows"
    assert entry.provenance.correction == "4,210 rows"
    assert entry.preview[0].verdict == Verdict.intended
    assert "promoted from the notebook layer to the project layer" in entry.history[-1].note
    assert store.load().amendments == [] and "a-origin000001" in store.load().removed
    on_disk = layer_store(project_layer_path(project)).load()
    assert on_disk.amendment("a-origin000001") == entry
    # The promoted entry still applies to the notebook, now from the project layer.
    assert (
        NOTEBOOK_FACT
        in assemble("q", context=context_in_effect(notebook, store.load())).system_text
    )

    back = demote(notebook, "a-origin000001", "project")
    assert store.load().amendment("a-origin000001").provenance == entry.provenance
    assert "a-origin000001" not in store.load().removed
    assert layer_store(project_layer_path(project)).load().amendments == []
    assert back.entry.history[-1].note.startswith("demoted")


def test_promote_to_personal_makes_the_file_and_names_the_origin_absolutely(project, personal):
    notebook = notebook_of(project)
    LocalContextStore(notebook).save(CollabContext(amendments=[origin_entry()]))
    moved = promote(notebook, "a-origin000001", Layer.personal)
    assert moved.target == personal and personal.is_file()
    assert moved.entry.provenance.notebook == str(notebook)


def test_a_failed_move_leaves_both_files_as_they_were(project, personal, monkeypatch):
    notebook = notebook_of(project)
    LocalContextStore(notebook).save(CollabContext(amendments=[origin_entry()]))
    layer = project_layer_path(project)
    write_layer(layer, Amendment(kind="fact", text=PROJECT_FACT))
    sidecar = LocalContextStore(notebook).path
    before = (sidecar.read_bytes(), layer.read_bytes())
    real_write = layer_moves.write_context_file

    def failing(path, context):
        if Path(path) == sidecar:  # the second write of the move
            raise OSError(28, "No space left on device")
        real_write(path, context)

    monkeypatch.setattr(layer_moves, "write_context_file", failing)
    with pytest.raises(OSError):
        promote(notebook, "a-origin000001", "project")
    assert (sidecar.read_bytes(), layer.read_bytes()) == before


def test_a_failed_move_into_a_new_file_leaves_no_file(project, personal, monkeypatch):
    notebook = notebook_of(project)
    LocalContextStore(notebook).save(CollabContext(amendments=[origin_entry()]))
    sidecar = LocalContextStore(notebook).path
    before = sidecar.read_bytes()
    real_write = layer_moves.write_context_file

    def failing(path, context):
        if Path(path) == sidecar:
            raise OSError(5, "Input/output error")
        real_write(path, context)

    monkeypatch.setattr(layer_moves, "write_context_file", failing)
    with pytest.raises(OSError):
        promote(notebook, "a-origin000001", "personal")
    assert sidecar.read_bytes() == before and not personal.exists()


def test_moves_check_revisions_repeats_and_missing_layers(project, personal):
    notebook = notebook_of(project)
    LocalContextStore(notebook).save(CollabContext(amendments=[origin_entry()]))
    with pytest.raises(MissingLayerError, match="--project-dir"):
        promote(notebook, "a-origin000001", "project")
    layer = project_layer_path(project)
    write_layer(layer, Amendment(kind="fact", text="the admissions table has 4210 rows"))
    sidecar_bytes = LocalContextStore(notebook).path.read_bytes()
    with pytest.raises(CollabError, match="repeats"):
        promote(notebook, "a-origin000001", "project")
    with pytest.raises(NotFoundError, match="a-nosuchentry1"):
        promote(notebook, "a-nosuchentry1", "personal")
    with pytest.raises(StaleRevisionError):
        promote(notebook, "a-origin000001", "personal", expected={Layer.notebook: 0})
    assert LocalContextStore(notebook).path.read_bytes() == sidecar_bytes
    assert not personal.exists()


def test_a_new_project_layer_is_started_only_inside_its_folder(project, personal, tmp_path):
    notebook = notebook_of(project)
    LocalContextStore(notebook).save(CollabContext(amendments=[origin_entry()]))
    with pytest.raises(NotFoundError, match="not a folder"):
        promote(notebook, "a-origin000001", "project", project_folder=tmp_path / "missing")
    (tmp_path / "elsewhere").mkdir()
    with pytest.raises(CollabError, match="not inside"):
        promote(notebook, "a-origin000001", "project", project_folder=tmp_path / "elsewhere")
    moved = promote(notebook, "a-origin000001", "project", project_folder=project / "analysis")
    assert moved.target == project_layer_path(project / "analysis")
    assert moved.entry.provenance.notebook == "week1/nb.ipynb"


def test_import_keeps_provenance_skips_repeats_and_renames_taken_ids():
    other = CollabContext(
        amendments=[
            origin_entry(),
            Amendment(id="a-taken0000001", kind="process", text=PERSONAL_RULE),
            Amendment(kind="fact", text="Off.", status=AmendmentStatus.disabled),
        ]
    )
    target = CollabContext(
        amendments=[
            Amendment(id="a-taken0000001", kind="fact", text="Something else entirely."),
            Amendment(kind="fact", text="The admissions table has 4,210 rows!"),
        ]
    )
    result = import_entries(target, other, "other.ipynb")
    assert [a.text for a in result.imported] == [PERSONAL_RULE]
    assert result.imported[0].id != "a-taken0000001"
    assert result.imported[0].provenance.source == "import"
    assert result.imported[0].provenance.notebook == "other.ipynb"
    assert result.skipped and "repeats" in result.skipped[0]
    assert len(target.amendments) == 2  # a new context; the one given is unchanged
    named = import_entries(CollabContext(), other, "other.ipynb", ["a-origin000001"])
    assert named.imported[0].id == "a-origin000001"
    assert named.imported[0].preview == origin_entry().preview
    with pytest.raises(NotFoundError):
        import_entries(CollabContext(), other, "other.ipynb", ["a-missing00001"])


def test_the_context_file_of_an_entry_without_an_origin_is_unchanged():
    # Provenance.notebook is left out while unset: older files stay byte-identical.
    context = CollabContext(amendments=[Amendment(id="a-plain0000001", kind="fact", text="x")])
    assert '"notebook"' not in serialize_context(context)
    moved = context.model_copy(deep=True)
    entry = moved.amendments[0]
    entry.provenance = entry.provenance.model_copy(update={"notebook": "a.ipynb"})
    assert '"notebook": "a.ipynb"' in serialize_context(moved)


def test_layered_context_is_reused_while_its_parts_are_the_same(project, personal):
    write_layer(project_layer_path(project), Amendment(kind="fact", text=PROJECT_FACT))
    own = CollabContext(amendments=[Amendment(kind="fact", text=NOTEBOOK_FACT)])
    layers = resolve_layers(notebook_of(project), own)
    assert layered_context(layers) is layered_context(layers)


def test_the_preview_of_a_promotion_lists_the_notebooks_it_reaches(project, personal):
    from jupyter_collab.core.layer_preview import preview_move

    notebook = notebook_of(project)
    LocalContextStore(notebook).save(CollabContext(amendments=[origin_entry()]))
    layer = project_layer_path(project)
    write_layer(layer)
    sibling = project / "analysis" / "week2" / "other.ipynb"
    sibling.parent.mkdir()
    nbformat.write(nbformat.v4.new_notebook(), sibling)
    LocalContextStore(sibling).save(
        CollabContext(
            amendments=[Amendment(kind="fact", text="the admissions table has 4210 rows")]
        )
    )
    separate = project / "vendor" / "lib.ipynb"
    separate.parent.mkdir()
    nbformat.write(nbformat.v4.new_notebook(), separate)
    write_layer(project_layer_path(project / "vendor"))  # a nearer layer of its own
    before = (LocalContextStore(notebook).path.read_bytes(), layer.read_bytes())

    preview = preview_move(
        notebook, "a-origin000001", source_layer=Layer.notebook, target_layer=Layer.project
    )
    effects = {e.notebook: (e.effect, e.detail) for e in preview.notebooks}
    assert effects[notebook] == ("gains", "")
    assert effects[sibling][0] == "repeats"
    assert separate not in effects
    assert preview.entry.provenance.notebook == "analysis/week1/nb.ipynb"
    assert (LocalContextStore(notebook).path.read_bytes(), layer.read_bytes()) == before
    personal_preview = preview_move(
        notebook, "a-origin000001", source_layer=Layer.notebook, target_layer=Layer.personal
    )
    assert personal_preview.every_notebook and not personal.exists()


def test_the_notebooks_to_import_from_are_those_with_a_context_in_the_project(project):
    from jupyter_collab.core.layer_preview import importable_notebooks

    notebook = notebook_of(project)
    LocalContextStore(notebook).save(CollabContext(amendments=[origin_entry()]))
    neighbour = notebook.parent / "neighbour.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), neighbour)  # no context: nothing to import
    week2 = project / "analysis" / "week2" / "other.ipynb"
    week2.parent.mkdir()
    nbformat.write(nbformat.v4.new_notebook(), week2)
    LocalContextStore(week2).save(CollabContext(amendments=[origin_entry()]))
    checkpoint = notebook.parent / ".ipynb_checkpoints" / "nb-checkpoint.ipynb"
    checkpoint.parent.mkdir()
    nbformat.write(nbformat.v4.new_notebook(), checkpoint)
    LocalContextStore(checkpoint).save(CollabContext(amendments=[origin_entry()]))

    # No project layer: the notebook's own folder.
    assert importable_notebooks(notebook) == ([], False)
    assert importable_notebooks(week2) == ([], False)
    # A project layer above both: the whole project.
    write_layer(project_layer_path(project / "analysis"))
    assert importable_notebooks(notebook) == ([week2], False)
    assert importable_notebooks(week2) == ([notebook], False)


def test_missing_layers_names_what_the_recipient_lacks(project, personal):
    from jupyter_collab.core.layer_sharing import (
        embed_layers,
        embedded_layers,
        layers_manifest,
        missing_layers,
    )

    write_layer(personal, Amendment(id="a-personal0001", kind="process", text=PERSONAL_RULE))
    write_layer(
        project_layer_path(project),
        Amendment(id="a-project00001", kind="fact", text=PROJECT_FACT),
        Amendment(id="a-project00002", kind="fact", text="Off.", status=AmendmentStatus.disabled),
    )
    notebook = notebook_of(project)
    layers = resolve_layers(notebook, None)
    manifest = layers_manifest(layers, notebook)
    assert [(m.layer, m.file) for m in manifest] == [
        (Layer.personal, "personal"),
        (Layer.project, "../../.collab/context.json"),
    ]
    assert [a.id for a in manifest[1].entries] == ["a-project00001"]  # enabled only
    node = embed_layers(nbformat.v4.new_notebook(), manifest)
    carried = embedded_layers(node, "nb.ipynb")
    assert missing_layers(carried, layers) == []

    # The recipient has no personal entry, and the project's fact under another id.
    personal.unlink()
    project_layer_path(project).unlink()
    write_layer(
        project_layer_path(project),
        Amendment(id="a-new000000001", kind="fact", text=PROJECT_FACT.upper()),
    )
    messages = missing_layers(carried, resolve_layers(notebook, None))
    assert len(messages) == 1 and "personal layer it was shared with" in messages[0]
    assert "a-personal0001" in messages[0]

    node["metadata"]["jupyter_collab"]["layers"] = [{"layer": "project"}]
    with pytest.raises(ContextFileError, match=r"metadata\.jupyter_collab\.layers"):
        embedded_layers(node, "nb.ipynb")
