"""Contradictions between layers (``core/operations/layer_contradictions.py``): which
pairs the ops model is asked about, what it may not invent, when it is not asked
at all, and that a pair judged once is not asked again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jupyter_collab.core.broker import Broker
from jupyter_collab.core.config import CollabConfig
from jupyter_collab.core.context_model import Amendment, AmendmentStatus, CollabContext
from jupyter_collab.core.layers import ContextLayers, Layer, LayerFile
from jupyter_collab.core.operations.layer_contradictions import (
    MAX_PAIRS,
    candidate_pairs,
)

from .scripted_provider import ScriptedProvider

FRENCH = Amendment(id="a-french", kind="process", text="Always answer in French.")
ENGLISH = Amendment(id="a-english", kind="process", text="Always answer in English.")
CITE = Amendment(id="a-cite", kind="fact", text="Cite Hubinger et al. 2019 for mesa-optimization.")
BRIEF = Amendment(id="a-brief", kind="process", text="Keep answers under five sentences.")


def layers(
    personal: list[Amendment] = (), project: list[Amendment] = (), notebook: list[Amendment] = ()
) -> ContextLayers:
    def file(layer: Layer, entries) -> LayerFile:
        context = CollabContext(amendments=list(entries)) if entries else None
        return LayerFile(layer, Path(f"/x/{layer.value}.json"), context)

    return ContextLayers(
        notebook=file(Layer.notebook, notebook),
        project=file(Layer.project, project),
        personal=file(Layer.personal, personal),
    )


def verdict(first: str, second: str, contradicts: bool, why: str = "") -> dict:
    return {"first": first, "second": second, "contradicts": contradicts, "why": why}


def broker(provider: ScriptedProvider) -> Broker:
    return Broker(CollabConfig(provider="anthropic"), provider=provider)


def asked_pairs(provider: ScriptedProvider) -> list[str]:
    [call] = [c for c in provider.calls if c.kind == "layer_contradictions"]
    return call.request.messages[-1].content


async def test_a_project_and_a_notebook_entry_that_contradict_are_named_nearer_first():
    provider = ScriptedProvider(
        structured={
            "layer_contradictions": {
                "verdicts": [
                    verdict("project:a-french", "notebook:a-english", True, "French vs English."),
                    verdict("project:a-cite", "notebook:a-english", False),
                ]
            }
        }
    )
    result = await broker(provider).layer_contradictions(
        layers(project=[FRENCH, CITE], notebook=[ENGLISH])
    )
    [found] = result.contradictions
    assert (str(found.nearer), str(found.farther)) == ("notebook:a-english", "project:a-french")
    assert found.why == "French vs English."
    assert (result.compared, result.asked, result.left_out) == (2, 2, 0)
    prompt = asked_pairs(provider)
    # The pair sharing words ("always", "answer") is listed first.
    assert prompt.index("[project:a-french]") < prompt.index("[project:a-cite]")
    assert "Judge each of the 2 pairs." in prompt
    tool = provider.calls[0].tool
    assert tool.schema["properties"]["verdicts"]["maxItems"] == 2


async def test_only_entries_of_different_layers_in_effect_are_paired():
    rejected = Amendment(
        id="a-off", kind="process", text="Answer in German.", status=AmendmentStatus.disabled
    )
    stale_copy = Amendment(id="a-english", kind="process", text="Answer in Italian.")
    pairs = candidate_pairs(
        layers(
            personal=[BRIEF, stale_copy],
            project=[FRENCH, rejected, CITE],
            notebook=[ENGLISH],
        )
    )
    refs = {tuple(sorted((str(p.farther.ref), str(p.nearer.ref)))) for p in pairs}
    assert refs == {
        ("personal:a-brief", "project:a-french"),
        ("personal:a-brief", "project:a-cite"),
        ("notebook:a-english", "personal:a-brief"),
        ("notebook:a-english", "project:a-french"),
        ("notebook:a-english", "project:a-cite"),
    }
    # A repeat is not a contradiction: the layers report names it already.
    repeat = Amendment(id="a-again", kind="process", text="Always answer in French!")
    assert candidate_pairs(layers(project=[FRENCH], notebook=[repeat])) == []


async def test_ids_the_model_invents_are_dropped():
    provider = ScriptedProvider(
        structured={
            "layer_contradictions": {
                "verdicts": [
                    verdict("project:a-made-up", "notebook:a-english", True, "Invented."),
                    verdict("project:a-french", "project:a-english", True, "Wrong layer."),
                    verdict("[notebook:a-english]", "[project:a-french]", True, "Swapped, ok."),
                ]
            }
        }
    )
    result = await broker(provider).layer_contradictions(
        layers(project=[FRENCH], notebook=[ENGLISH])
    )
    assert [c.why for c in result.contradictions] == ["Swapped, ok."]
    assert (result.compared, result.unanswered) == (1, 0)
    # A model that names only pairs that were not asked answered nothing. The same
    # question would get the same answer: it is not asked again until a text changes.
    provider.structured["layer_contradictions"] = {
        "verdicts": [verdict("project:a-french", "project:a-english", True, "Wrong layer.")]
    }
    shared = broker(provider)
    for asked in (1, 0):
        result = await shared.layer_contradictions(layers(project=[FRENCH], notebook=[ENGLISH]))
        assert result.contradictions == [] and (result.compared, result.unanswered) == (0, 1)
        assert result.asked == asked
    assert len(provider.calls) == 2
    reworded = Amendment(id="a-english", kind="process", text="Answer in English only.")
    result = await shared.layer_contradictions(layers(project=[FRENCH], notebook=[reworded]))
    assert result.asked == 1 and len(provider.calls) == 3


async def test_no_candidate_pairs_asks_nothing():
    provider = ScriptedProvider()
    for case in (
        layers(),
        layers(notebook=[FRENCH, ENGLISH]),  # one layer: checked when proposed
        layers(project=[FRENCH], notebook=[FRENCH]),  # the same id: the nearer copy applies
    ):
        result = await broker(provider).layer_contradictions(case)
        assert result.contradictions == [] and result.asked == 0
    assert provider.calls == []


async def test_a_judged_pair_is_not_asked_again_until_a_text_changes():
    seen: list[str] = []

    def answer(request) -> str:
        prompt = request.messages[-1].content
        seen.append(prompt)
        return json.dumps(
            {
                "verdicts": [
                    verdict("project:a-french", "notebook:a-english", True, "French vs English.")
                ]
                + (
                    [
                        verdict("personal:a-brief", "notebook:a-english", False),
                        verdict("personal:a-brief", "project:a-french", False),
                    ]
                    if "a-brief" in prompt
                    else []
                )
            }
        )

    provider = ScriptedProvider(structured={"layer_contradictions": answer})
    shared = broker(provider)
    first = await shared.layer_contradictions(layers(project=[FRENCH], notebook=[ENGLISH]))
    again = await shared.layer_contradictions(layers(project=[FRENCH], notebook=[ENGLISH]))
    assert len(seen) == 1 and (again.asked, again.compared) == (0, 1)
    assert again.contradictions == first.contradictions
    # A new entry: only its pairs are asked.
    grown = await shared.layer_contradictions(
        layers(personal=[BRIEF], project=[FRENCH], notebook=[ENGLISH])
    )
    assert len(seen) == 2 and grown.asked == 2 and grown.compared == 3
    # The French/English pair is not among them: each of the two appears once, with a-brief.
    assert seen[1].count("[project:a-french]") == seen[1].count("[notebook:a-english]") == 1
    # The same ids with another text are another pair.
    changed = FRENCH.model_copy(update={"text": "Always answer in Spanish."})
    await shared.layer_contradictions(layers(project=[changed], notebook=[ENGLISH]))
    assert len(seen) == 3
    # Another ops model judges afresh.
    other = Broker(CollabConfig(provider="anthropic", ops_model="other-model"), provider=provider)
    other.contradiction_cache = shared.contradiction_cache
    await other.layer_contradictions(layers(project=[FRENCH], notebook=[ENGLISH]))
    assert len(seen) == 4


async def test_pairs_beyond_the_bound_are_left_out_least_similar_last():
    notebook = [
        Amendment(id=f"a-n{i}", kind="fact", text=f"Dataset {i} holds unrelated values {i}.")
        for i in range(MAX_PAIRS + 2)
    ]
    provider = ScriptedProvider(structured={"layer_contradictions": {"verdicts": []}})
    result = await broker(provider).layer_contradictions(
        layers(
            project=[Amendment(id="a-p", kind="fact", text="Dataset 3 is in millimolar.")],
            notebook=notebook,
        )
    )
    assert (result.asked, result.left_out, result.compared) == (MAX_PAIRS, 2, 0)
    assert result.unanswered == MAX_PAIRS
    prompt = asked_pairs(provider)
    assert prompt.count("[project:a-p]") == MAX_PAIRS


async def test_a_model_failure_is_an_error_not_an_empty_answer():
    from jupyter_collab.core.errors import ProviderError

    provider = ScriptedProvider()
    provider.complete_structured = _failing  # type: ignore[method-assign]
    with pytest.raises(ProviderError):
        await broker(provider).layer_contradictions(layers(project=[FRENCH], notebook=[ENGLISH]))


async def _failing(request, tool):
    from jupyter_collab.core.errors import ProviderError

    raise ProviderError("scripted failure")


async def test_two_askers_of_the_same_pairs_at_once_share_one_call():
    """Two users' panels on one notebook ask at the same moment: one model call, the
    same verdict for both; an asker that goes away does not cancel it for the other."""
    import asyncio

    provider = ScriptedProvider(
        delay=0.2,
        structured={
            "layer_contradictions": {
                "verdicts": [verdict("project:a-french", "notebook:a-english", True, "Both.")]
            }
        },
    )
    shared = broker(provider)
    both = layers(project=[FRENCH], notebook=[ENGLISH])
    first = asyncio.ensure_future(shared.layer_contradictions(both))
    leaving = asyncio.ensure_future(shared.layer_contradictions(both))
    await asyncio.sleep(0.05)
    leaving.cancel()
    result = await first
    assert [c.why for c in result.contradictions] == ["Both."]
    assert len(provider.calls) == 1 and shared.contradiction_cache.asking == {}
    again = await asyncio.gather(
        shared.layer_contradictions(both), shared.layer_contradictions(both)
    )
    assert [r.asked for r in again] == [0, 0] and len(provider.calls) == 1
