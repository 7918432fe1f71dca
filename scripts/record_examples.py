"""Re-record the example notebooks in examples/ with a real model.

Each example is built from its cell list below, run headless (``record`` mode)
up to the answer that gets feedback, taken through the loop with the same
controller ``%collab review`` uses (select a span, correct it, amend, preview,
finalize), then run again in ``auto`` mode so the later cells answer with the
new amendment while the reviewed answer stays as recorded. The context is also
embedded in the notebook, so the committed file carries it.

    python scripts/record_examples.py [citations collaborator-style headless]

Uses whatever provider is configured (``ANTHROPIC_API_KEY`` for Anthropic,
otherwise the embedded SmolLM2 model).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from jupyter_collab.core.broker import Broker
from jupyter_collab.core.config import CollabConfig
from jupyter_collab.core.context_model import AmendmentKind, CorrectionOperation
from jupyter_collab.core.local_files import atomic_write_text
from jupyter_collab.core.notebook import embed_context
from jupyter_collab.core.outputs import find_cell_output
from jupyter_collab.core.store import LocalContextStore
from jupyter_collab.kernel.review import ReviewController

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@dataclass
class Feedback:
    """The review given to one answer."""

    cell_id: str
    pick_span: str  # "first-line-with-digit" or an exact quote
    correction: str
    amendment_kind: AmendmentKind
    amendment: str
    extra_probes: list[str] = field(default_factory=list)


@dataclass
class Example:
    name: str
    cells: list[tuple[str, str, str]]  # (id, cell_type, source)
    feedback: Feedback | None = None


def _md(cell_id: str, text: str) -> tuple[str, str, str]:
    return (cell_id, "markdown", text.strip() + "\n")


def _code(cell_id: str, text: str) -> tuple[str, str, str]:
    return (cell_id, "code", text.strip())


CITATIONS = Example(
    name="citations",
    cells=[
        _md(
            "intro",
            """
# Correcting an invented reference

Language models fill gaps with *plausible* details: ask for references on a niche
topic and some will not exist. Here the first answer was reviewed with
jupyter-collab: the invented reference was **highlighted**, **corrected**, turned
into a **fact amendment**, **previewed** on other prompts, and **finalized** into
this notebook's context (`citations.collab.json`, also embedded in this file).
The later cell is asked with that fact in its context.

In JupyterLab, select the wrong span in an answer and press **Feedback**; in other
frontends run `%collab review` after the cell.
""",
        ),
        _code("load-extension", "%load_ext jupyter_collab"),
        _code(
            "ask-references",
            "%%collab\nList three key papers on mesa-optimization (inner alignment), "
            "with authors and year.",
        ),
        _md(
            "after-review",
            """
The highlighted span above was corrected; the finalized amendment (see
`jupyter collab context show examples/citations.ipynb`) carries its provenance:
this cell, the quoted span, the correction and the preview's verdicts.

The cell below is asked with `--no-history`: the embedded 135M-parameter model
copies earlier answers of the conversation, so with the invented reference above
in its history it repeats that reference even with the fact in its context
(Claude does not need this). Without the history, the fact changes the answer.
""",
        ),
        _code(
            "ask-followup",
            '%%collab --no-history\nWhich paper introduced the term "mesa-optimizer", '
            "who wrote it, and in which year?",
        ),
    ],
    feedback=Feedback(
        cell_id="ask-references",
        pick_span="first-line-with-digit",
        correction=(
            'The paper that introduced mesa-optimization is "Risks from Learned '
            'Optimization in Advanced Machine Learning Systems" by Hubinger, van Merwijk, '
            "Mikulik, Skalse and Garrabrant (2019, arXiv:1906.01820)."
        ),
        amendment_kind=AmendmentKind.fact,
        amendment=(
            'Mesa-optimization was introduced in "Risks from Learned Optimization in '
            'Advanced Machine Learning Systems" by Evan Hubinger, Chris van Merwijk, '
            "Vladimir Mikulik, Joar Skalse and Scott Garrabrant (2019, arXiv:1906.01820). "
            "Cite it this way, and do not invent other references."
        ),
        extra_probes=["Recommend one paper to read about inner alignment."],
    ),
)

COLLABORATOR_STYLE = Example(
    name="collaborator-style",
    cells=[
        _md(
            "intro",
            """
# Teaching the collaborator to ask first

A vague request ("write a report on my experiment") tends to get a generic report.
The review of the first answer turned that into a **process amendment**: ask what
kind of report is wanted before writing one. The preview checked the rule on a
clear request too, so the collaborator does not start interrogating questions
that are already specific.
""",
        ),
        _code("load-extension", "%load_ext jupyter_collab"),
        _code("ask-vague", "%%collab\nWrite a report on my experiment."),
        _md(
            "after-review",
            """
