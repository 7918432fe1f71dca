"""Every benchmark module imports: the suite is run by hand (``python -m benchmarks``),
not in CI, so a rename that breaks one of its imports must fail here instead."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
MODULES = sorted(m.name for m in pkgutil.iter_modules([str(BENCHMARKS)]) if m.name != "__main__")


def test_the_suite_has_its_modules():
    assert {"bench_check", "bench_judge", "bench_quality", "common", "report"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_benchmark_module_imports(name):
    importlib.import_module(f"benchmarks.{name}")
