"""suggest_corrections, propose_amendments, generate_probes and finalize against a
scripted provider: prompts, schemas, validation, duplicate flags, provenance."""

from __future__ import annotations

import json

import pytest

from jupyter_collab.core.broker import Broker
from jupyter_collab.core.config import CollabConfig
from jupyter_collab.core.context_format import parse_context, serialize_context
from jupyter_collab.core.context_model import (
    MAX_STORED_ANSWER,
    Amendment,
    AmendmentKind,
    AmendmentStatus,
    CollabContext,
    CorrectionOperation,
    ProbeKind,
    TextPositionSelector,
    TextQuoteSelector,
    Verdict,
)
from jupyter_collab.core.errors import InvalidRequestError, StructuredOutputError
from jupyter_collab.core.hashing import sha256_text
from jupyter_collab.core.operation_models import (
    AmendmentDraft,
    CorrectionInput,
    HighlightInput,
    PreviewReport,
    Probe,
    ProbeOutcome,
)
from jupyter_collab.core.operations.amend import AmendmentsResponse
from jupyter_collab.core.operations.probes import ProbesResponse
from jupyter_collab.core.operations.suggest import SuggestionsResponse
from jupyter_collab.core.store import LocalContextStore

from .scripted_provider import ScriptedProvider

ANSWER = "The method was introduced by Smith et al. (2019) and is widely used."
QUOTE = "Smith et al. (2019)"


def highlight() -> HighlightInput:
    start = ANSWER.index(QUOTE)
    return HighlightInput(
        answer=ANSWER,
        prompt="Who introduced the method?",
        position=TextPositionSelector(start=start, end=start + len(QUOTE)),
        quote=TextQuoteSelector(exact=QUOTE, prefix=ANSWER[:start], suffix=ANSWER[start + 16 :]),
        cell_id="cell-1",
        response_id="msg_1",
    )


def broker_with(provider: ScriptedProvider, **config) -> Broker:
    return Broker(CollabConfig(**config), provider=provider)


def context_with(*texts: tuple[str, str]) -> CollabContext:
    return CollabContext(amendments=[Amendment(kind=k, text=t) for k, t in texts])


# -- schemas -------------------------------------------------------------------


@pytest.mark.parametrize("model", [SuggestionsResponse, AmendmentsResponse, ProbesResponse])
def test_response_schemas_are_flat_and_bounded(model):
    schema = model.model_json_schema()
    text = json.dumps(schema)
    assert "$ref" not in text and "$defs" not in text and '"title"' not in text
    assert schema["type"] == "object" and schema["additionalProperties"] is False
    assert set(schema["required"]) == set(schema["properties"])

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "array":
                assert "maxItems" in node
            if node.get("type") == "string" and "enum" not in node:
                assert "maxLength" in node
            for value in node.values():
                walk(value)

    walk(schema)


# -- suggest ---------------------------------------------------------------------


async def test_suggest_corrections_builds_prompt_and_ranks():
    provider = ScriptedProvider(
        structured={
            "suggest_corrections": {
                "suggestions": [
                    {"operation": "replace", "text": "Jones (2017)", "why": "Wrong citation."},
                    {"operation": "replace", "text": "Jones (2017)", "why": "Same again."},
                    {"operation": "delete", "text": "ignored", "why": "Unsourced."},
                    {"operation": "comment", "text": "Check the source.", "why": "Unsure."},
                ]
            }
        }
    )
    broker = broker_with(provider, ops_model="ops-model")
    context = context_with(("process", "Be terse."))
    result = await broker.suggest_corrections(highlight(), n=3, context=context)
    assert [(s.operation, s.text, s.rank) for s in result] == [
        (CorrectionOperation.replace, "Jones (2017)", 0),
        (CorrectionOperation.delete, "", 1),
        (CorrectionOperation.comment, "Check the source.", 2),
    ]
    call = provider.calls[0]
    assert call.kind == "suggest_corrections"
    assert call.request.model == "ops-model"
    assert call.request.temperature == 0.0
    assert call.request.system[0].cache is True
    user = call.request.messages[0].content
    assert f"[[{QUOTE}]]" in user and "Who introduced the method?" in user
    assert "Be terse." in user


async def test_suggest_retries_once_then_raises_quoting_the_output():
    provider = ScriptedProvider(structured={"suggest_corrections": ["not json", "still {bad"]})
    with pytest.raises(StructuredOutputError) as err:
        await broker_with(provider).suggest_corrections(highlight())
    assert "still {bad" in str(err.value)
    assert provider.kinds() == ["suggest_corrections", "suggest_corrections"]


async def test_suggest_accepts_a_raw_newline_inside_a_json_string():
    # llama.cpp's JSON-schema grammar allows raw control characters in strings
    # (SmolLM2 writes them); strict JSON parsing rejected every such answer.
    raw = '{"suggestions": [{"operation": "replace", "text": "Jones\n(2017)", "why": "Wrong."}]}'
    provider = ScriptedProvider(structured={"suggest_corrections": [raw]})
    result = await broker_with(provider).suggest_corrections(highlight())
    assert [s.text for s in result] == ["Jones\n(2017)"]
    assert provider.kinds() == ["suggest_corrections"]


