"""A check's verdicts put together: a probe's outcome, an amendment's health and summary."""

from __future__ import annotations

from ..context_model import Amendment, Expectation, Health, Verdict
from ..operation_models import AmendmentCheck, ProbeCheck
from .common import one_line


def probe_outcome(expectation: Expectation, verdict: Verdict, decided_by: str, met: bool):
    """A probe's outcome: pass, fail or flaky (the table in ``check.py``)."""
    if decided_by == "deterministic":
        return "pass" if met else "fail"
    if verdict == Verdict.within_noise:
        return "pass" if expectation == Expectation.no_change else "flaky"
    if expectation == Expectation.change:
        return "pass" if verdict == Verdict.intended else "fail"
    return "pass" if verdict == Verdict.unchanged else "fail"


def amendment_health(probes: list[ProbeCheck], conflicts: dict[int, str]) -> Health:
    """In conflict when a removal made a failing probe pass; else broken when a probe
    fails, flaky when one is flaky, and holds when every probe passes."""
    if conflicts:
        return Health.conflict
    if any(p.outcome == "fail" for p in probes):
        return Health.broken
    if any(p.outcome == "flaky" for p in probes):
        return Health.flaky
    return Health.holds


def probes_summary(amendment: Amendment, health: Health, probes: list[ProbeCheck]) -> str:
    if health == Health.untested:
        return (
            "no probes recorded: preview it, or add one with "
            f"`jupyter collab context expect NOTEBOOK {amendment.id} --add PROMPT`"
        )
    passed = sum(1 for p in probes if p.outcome == "pass")
    head = f"{passed}/{len(probes)} probes pass"
    worst = next((p for p in probes if p.outcome == "fail"), None) or next(
        (p for p in probes if p.outcome == "flaky"), None
    )
    if worst is None:
        return head
    reason = one_line(worst.reason, 200).rstrip(".")
    detail = f"probe {worst.index + 1} ({one_line(worst.prompt, 50)!r}): {reason}"
    if worst.conflict_with:
        detail += f"; passes once {worst.conflict_with} is removed"
    return f"{head}; {detail}"


def amendment_report(
    amendment: Amendment, health: Health, probes: list[ProbeCheck], conflicts: list[str]
) -> AmendmentCheck:
    return AmendmentCheck(
        amendment_id=amendment.id,
        kind=amendment.kind,
        text=amendment.text,
        health=health,
        summary=probes_summary(amendment, health, probes),
        conflicts_with=conflicts,
        probes=probes,
    )
