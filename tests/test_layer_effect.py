"""A promotion's model preview: the probes come from the other notebooks the move
reaches, and each is answered with that notebook's own context in effect, without
the entry (baseline) and with it (amended)."""

from __future__ import annotations

import os
from contextlib import aclosing
from pathlib import Path

import nbformat
import pytest

from jupyter_collab.core.broker import Broker
from jupyter_collab.core.config import CollabConfig
from jupyter_collab.core.context_model import Amendment, CollabContext, Settings
from jupyter_collab.core.errors import InvalidRequestError
from jupyter_collab.core.layer_effect import (
    IMPORT_PROBES,
    MAX_EFFECT_PROBES,
    PROBES_PER_NOTEBOOK,
    import_effect,
    layer_effect,
)
from jupyter_collab.core.layer_preview import preview_move
from jupyter_collab.core.layers import Layer, layer_store, project_layer_path
from jupyter_collab.core.operation_models import AmendmentDraft, Probe
from jupyter_collab.core.operations.preview import context_of
from jupyter_collab.core.store import LocalContextStore

from .scripted_provider import ScriptedProvider

ENTRY = "Cite Hubinger et al. 2019 for mesa-optimization."
M_OWN = "Plots use the viridis palette."
SOURCE_OWN = "The source notebook's private rule."
SHARED = "Answer in British English."
JUDGE = {"verdict": "intended", "reason": "It now cites the paper."}


def write_notebook(path: Path, prompts: list[str]) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"%%collab --mode research\n{p}") for p in prompts]
    nb.cells.insert(0, nbformat.v4.new_code_cell("x = 1"))
    nbformat.write(nb, str(path))
    return path


def add_entry(notebook: Path, text: str, kind: str = "fact") -> str:
    store = LocalContextStore(notebook)
    context = store.load() or CollabContext()
    entry = Amendment(kind=kind, text=text)
    store.save(context.model_copy(update={"amendments": [*context.amendments, entry]}))
    return entry.id


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter-data"))
    root = tmp_path / "group"
    (root / ".git").mkdir(parents=True)
    project_layer_path(root).parent.mkdir()
    store = layer_store(project_layer_path(root))
    store.save(CollabContext(amendments=[Amendment(kind="process", text=SHARED)]))
    return root


def effect_of(source: Path, entry_id: str, target=Layer.project, **options):
    move = preview_move(
        source, entry_id, source_layer=Layer.notebook, target_layer=target, **options
    )
    return move, layer_effect(move, source, personal_root=options.get("root"))


def test_probes_come_from_the_other_notebooks_recent_prompts_first(project):
    source = write_notebook(project / "source.ipynb", ["Source question?"])
    entry_id = add_entry(source, ENTRY)
    write_notebook(project / "m.ipynb", ["M first?", "M second?", "M third?"])
    write_notebook(project / "n.ipynb", ["N only?"])
    write_notebook(project / "empty.ipynb", [])
    repeat = write_notebook(project / "repeat.ipynb", ["Repeat question?"])
    add_entry(repeat, ENTRY)  # already says it: nothing to learn there

    _, effect = effect_of(source, entry_id)

    # Round-robin: the newest prompt of each notebook, then the next newest.
    assert [(p.notebook, p.prompt) for p in effect.probes] == [
        (str(project / "m.ipynb"), "M third?"),
        (str(project / "n.ipynb"), "N only?"),
        (str(project / "m.ipynb"), "M second?"),
    ]
    assert all(p.kind.value == "notebook" for p in effect.probes)
    assert "m.ipynb" in effect.probes[0].expectation
    assert effect.draft == AmendmentDraft(kind="fact", text=ENTRY)
    assert set(effect.contexts) == {str(project / "m.ipynb"), str(project / "n.ipynb")}


