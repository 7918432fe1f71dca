"""Every loop operation for real against the embedded SmolLM2-135M-Instruct.

The model is weak: these tests check that what comes back has a valid
structure (grammar-constrained JSON that validates), not that it is wise.
Outside CI they skip when the ``[local]`` extra is missing; in CI (``CI=true``)
that is a failure.
"""

from __future__ import annotations

import asyncio

import nbformat
import pytest

from jupyter_collab.cli import main
from jupyter_collab.core.broker import Broker
from jupyter_collab.core.config import CollabConfig
from jupyter_collab.core.context_format import parse_context, serialize_context
from jupyter_collab.core.context_model import (
    Amendment,
    AmendmentStatus,
    CollabContext,
    ProbeKind,
    TextPositionSelector,
    Verdict,
)
from jupyter_collab.core.operation_models import (
    AmendmentDraft,
    CorrectionInput,
    HighlightInput,
    Probe,
    ProposedAmendment,
    SuggestedCorrection,
)
from jupyter_collab.core.operations.anchoring import make_quote
from tests.local_model import require_local_model

pytestmark = pytest.mark.local_model

ANSWER = "The Adam optimizer was introduced by Smith et al. in 2019. It adapts learning rates."
QUOTE = "Smith et al. in 2019"
PROMPT = "Who introduced the Adam optimizer?"
DRAFT = AmendmentDraft(kind="fact", text="Adam was introduced by Kingma and Ba in 2015.")
REVISED = AmendmentDraft(kind="fact", text="Cite Adam as: Kingma and Ba (2015).")


def config(**extra) -> CollabConfig:
    return CollabConfig(provider="local", max_tokens=64, local_n_ctx=4096, **extra)


@pytest.fixture(scope="module")
def broker():
    require_local_model()
    from jupyter_collab.core.providers.local import LocalProvider

    cfg = config()
    provider = LocalProvider(cfg)
    asyncio.run(provider.load())  # its cold start: local_cold_start_ratio, benchmarks/
    yield Broker(cfg, provider=provider)
    asyncio.run(provider.aclose())


def highlight() -> HighlightInput:
    start = ANSWER.index(QUOTE)
    end = start + len(QUOTE)
    return HighlightInput(
        answer=ANSWER,
        prompt=PROMPT,
        position=TextPositionSelector(start=start, end=end),
        quote=make_quote(ANSWER, start, end),
        cell_id="cell-1",
    )


async def test_suggest_corrections_structure(broker):
    result = await broker.suggest_corrections(highlight(), n=2)
    assert 1 <= len(result) <= 2
    for rank, suggestion in enumerate(result):
        assert isinstance(suggestion, SuggestedCorrection) and suggestion.rank == rank
        assert suggestion.operation.value in {"replace", "delete", "insert", "comment"}
        assert suggestion.operation.value == "delete" or suggestion.text.strip()


async def test_propose_amendments_structure(broker):
    context = CollabContext(amendments=[Amendment(kind="process", text="Answer briefly.")])
    known = {a.id for a in context.amendments}
    correction = CorrectionInput(text="Kingma and Ba in 2015", why="Wrong authors and year.")
    result = await broker.propose_amendments(highlight(), correction, context, n=2)
    assert 1 <= len(result) <= 2
    for proposal in result:
        assert isinstance(proposal, ProposedAmendment) and proposal.text.strip()
        assert proposal.kind.value in {"fact", "process"}
        assert set(proposal.duplicates) <= known and set(proposal.contradicts) <= known


async def test_generate_probes_structure(broker):
    probes = await broker.generate_probes(DRAFT, ["Load the data."], PROMPT, n=2)
    assert probes[0] == Probe(
        prompt=PROMPT, kind=ProbeKind.original, expectation=probes[0].expectation
    )
    assert probes[1].kind == ProbeKind.notebook
    assert len(probes) <= 4
    generated = probes[2:]
    assert all(p.kind in (ProbeKind.should_change, ProbeKind.should_not_change) for p in generated)
    assert all(p.prompt.strip() for p in probes)


async def test_preview_and_finalize(broker):
    probes = [
        Probe(prompt=PROMPT, kind=ProbeKind.original),
        Probe(prompt="What is 2 + 2?", kind=ProbeKind.should_not_change),
    ]
    events = [e async for e in broker.preview(DRAFT, probes, None)]
    assert [e.event for e in events] == ["started", "probe", "probe", "finished"]
    report = events[-1].report
    assert len(report.outcomes) == 2 and not report.cancelled
    assert report.model == "SmolLM2-135M-Instruct"
    for outcome in report.outcomes:
        assert outcome.verdict in set(Verdict) and outcome.reason
        assert outcome.baseline and outcome.amended
        assert not outcome.baseline_cached

    # Revising the amendment re-runs only the amended side.
    revised = await broker.preview_report(REVISED, probes, None)
    assert all(o.baseline_cached for o in revised.outcomes)
    assert [o.baseline for o in revised.outcomes] == [o.baseline for o in report.outcomes]

    correction = CorrectionInput(text="Kingma and Ba in 2015")
    updated, amendment = broker.finalize(
        CollabContext(), REVISED, highlight=highlight(), correction=correction, report=revised
    )
    assert amendment.status == AmendmentStatus.accepted and len(amendment.preview) == 2
    assert parse_context(serialize_context(updated), "x") == updated


def test_cli_preview_with_the_embedded_model(tmp_path, monkeypatch, capsys):
    """The issue's done criterion: a verdict table from the embedded model, no key."""
    require_local_model()
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("JUPYTER_COLLAB_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "one-cell.ipynb"
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(f"%%collab\n{PROMPT}")]
    nbformat.write(notebook, str(path))
    code = main(
        [
            "preview",
            str(path),
            "--amendment",
            DRAFT.text,
            "--kind",
            "fact",
            "--probes",
            "1",
            "--max-tokens",
            "48",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    out = captured.out
    assert "verdict" in out and "original" in out
    assert "local · SmolLM2-135M-Instruct" in out
    row = next(line for line in out.splitlines() if "original" in line)
    assert any(v.value in row for v in Verdict)
