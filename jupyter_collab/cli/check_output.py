"""What ``jupyter collab check`` prints: a table per notebook (old and new model side
by side with ``--against-model``), the JSON report, and JUnit XML for CI."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ..core.loop_models import AmendmentCheck, CheckReport
from ..core.models import Health
from ..core.operations.common import one_line


@dataclass
class NotebookCheck:
    """One notebook's check, and the same check with ``--against-model`` if asked."""

    path: Path
    report: CheckReport
    against: CheckReport | None = None

    @property
    def reports(self) -> list[CheckReport]:
        return [self.report, *([self.against] if self.against is not None else [])]


def counts(report: CheckReport) -> str:
    found = Counter(a.health for a in report.amendments)
    return ", ".join(f"{found.get(h, 0)} {h.value}" for h in Health)


def _heading(report: CheckReport) -> str:
    how = "replayed" if report.replayed else f"{report.calls} call(s)"
    return f"{report.provider} · {report.model} · {report.duration_s:.1f} s · {how}"


def _details(check: AmendmentCheck) -> list[str]:
    lines = []
    for probe in check.probes:
        if probe.outcome == "pass":
            continue
        expectation = "should change" if probe.expectation.value == "change" else "should not"
        line = (
            f"      probe {probe.index + 1} [{expectation}] {probe.outcome} "
            f"({probe.decided_by}): {one_line(probe.prompt, 50)!r}: {one_line(probe.reason, 240)}"
        )
        if probe.conflict_with:
            line += f" (passes without {probe.conflict_with})"
        lines.append(line)
    return lines


def check_text(result: NotebookCheck) -> str:
    report = result.report
    lines = [f"{result.path.name} — {_heading(report)}"]
    if result.against is not None:
        lines[0] += f"  vs  {_heading(result.against)}"
    if not report.amendments:
        lines.append("  no enabled amendments")
    new = {a.amendment_id: a for a in (result.against.amendments if result.against else [])}
    for check in report.amendments:
        text = one_line(check.text, 48)
        if result.against is not None:
            other = new.get(check.amendment_id)
            after = other.health.value if other is not None else "-"
            lines.append(
                f"  {check.health.value:<9} -> {after:<9} {check.amendment_id:<16} "
                f"{check.kind.value:<8} {text}"
            )
            shown = other if other is not None and other.health != Health.holds else check
        else:
            lines.append(
                f"  {check.health.value:<9} {check.amendment_id:<16} {check.kind.value:<8} {text}"
            )
            shown = check
        if shown.health != Health.holds:
            # The failing probes carry the evidence; the summary says it for the rest
            # (untested, or the other side of a conflict).
            lines += _details(shown) or [f"      {shown.summary}"]
    lines.append("  " + counts(report) + (" (old model)" if result.against else ""))
    if result.against is not None:
        lines.append("  " + counts(result.against) + " (new model)")
    if report.cancelled:
        lines.append("  CANCELLED")
    return "\n".join(lines)


def check_json(results: list[NotebookCheck], all_hold: bool) -> str:
    payload = {
        "all_hold": all_hold,
        "notebooks": [
            {
                "notebook": str(r.path),
                "report": r.report.model_dump(mode="json"),
                "against": r.against.model_dump(mode="json") if r.against else None,
            }
            for r in results
        ],
    }
    return json.dumps(payload, indent=2, ensure_ascii=False)


def _testcase(suite: ET.Element, path: Path, check: AmendmentCheck) -> None:
    case = ET.SubElement(
        suite,
        "testcase",
        classname=path.stem,
        name=f"{check.amendment_id} ({check.kind.value}): {one_line(check.text, 80)}",
        time="0",
    )
    if check.health == Health.holds:
        return
    if check.health == Health.untested:
        ET.SubElement(case, "skipped", message=check.summary)
        return
    failure = ET.SubElement(case, "failure", type=check.health.value, message=check.summary)
    failure.text = "\n".join(line.strip() for line in _details(check)) or check.summary


def check_junit(results: list[NotebookCheck]) -> bytes:
    """JUnit XML: one test suite per notebook and model, one test case per amendment
    (a failure for broken, flaky and conflicting ones, skipped for untested ones)."""
    root = ET.Element("testsuites", name="jupyter collab check")
    totals = Counter()
    for result in results:
        for report in result.reports:
            found = Counter(a.health for a in report.amendments)
            failures = sum(found[h] for h in (Health.broken, Health.flaky, Health.conflict))
            suite = ET.SubElement(
                root,
                "testsuite",
                name=f"{result.path.name} [{report.model}]",
                tests=str(len(report.amendments)),
                failures=str(failures),
                errors="0",
                skipped=str(found[Health.untested]),
                time=f"{report.duration_s:.3f}",
                timestamp=report.at.strftime("%Y-%m-%dT%H:%M:%S"),
            )
            properties = ET.SubElement(suite, "properties")
            for name, value in (
                ("provider", report.provider),
                ("model", report.model),
                ("replayed", str(report.replayed).lower()),
                ("calls", str(report.calls)),
            ):
                ET.SubElement(properties, "property", name=name, value=value)
            for check in report.amendments:
                _testcase(suite, result.path, check)
            totals.update(
                tests=len(report.amendments),
                failures=failures,
                skipped=found[Health.untested],
            )
    for key in ("tests", "failures", "skipped"):
        root.set(key, str(totals[key]))
    root.set("errors", "0")
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"