def test_the_bounds_spread_the_probes_across_notebooks(project):
    source = write_notebook(project / "source.ipynb", ["Source?"])
    entry_id = add_entry(source, ENTRY)
    for i in range(MAX_EFFECT_PROBES + 3):
        write_notebook(project / f"nb{i:02}.ipynb", [f"{i} a?", f"{i} b?", f"{i} c?"])

    _, effect = effect_of(source, entry_id)

    assert len(effect.probes) == MAX_EFFECT_PROBES
    per_notebook = {}
    for probe in effect.probes:
        per_notebook[probe.notebook] = per_notebook.get(probe.notebook, 0) + 1
    assert max(per_notebook.values()) <= PROBES_PER_NOTEBOOK
    # Reading stops once the probes are filled; each notebook read gives its
    # newest prompt before any gives a second one.
    readers = MAX_EFFECT_PROBES // PROBES_PER_NOTEBOOK
    assert len(per_notebook) == readers
    assert len({p.notebook for p in effect.probes[:readers]}) == readers
    assert all(p.prompt.endswith("c?") for p in effect.probes[:readers])


def test_personal_layer_asks_the_most_recently_modified_notebooks(project):
    source = write_notebook(project / "source.ipynb", ["Source?"])
    entry_id = add_entry(source, ENTRY)
    old = write_notebook(project / "old.ipynb", ["Old?"])
    (project / "sub").mkdir()
    new = write_notebook(project / "sub" / "new.ipynb", ["New?"])
    os.utime(old, (1_000_000, 1_000_000))

    move, effect = effect_of(source, entry_id, target=Layer.personal, root=project)

    assert move.every_notebook
    assert [p.notebook for p in effect.probes] == [str(new), str(old)]


def test_no_reached_notebook_with_prompts_gives_no_probe(project):
    source = write_notebook(project / "source.ipynb", ["Source?"])
    entry_id = add_entry(source, ENTRY)
    write_notebook(project / "empty.ipynb", [])

    _, effect = effect_of(source, entry_id)

    assert effect.probes == [] and effect.contexts == {}


def test_an_unreadable_notebook_is_named_and_left_out(project):
    source = write_notebook(project / "source.ipynb", ["Source?"])
    entry_id = add_entry(source, ENTRY)
    (project / "broken.ipynb").write_text("{ not json")
    write_notebook(project / "m.ipynb", ["M?"])

    _, effect = effect_of(source, entry_id)

    assert [p.notebook for p in effect.probes] == [str(project / "m.ipynb")]
    assert len(effect.problems) == 1 and "broken.ipynb" in effect.problems[0]


async def collect(agen) -> list:
    async with aclosing(agen) as events:
        return [event async for event in events]


async def test_each_probe_is_asked_with_its_own_notebooks_context(project):
    source = write_notebook(project / "source.ipynb", ["Source?"])
    add_entry(source, SOURCE_OWN, kind="process")
    entry_id = add_entry(source, ENTRY)
    m = write_notebook(project / "m.ipynb", ["What is mesa-optimization?"])
    add_entry(m, M_OWN)
    _, effect = effect_of(source, entry_id)
    provider = ScriptedProvider(structured={"judge_probe": JUDGE})
    broker = Broker(CollabConfig(), provider=provider)

    events = await collect(broker.preview_move(effect, LocalContextStore(source).load()))

    assert [e.event for e in events] == ["started", "probe", "finished"]
    assert events[0].probes == effect.probes
    answers = [c.request for c in provider.calls if c.is_answer]
    assert answers and all("What is mesa-optimization?" in r.messages[-1].content for r in answers)
    for request in answers:
        system = request.system_text()
        # M's own entry and the project layer that reaches M, never the source's own.
        assert M_OWN in system and SHARED in system and SOURCE_OWN not in system
    assert {ENTRY in r.system_text() for r in answers} == {True, False}
    outcome = events[-1].report.outcomes[0]
    assert outcome.probe.notebook == str(m) and outcome.verdict.value == "intended"
    assert ENTRY not in outcome.baseline and ENTRY in outcome.amended


