"""Add up the test layers' reports into one closing line: 'N passed, N failed'."""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def pytest_counts(path: Path) -> tuple[int, int, int]:
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root)
    tests = sum(int(s.get("tests", 0)) for s in suites)
    failed = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
    skipped = sum(int(s.get("skipped", 0)) for s in suites)
    return tests - failed - skipped, failed, skipped


def jest_counts(path: Path) -> tuple[int, int, int]:
    data = json.loads(path.read_text())
    failed = data["numFailedTests"] + data.get("numRuntimeErrorTestSuites", 0)
    return data["numPassedTests"], failed, data["numPendingTests"]


def playwright_counts(path: Path) -> tuple[int, int, int]:
    stats = json.loads(path.read_text())["stats"]
    return stats["expected"] + stats.get("flaky", 0), stats["unexpected"], stats["skipped"]


def main(out: Path) -> int:
    layers = {
        "pytest": (out / "pytest.xml", pytest_counts),
        "jest": (out / "jest.json", jest_counts),
        "browser": (out / "playwright.json", playwright_counts),
    }
    total = [0, 0, 0]
    missing = []
    for name, (path, read) in layers.items():
        if not path.exists():
            missing.append(name)
            continue
        counts = read(path)
        print(f"{name}: {counts[0]} passed, {counts[1]} failed, {counts[2]} skipped")
        total = [a + b for a, b in zip(total, counts, strict=True)]
    if missing:
        print(f"no report from: {', '.join(missing)}")
    reliability = out / "reliability.txt"  # written by tests/reliability/conftest.py
    if reliability.exists():
        print(reliability.read_text().rstrip())
    print(f"{total[0]} passed, {total[1]} failed, {total[2]} skipped")
    return 1 if total[1] else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
