"""Objects many tests need, with plausible values; each test overrides what it checks."""

from __future__ import annotations

from typing import Any

from jupyter_collab.core.context_model import Mode, utcnow
from jupyter_collab.core.operation_models import AmendmentDraft, CompletionResult, PreviewReport
from jupyter_collab.core.providers.base import Usage


def completion_result(**fields: Any) -> CompletionResult:
    """A model's answer as both doors record it; ``fields`` replace the defaults."""
    values: dict[str, Any] = {
        "answer": "Use a log scale for the yields.",
        "prompt": "p",
        "response_id": "msg_1",
        "provider": "anthropic",
        "model": "claude-sonnet-5-5",
        "mode": Mode.research,
        "usage": Usage(),
        "context_revision": 0,
        "context_hash": "sha256:x",
        "input_hash": "sha256:y",
        "answer_hash": "sha256:z",
        "created": utcnow(),
    }
    values.update(fields)
    return CompletionResult(**values)


def collab_cell(cell_id: str, prompt: str, answer: str, **fields: Any) -> dict[str, Any]:
    """A collaborator cell as a notebook stores it: its source and the output both
    doors write for ``answer`` (``fields`` replace the result's defaults)."""
    import nbformat

    from jupyter_collab.core.hashing import sha256_text
    from jupyter_collab.core.outputs import CollabOutput, build_output

    result = completion_result(
        **{"answer": answer, "prompt": prompt, "cell_id": cell_id, **fields},
        answer_hash=sha256_text(answer),
    )
    cell = nbformat.v4.new_code_cell(f"%%collab\n{prompt}")
    cell["id"] = cell_id
    cell["outputs"] = [nbformat.from_dict(build_output(CollabOutput(result=result)))]
    return cell


def original_probe_report(
    draft: AmendmentDraft, prompt: str, baseline: str, amended: str
) -> PreviewReport:
    """A preview of ``draft`` on the prompt it came from: the baseline and amended answers."""
    from jupyter_collab.core.context_model import ProbeKind, Verdict
    from jupyter_collab.core.hashing import sha256_text
    from jupyter_collab.core.operation_models import Probe, ProbeOutcome

    outcome = ProbeOutcome(
        probe=Probe(prompt=prompt, kind=ProbeKind.original),
        baseline=baseline,
        amended=amended,
        baseline_hash=sha256_text(baseline),
        amended_hash=sha256_text(amended),
        verdict=Verdict.intended,
        reason="changed as intended",
    )
    return PreviewReport(amendment=draft, outcomes=[outcome], model="claude-sonnet-5-5")