async def test_suggest_rejects_all_blank_suggestions():
    blank = {"suggestions": [{"operation": "replace", "text": "  ", "why": ""}]}
    provider = ScriptedProvider(structured={"suggest_corrections": blank})
    with pytest.raises(StructuredOutputError, match="empty text"):
        await broker_with(provider).suggest_corrections(highlight())


async def test_suggest_validates_n():
    with pytest.raises(InvalidRequestError):
        await broker_with(ScriptedProvider()).suggest_corrections(highlight(), n=0)


# -- amend -----------------------------------------------------------------------


async def test_propose_amendments_flags_duplicates_and_contradictions():
    context = context_with(
        ("fact", "The method was introduced by Jones (2017)."),
        ("process", "Answer in one paragraph."),
    )
    fact_id, rule_id = (a.id for a in context.amendments)
    provider = ScriptedProvider(
        structured={
            "propose_amendments": {
                "amendments": [
                    {
                        "kind": "fact",
                        "text": "The method was introduced by Jones (2017)",
                        "rationale": "Same as the correction.",
                        "duplicates": [],
                        "contradicts": [],
                    },
                    {
                        "kind": "process",
                        "text": "Cite sources only when you can name them exactly.",
                        "rationale": "Avoid invented citations.",
                        "duplicates": ["a-doesnotexist"],
                        "contradicts": [f"[{rule_id}]"],
                    },
                    {
                        "kind": "fact",
                        "text": "Smith et al. did not introduce the method.",
                        "rationale": "The highlighted attribution is wrong.",
                        "duplicates": [],
                        "contradicts": [],
                    },
                ]
            }
        }
    )
    correction = CorrectionInput(operation="replace", text="Jones (2017)", why="Wrong paper.")
    result = await broker_with(provider).propose_amendments(highlight(), correction, context, n=3)
    # Clean proposals first, then the flagged ones (in the model's order).
    assert [p.text for p in result] == [
        "Smith et al. did not introduce the method.",
        "The method was introduced by Jones (2017)",
        "Cite sources only when you can name them exactly.",
    ]
    assert result[1].duplicates == [fact_id]  # deterministic check (model said none)
    assert result[2].duplicates == []  # unknown id dropped
    assert result[2].contradicts == [rule_id]
    user = provider.calls[0].request.messages[0].content
    assert f"[{fact_id}] (fact)" in user and f"[{rule_id}] (process)" in user
    assert "'Jones (2017)'" in user and "Wrong paper." in user


async def test_propose_amendments_drops_repeated_proposals():
    item = {"kind": "process", "rationale": "", "duplicates": [], "contradicts": []}
    provider = ScriptedProvider(
        structured={
            "propose_amendments": {
                "amendments": [
                    {**item, "text": "Be brief."},
                    {**item, "text": "be brief"},
                    {**item, "text": "Use tables for comparisons."},
                ]
            }
        }
    )
    result = await broker_with(provider).propose_amendments(
        highlight(), CorrectionInput(operation="delete"), None, n=3
    )
    assert [p.text for p in result] == ["Be brief.", "Use tables for comparisons."]


async def test_propose_amendments_needs_correction_text():
    with pytest.raises(InvalidRequestError, match="no text"):
        await broker_with(ScriptedProvider()).propose_amendments(
            highlight(), CorrectionInput(operation="replace", text=" "), None
        )


# -- probes ----------------------------------------------------------------------

DRAFT = AmendmentDraft(kind="fact", text="The method was introduced by Jones (2017).")


async def test_generate_probes_keeps_original_and_notebook_prompts():
    provider = ScriptedProvider(
        structured={
            "generate_probes": {
                "should_change": ["Who proposed the method?", "Who introduced the method?"],
                "should_not_change": ["What does the method compute?", "Explain gradient descent."],
            }
        }
    )
    probes = await broker_with(provider).generate_probes(
        DRAFT,
        ["Load the data.", "Who introduced the method?", "Plot it."],
        "Who introduced the method?",
        n=4,
    )
    assert [(p.kind, p.prompt) for p in probes] == [
        (ProbeKind.original, "Who introduced the method?"),
        (ProbeKind.notebook, "Load the data."),
        (ProbeKind.notebook, "Plot it."),
        (ProbeKind.should_change, "Who proposed the method?"),
        (ProbeKind.should_not_change, "What does the method compute?"),
        (ProbeKind.should_not_change, "Explain gradient descent."),
    ]
    assert all(p.expectation for p in probes)
    user = provider.calls[0].request.messages[0].content
    assert DRAFT.text in user and "Load the data." in user
    assert "2 should_change prompt(s) and 2 should_not_change" in user


async def test_generate_probes_fills_up_with_the_other_kind():
    provider = ScriptedProvider(
        structured={
            "generate_probes": {"should_change": ["A?", "B?", "C?"], "should_not_change": []}
        }
    )
    probes = await broker_with(provider).generate_probes(DRAFT, [], None, n=3)
    assert [p.prompt for p in probes] == ["A?", "B?", "C?"]


