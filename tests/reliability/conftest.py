"""The reliability and security suite: R1 … R12, one module each.

Each test records the figure it proves (kills survived, requests fuzzed,
streams held, lag measured…) with the session-scoped ``figures`` fixture; the
``pytest_terminal_summary`` hook below prints them as a "Reliability summary"
block, one line per R-number, with FAILED next to any R whose tests failed,
and writes the same block to ``reliability.txt`` beside the JUnit report (so
``.ci/summary.py`` can repeat it at the end of ``.ci/test``).

The server fixtures (``jp_fetch``, ``collab_api``, ``anthropic_env``…) come
from ``tests/server_fixtures.py`` and ``tests/wire/fixtures.py``, registered
in ``tests/conftest.py``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pytest

TITLES = {
    "R1": "auth",
    "R2": "secrets",
    "R3": "paths",
    "R4": "bad context files",
    "R5": "SIGKILL",
    "R6": "two writers",
    "R7": "provider faults",
    "R8": "untrusted context",
    "R9": "load",
    "R10": "fuzzing",
    "R11": "cancel",
    "R12": "embedded model process",
}
_MODULE = re.compile(r"tests/reliability/test_r(\d\d)_")


class Figures:
    """What each R-number proved, in the words of its tests."""

    def __init__(self) -> None:
        self.parts: dict[str, list[str]] = defaultdict(list)
        self.outcomes: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))

    def add(self, number: str, text: str) -> None:
        assert number in TITLES, number
        self.parts[number].append(text)

    def lines(self) -> list[str]:
        lines = []
        for number, title in TITLES.items():
            outcome = self.outcomes.get(number, {})
            parts = self.parts.get(number)
            status = ""
            if outcome.get("failed"):
                status = f"FAILED ({outcome['failed']} test(s)) "
            elif not outcome.get("passed") and not parts:
                status = "not run "
            text = "; ".join(parts) if parts else "(no figure recorded)"
            lines.append(f"{number:<3} {title}: {status}{text}")
        return lines


FIGURES = Figures()


@pytest.fixture(scope="session")
def figures() -> Figures:
    return FIGURES


def _number(nodeid: str) -> str | None:
    match = _MODULE.search(nodeid.replace("\\", "/"))
    return f"R{int(match.group(1))}" if match else None


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    number = _number(report.nodeid)
    if number is None:
        return
    if report.failed:
        FIGURES.outcomes[number]["failed"] += 1
    elif report.passed and report.when == "call":
        FIGURES.outcomes[number]["passed"] += 1


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    del exitstatus
    if not FIGURES.outcomes and not FIGURES.parts:
        return
    lines = FIGURES.lines()
    terminalreporter.section("Reliability summary")
    for line in lines:
        terminalreporter.write_line(line)
    xml = getattr(config.option, "xmlpath", None)
    if xml:
        target = Path(xml).parent / "reliability.txt"
        try:
            target.write_text("Reliability summary\n" + "\n".join(lines) + "\n")
        except OSError:
            pass
