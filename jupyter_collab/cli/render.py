"""Plain-text and Markdown views of a context and of a preview report."""

from __future__ import annotations

import shutil
from collections import Counter

from ..core.assembly import estimate_tokens, render_constitution
from ..core.loop_models import PreviewReport
from ..core.models import Amendment, AmendmentKind, CollabContext, Verdict
from ..core.operations.common import one_line
from ..core.operations.diffing import short_diff
from ..core.operations.noise import change_against_noise


def context_tokens(context: CollabContext) -> int:
    constitution = render_constitution(context.enabled_amendments())
    return estimate_tokens(constitution) if constitution else 0


def _counts(context: CollabContext) -> str:
    facts = sum(1 for a in context.amendments if a.kind == AmendmentKind.fact)
    rules = len(context.amendments) - facts
    enabled = len(context.enabled_amendments())
    return (
        f"{facts} fact{'s' if facts != 1 else ''}, {rules} process rule{'s' if rules != 1 else ''}"
        f" ({enabled} enabled) · ~{context_tokens(context)} tokens in the prompt"
    )


def _provenance_lines(amendment: Amendment) -> list[str]:
    p = amendment.provenance
    where = []
    if p.cell_id:
        where.append(f"cell {p.cell_id}")
    if p.quote:
        where.append(f"span “{one_line(p.quote, 60)}”")
    if p.correction:
        where.append(f"correction “{one_line(p.correction, 60)}”")
    lines = [
        f"source {p.source}"
        + (", " + ", ".join(where) if where else "")
        + f" · created {amendment.created.isoformat()} · rev {amendment.rev}"
    ]
    if amendment.preview:
        verdicts = Counter(r.verdict.value for r in amendment.preview)
        summary = ", ".join(f"{n} {v}" for v, n in sorted(verdicts.items()))
        lines.append(f"previewed on {len(amendment.preview)} probe(s): {summary}")
    if amendment.check is not None:
        check = amendment.check
        replayed = ", replayed" if check.replayed else ""
        lines.append(
            f"last check: {check.health.value} ({check.at.date().isoformat()}, "
            f"{check.provider} · {check.model}{replayed}): {one_line(check.summary, 100)}"
        )
    if amendment.rationale:
        lines.append(f"why: {one_line(amendment.rationale, 100)}")
    return lines


def context_text(context: CollabContext, title: str) -> str:
    lines = [title, f"Mode: {context.settings.mode.value} · {_counts(context)}"]
    for kind, heading in ((AmendmentKind.fact, "Facts"), (AmendmentKind.process, "Process rules")):
        entries = [a for a in context.amendments if a.kind == kind]
        if not entries:
            continue
        lines += ["", heading]
        for amendment in entries:
            lines.append(f"  {amendment.id}  [{amendment.status.value}]  {amendment.text.strip()}")
            lines += [f"      {line}" for line in _provenance_lines(amendment)]
    if not context.amendments:
        lines += ["", "No amendments yet."]
    return "\n".join(lines)


def context_markdown(context: CollabContext, title: str) -> str:
    lines = [f"# {title}", "", f"Mode: **{context.settings.mode.value}** · {_counts(context)}"]
    for kind, heading in ((AmendmentKind.fact, "Facts"), (AmendmentKind.process, "Process rules")):
        entries = [a for a in context.amendments if a.kind == kind]
        if not entries:
            continue
        lines += ["", f"## {heading}", ""]
        for amendment in entries:
            text = amendment.text.strip().replace("\n", " ")
            lines.append(f"- **{amendment.id}** ({amendment.status.value}): {text}")
            lines += [f"  - {line}" for line in _provenance_lines(amendment)]
    if not context.amendments:
        lines += ["", "_No amendments yet._"]
    return "\n".join(lines)


def _fit(text: str, width: int) -> str:
    text = one_line(text, width)
    return text.ljust(width)


def preview_table(report: PreviewReport, width: int | None = None) -> str:
    """One row per probe: verdict, kind, the noise measure, probe, reason and a short diff.

    The ``change/noise`` column is the share of words the amendment changed against
    the share that changes between two baseline samples alone (``-`` when identical).
    """
    width = width or max(100, shutil.get_terminal_size((120, 24)).columns)
    fixed = 3 + 2 + 12 + 2 + 17 + 2 + 12 + 2
    rest = max(45, width - fixed - 4)
    probe_w = reason_w = rest * 7 // 20
    diff_w = rest - probe_w - reason_w
    header = (
        f"{'#':>3}  {'verdict':<12}  {'kind':<17}  {'change/noise':<12}  "
        f"{'probe':<{probe_w}}  {'reason':<{reason_w}}  diff"
    )
    lines = [header, "-" * min(width, len(header) + diff_w - 4)]
    for i, outcome in enumerate(report.outcomes, 1):
        lines.append(
            f"{i:>3}  {outcome.verdict.value:<12}  {outcome.probe.kind.value:<17}  "
            f"{change_against_noise(outcome.noise):<12}  "
            f"{_fit(outcome.probe.prompt, probe_w)}  {_fit(outcome.reason, reason_w)}  "
            f"{short_diff(outcome.baseline, outcome.amended, diff_w)}"
        )
    return "\n".join(lines)


def preview_summary(report: PreviewReport, provider: str) -> str:
    verdicts = Counter(o.verdict.value for o in report.outcomes)
    reused = sum(1 for o in report.outcomes if o.baseline_cached)
    parts = [
        f"{len(report.outcomes)} probe(s): "
        + ", ".join(f"{verdicts.get(v.value, 0)} {v.value}" for v in Verdict),
        f"{reused} baseline(s) reused",
        f"{provider} · {report.model}",
        f"{report.duration_s:.1f} s",
    ]
    if report.cancelled:
        parts.append("CANCELLED")
    return " · ".join(parts)