async def test_generate_probes_zero_makes_no_call():
    provider = ScriptedProvider()
    probes = await broker_with(provider).generate_probes(DRAFT, ["Earlier?"], "Now?", n=0)
    assert [p.kind for p in probes] == [ProbeKind.original, ProbeKind.notebook]
    assert provider.calls == []


# -- finalize --------------------------------------------------------------------


def report_for(draft: AmendmentDraft) -> PreviewReport:
    probe = Probe(prompt="Who introduced the method?", kind=ProbeKind.original)
    outcome = ProbeOutcome(
        probe=probe,
        baseline="Smith",
        amended="Jones",
        baseline_hash=sha256_text("Smith"),
        amended_hash=sha256_text("Jones"),
        verdict=Verdict.intended,
        reason="Now cites Jones.",
    )
    return PreviewReport(amendment=draft, outcomes=[outcome], model="m")


def test_finalize_records_full_provenance_and_is_pure():
    context = context_with(("process", "Be terse."))
    before = serialize_context(context)
    correction = CorrectionInput(
        operation="replace", text="Jones (2017)", why="Wrong paper.", origin="ai", rank=0
    )
    updated, amendment = Broker.finalize(
        context, DRAFT, highlight=highlight(), correction=correction, report=report_for(DRAFT)
    )
    assert serialize_context(context) == before  # the input is untouched
    assert updated.revision == context.revision  # the store bumps it on save
    stored_highlight = updated.highlights[-1]
    stored_correction = updated.corrections[-1]
    assert stored_highlight.cell_id == "cell-1"
    assert stored_highlight.answer_hash == sha256_text(ANSWER)
    assert stored_highlight.quote.exact == QUOTE
    assert stored_correction.highlight_id == stored_highlight.id
    assert (stored_correction.origin, stored_correction.rank) == ("ai", 0)
    assert amendment.status == AmendmentStatus.accepted
    assert amendment.kind == AmendmentKind.fact
    p = amendment.provenance
    assert (p.cell_id, p.response_id, p.highlight_id, p.correction_id) == (
        "cell-1",
        "msg_1",
        stored_highlight.id,
        stored_correction.id,
    )
    assert (p.quote, p.correction, p.prompt, p.source) == (
        QUOTE,
        "Jones (2017)",
        "Who introduced the method?",
        "loop",
    )
    [result] = amendment.preview
    assert result.verdict == Verdict.intended and result.reason == "Now cites Jones."
    assert result.baseline_hash == sha256_text("Smith")
    # What the check compares against later: the accepted answer, the measures, the model.
    assert result.amended_text == "Jones" and result.expected().value == "change"
    assert "key_terms" in result.measures and amendment.preview_model == "m"
    assert updated.amendments[-1] == amendment
    # The result is a valid context file.
    assert parse_context(serialize_context(updated), "x") == updated


def test_finalize_keeps_the_prompts_amended_answer_whole_and_the_start_of_others(tmp_path):
    """The amended answer to the prompt the amendment came from is the "chosen" answer
    of a training export: kept whole (and through a save and load of the context's
    evidence files); other probes keep their first 280 characters."""
    long_answer = "Jones (2017) introduced it. " + "More detail. " * 200
    outcomes = []
    for prompt, kind in (
        ("Who introduced the method?", ProbeKind.original),
        ("Summarize the method.", ProbeKind.should_not_change),
    ):
        outcomes.append(
            ProbeOutcome(
                probe=Probe(prompt=prompt, kind=kind),
                baseline="Smith",
                amended=long_answer,
                baseline_hash=sha256_text("Smith"),
                amended_hash=sha256_text(long_answer),
                verdict=Verdict.intended,
                reason="Now cites Jones.",
            )
        )
    report = PreviewReport(amendment=DRAFT, outcomes=outcomes, model="m")
    updated, amendment = Broker.finalize(
        context_with(), DRAFT, highlight=highlight(), report=report
    )
    original, other = amendment.preview
    assert original.amended_text == long_answer
    assert len(other.amended_text or "") == MAX_STORED_ANSWER and other.amended_text.endswith("…")
    store = LocalContextStore(tmp_path / "nb.ipynb")
    store.save(updated)
    loaded = store.load()
    assert loaded is not None
    assert loaded.amendment(amendment.id).preview[0].amended_text == long_answer


def test_finalize_refuses_a_preview_of_another_text():
    revised = AmendmentDraft(kind="fact", text="Jones et al. (2017) introduced it.")
    with pytest.raises(InvalidRequestError, match="preview"):
        Broker.finalize(CollabContext(), revised, report=report_for(DRAFT))


def test_finalize_refuses_a_duplicate():
    context = context_with(("fact", DRAFT.text.upper()))
    with pytest.raises(InvalidRequestError, match="already says this"):
        Broker.finalize(context, DRAFT)


def test_finalize_without_highlight():
    updated, amendment = Broker.finalize(CollabContext(), DRAFT, cell_id="c9", source="user")
    assert updated.highlights == [] and updated.corrections == []
    assert amendment.provenance.cell_id == "c9" and amendment.provenance.source == "user"
