"""``{name}`` values: the core's formatting, and the expression the lab front end
evaluates in a kernel, which must give the same text without this package."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from jupyter_collab.core.values import format_value, value_expression

# Defined in the kernel-like process and here alike.
NAMESPACE_SETUP = """
class Broken:
    def __str__(self):
        raise RuntimeError("no text")

class Frame:
    __module__ = "pandas.core.frame"
    def __repr__(self):
        return "   a\\n0  1"
    def __str__(self):
        return "str of a frame"

class Holder:
    shape = (3, 4)

values = {
    "n": 42,
    "text": "café 😀 " * 400,
    "broken": Broken(),
    "frame": Frame(),
    "holder": Holder(),
    "items": [1, "two", None],
}
"""
REFERENCES = ["n", "text", "broken", "frame", "holder.shape", "items"]


def _expected(max_chars: int) -> dict[str, str]:
    scope: dict = {}
    exec(NAMESPACE_SETUP, scope)
    values = scope["values"]
    expected = {}
    for reference in REFERENCES:
        head, *attributes = reference.split(".")
        value = values[head]
        for attribute in attributes:
            value = getattr(value, attribute)
        expected[reference] = format_value(value, max_chars)
    return expected


@pytest.mark.parametrize("max_chars", [2000, 10])
def test_the_kernel_expression_formats_like_the_core_without_the_package(max_chars):
    expressions = {r: value_expression(r, max_chars) for r in REFERENCES}
    program = (
        NAMESPACE_SETUP
        + "import json, sys\n"
        + "expressions = json.loads(sys.stdin.read())\n"
        + "out = {r: json.loads(eval(e, dict(values))) for r, e in expressions.items()}\n"
        + "print(json.dumps(out))\n"
    )
    # -I -S: no site-packages, so jupyter_collab cannot be imported there,
    # as in a kernel of another environment.
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", program],
        input=json.dumps(expressions),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert json.loads(done.stdout) == _expected(max_chars)


def test_the_core_formatting():
    scope: dict = {}
    exec(NAMESPACE_SETUP, scope)
    values = scope["values"]
    assert format_value(values["broken"]) == "<Broken: str() failed: no text>"
    assert format_value(values["frame"]) == "   a\n0  1"
    assert format_value("x" * 12, 10) == "xxxxxxxxxx… [truncated: 2 more characters]"
    assert format_value("x" * 12, 0) == "x" * 12


def test_the_expression_evaluates_nothing_but_a_name_or_attribute_path():
    with pytest.raises(ValueError, match="not a variable reference"):
        value_expression('os.system("rm")')
    with pytest.raises(ValueError):
        value_expression("a + b")
