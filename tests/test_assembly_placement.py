"""Where the constitution goes, per model family (core/assembly.py)."""

from __future__ import annotations

import pytest

from jupyter_collab.core.assembly import (
    CONSTITUTION_HEADING,
    FAMILY_PLACEMENT,
    REMINDER_HEADING,
    Placement,
    assemble,
    constitution_placement,
    input_hash,
    model_family,
)
from jupyter_collab.core.context_model import Amendment, CollabContext, Mode
from jupyter_collab.core.personas import persona_text

FACT = Amendment(kind="fact", text="Risks from Learned Optimization is Hubinger et al., 2019.")
RULE = Amendment(kind="process", text="Answer in at most five sentences.")
CONTEXT = CollabContext(amendments=[FACT, RULE])
PERSONA = persona_text(Mode.research)


@pytest.mark.parametrize(
    ("model", "family"),
    [
        ("SmolLM2-135M-Instruct", "smollm2"),
        ("gemma-3-270m", "gemma"),
        ("claude-sonnet-4-5", None),
        (None, None),
        ("gpt-4o", None),
    ],
)
def test_model_family(model, family):
    assert model_family(model) == family


def test_unmeasured_families_keep_the_system_prompt():
    assert constitution_placement("claude-sonnet-4-5") is Placement.system
    assert constitution_placement(None) is Placement.system
    for family, placement in FAMILY_PLACEMENT.items():
        assert constitution_placement(family) is placement


def test_claude_layout_is_unchanged_by_placement_support():
    assembled = assemble("Who wrote it?", context=CONTEXT, model="claude-sonnet-4-5")
    request = assembled.request
    assert [block.cache for block in request.system] == [True, True]
    assert request.system[0].text.startswith(PERSONA)
    assert CONSTITUTION_HEADING in request.system[0].text
    assert request.messages[-1].content == "Who wrote it?"
    explicit = assemble(
        "Who wrote it?", context=CONTEXT, model="claude-sonnet-4-5", placement=Placement.system
    )
    assert explicit.request == request


def test_user_prefix_puts_the_constitution_before_the_prompt():
    assembled = assemble(
        "Who wrote it?", context=CONTEXT, model="any", placement=Placement.user_prefix
    )
    request = assembled.request
    assert request.system_text() == PERSONA
    content = request.messages[-1].content
    assert content.startswith(CONSTITUTION_HEADING)
    assert content.endswith("\n\nWho wrote it?")
    assert FACT.text in content and RULE.text in content
    # The constitution's hash names the same entries whatever the placement.
    assert assembled.context_hash == assemble("Who wrote it?", context=CONTEXT).context_hash


def test_reminder_keeps_the_system_prompt_and_repeats_the_entries_after_the_prompt():
    system = assemble("Who wrote it?", context=CONTEXT, model="any")
    reminded = assemble("Who wrote it?", context=CONTEXT, model="any", placement=Placement.reminder)
    assert reminded.request.system == system.request.system
    content = reminded.request.messages[-1].content
    assert content == (f"Who wrote it?\n\n{REMINDER_HEADING}\n- {FACT.text}\n- {RULE.text})")


def test_earlier_turns_are_not_touched_by_any_placement():
    from jupyter_collab.core.assembly import Turn

    history = [Turn("First?", "First answer.")]
    for placement in Placement:
        request = assemble("Second?", context=CONTEXT, history=history, placement=placement).request
        assert [m.content for m in request.messages[:2]] == ["First?", "First answer."]


def test_without_a_constitution_every_placement_is_the_same_request():
    requests = [
        assemble("Hi?", context=None, placement=placement).request for placement in Placement
    ]
    assert all(request == requests[0] for request in requests)


def test_placement_changes_the_input_hash():
    hashes = {
        input_hash("local", "m", assemble("Hi?", context=CONTEXT, placement=placement).request)
        for placement in Placement
    }
    assert len(hashes) == len(Placement)