async def test_each_notebook_answers_with_its_own_settings(project):
    source = write_notebook(project / "source.ipynb", ["Source?"])
    entry_id = add_entry(source, ENTRY)
    store = LocalContextStore(source)
    store.save(store.load().model_copy(update={"settings": Settings(max_tokens=11)}))
    m = write_notebook(project / "m.ipynb", ["M?"])
    write_notebook(project / "n.ipynb", ["N?"])
    LocalContextStore(m).save(CollabContext(settings=Settings(max_tokens=77)))
    _, effect = effect_of(source, entry_id)
    provider = ScriptedProvider(structured={"judge_probe": JUDGE})
    broker = Broker(CollabConfig(max_tokens=500), provider=provider)

    await collect(broker.preview_move(effect, LocalContextStore(source).load()))

    by_prompt = {
        c.request.messages[-1].content: c.request.max_tokens for c in provider.calls if c.is_answer
    }
    # m's own length; n has no setting: the configured default, never the source's.
    assert by_prompt["M?"] == 77 and by_prompt["N?"] == 500


async def test_a_reached_notebooks_model_must_be_allowed(project):
    source = write_notebook(project / "source.ipynb", ["Source?"])
    entry_id = add_entry(source, ENTRY)
    m = write_notebook(project / "m.ipynb", ["M?"])
    LocalContextStore(m).save(CollabContext(settings=Settings(model="forbidden-model")))
    _, effect = effect_of(source, entry_id)
    provider = ScriptedProvider()
    broker = Broker(CollabConfig(allowed_models=["scripted-1"]), provider=provider)

    with pytest.raises(InvalidRequestError, match=r"m\.ipynb: model 'forbidden-model'"):
        await collect(broker.preview_move(effect, None))
    assert provider.calls == []


async def test_no_probe_finishes_without_a_model_call(project):
    source = write_notebook(project / "source.ipynb", ["Source?"])
    entry_id = add_entry(source, ENTRY)
    _, effect = effect_of(source, entry_id)
    provider = ScriptedProvider()
    broker = Broker(CollabConfig(), provider=provider)

    events = await collect(broker.preview_move(effect, None))

    assert [e.event for e in events] == ["started", "finished"]
    assert events[0].probes == [] and events[-1].report.outcomes == []
    assert provider.calls == []


def test_a_probe_naming_a_notebook_without_a_context_is_refused():
    probe = Probe(prompt="Q?", kind="notebook", notebook="other.ipynb")
    with pytest.raises(InvalidRequestError, match=r"other\.ipynb"):
        context_of(probe, None, {})
    assert context_of(Probe(prompt="Q?", kind="user"), None, {}) is None


def test_an_imports_probes_are_the_notebooks_most_recent_prompts(tmp_path):
    prompts = [f"Question {i}?" for i in range(IMPORT_PROBES + 2)]
    notebook = nbformat.read(str(write_notebook(tmp_path / "nb.ipynb", prompts)), as_version=4)
    context = CollabContext(amendments=[Amendment(kind="process", text=M_OWN)])
    entry = Amendment(kind="fact", text=ENTRY)

    effect = import_effect(notebook, "week1/nb.ipynb", entry, context)

    assert [p.prompt for p in effect.probes] == list(reversed(prompts))[:IMPORT_PROBES]
    assert {p.notebook for p in effect.probes} == {"week1/nb.ipynb"}
    assert all(p.kind.value == "notebook" for p in effect.probes)
    assert "would be imported into" in effect.probes[0].expectation
    assert effect.contexts == {"week1/nb.ipynb": context}
    assert (effect.draft.kind.value, effect.draft.text) == ("fact", ENTRY)
    # A notebook without collaborator cells has nothing to preview.
    empty = import_effect(nbformat.v4.new_notebook(), "empty.ipynb", entry, None)
    assert empty.probes == []