After the review, the cells below are asked with the process rule in their
context: a vague request should get a question back, a clear one a direct answer.
(These outputs were recorded with the embedded 135M-parameter model, which often
ignores such rules; the preview's verdicts in `collaborator-style.collab.json`
say so too. Claude follows them.)
""",
        ),
        _code("ask-vague-again", "%%collab\nWrite a summary of my results."),
        _code(
            "ask-clear",
            "%%collab\nIn two sentences: what does a p-value of 0.03 mean in a two-sided t-test?",
        ),
    ],
    feedback=Feedback(
        cell_id="ask-vague",
        pick_span="first-line-with-digit",
        correction=(
            "Before writing a report, ask what the experiment was and who the report is for."
        ),
        amendment_kind=AmendmentKind.process,
        amendment=(
            "When a request for a report, summary or advice does not say what it is about, "
            "who it is for or how long it should be, ask one short clarifying question "
            "first instead of writing a generic text. Answer clear requests directly."
        ),
        extra_probes=["What is the difference between a mean and a median?"],
    ),
)


def build_notebook(example: Example, upto: str | None = None) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {
            "display_name": "Python 3 (ipykernel)",
            "language": "python",
            "name": "python3",
        },
        "language_info": {"name": "python"},
    }
    for cell_id, cell_type, source in example.cells:
        cell = (
            nbformat.v4.new_markdown_cell(source)
            if cell_type == "markdown"
            else nbformat.v4.new_code_cell(source)
        )
        cell.id = cell_id
        nb.cells.append(cell)
        if cell_id == upto:
            break
    return nb


def execute(nb: nbformat.NotebookNode, path: Path, mode: str) -> nbformat.NotebookNode:
    os.environ["JUPYTER_COLLAB_MODE"] = mode
    nbformat.write(nb, str(path))
    client = NotebookClient(
        nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()
    nbformat.write(nb, str(path))
    return nb


def pick(answer: str, how: str) -> str:
    if how != "first-line-with-digit":
        return how
    lines = [line.strip(" -*•\t") for line in answer.splitlines() if line.strip()]
    for line in lines:
        if any(ch.isdigit() for ch in line) and len(line) > 12:
            return line[:160]
    return lines[0][:160]


def review(example: Example, nb: nbformat.NotebookNode, path: Path) -> None:
    feedback = example.feedback
    assert feedback is not None
    cell = next(c for c in nb.cells if c.get("id") == feedback.cell_id)
    output = find_cell_output(cell)
    if output is None:
        raise SystemExit(f"{example.name}: cell {feedback.cell_id} has no answer to review")
    store = LocalContextStore(path)
    broker = Broker(CollabConfig())
    prompts = [c.source.split("\n", 1)[1] for c in nb.cells if c.source.startswith("%%collab")]
    controller = ReviewController(
        broker=broker,
        result=output.result,
        context=store.load_or_new(),
        store=store,
        notebook_prompts=prompts,
    )
    span = pick(output.result.answer, feedback.pick_span)
    print(f"  highlight: {span!r}")
    controller.select(span)
    suggestions = controller.suggest(n=3)
    print(f"  {len(suggestions)} suggested corrections; writing our own")
    controller.write_correction(feedback.correction, CorrectionOperation.replace)
    proposals = controller.propose(n=2)
    print(f"  {len(proposals)} proposed amendments; writing our own")
    controller.write_amendment(feedback.amendment, feedback.amendment_kind)
    controller.make_probes(n=2)
    for probe in feedback.extra_probes:
        controller.add_probe(probe)
    report = controller.preview()
    for outcome in report.outcomes:
        print(f"  probe [{outcome.verdict.value}] {outcome.probe.prompt[:70]!r}")
    amendment = controller.finalize()
    print(f"  finalized {amendment.id} ({amendment.kind.value})")


def record(example: Example) -> None:
    path = EXAMPLES / f"{example.name}.ipynb"
    sidecar = LocalContextStore(path).path
    if sidecar.exists():
        sidecar.unlink()
    print(f"{example.name}: asking")
    first = execute(build_notebook(example, upto=example.feedback.cell_id), path, "record")
    print(f"{example.name}: reviewing")
    review(example, first, path)
    print(f"{example.name}: running the whole notebook")
    nb = build_notebook(example)
    reviewed = next(c for c in first.cells if c.id == example.feedback.cell_id)
    next(c for c in nb.cells if c.id == reviewed.id).outputs = reviewed.outputs
    nb = execute(nb, path, "auto")
    data = json.loads(path.read_text())
    context = LocalContextStore(path).load()
    embed_context(data, context)
    atomic_write_text(path, json.dumps(data, indent=1, ensure_ascii=False) + "\n")


def main(names: list[str]) -> None:
    examples = {e.name: e for e in (CITATIONS, COLLABORATOR_STYLE)}
    for name in names or list(examples):
        record(examples[name])


if __name__ == "__main__":
    main(sys.argv[1:])
