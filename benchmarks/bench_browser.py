"""Opening a big notebook in the browser: 200 collaborator cells with stored answers
against the same notebook with those 200 answers as markdown cells.

A real ``jupyter lab`` (subprocess, 127.0.0.1, fixed token, the extension
installed) serves two notebooks: ``collab200.ipynb`` (200 ``%%collab`` cells,
each with its answer bundle as the server and kernel doors write it, every
fourth with a highlight and a correction; beside a 30-amendment sidecar) and
``md200.ipynb`` (200 markdown cells holding the same answer texts). A third
notebook, ``code200.ipynb`` (200 plain code cells, each with the same answer as a
``text/markdown`` display output), is timed too: it separates what JupyterLab's
own code cells cost from what the extension adds.
``benchmarks/browser/open.mjs`` drives Debian's Chromium through
``playwright-core`` (its own tiny npm package with a committed lockfile; no
browser download) and times each visit from navigation until every cell is
rendered (200 answer footers drawn by the extension's renderer, or 200 rendered
markdown cells) and the notebook answers input (click the first cell, press
``j``, the second cell becomes active). Every visit uses a fresh browser
context and workspace; one warm-up visit per notebook is discarded.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from .common import (
    HERE,
    OUT,
    Result,
    Settings,
    jupyter_server,
    log,
    median,
    notebook_json,
    ratio,
    rounded,
)
from .wire import small_context

CELLS = 200
BROWSER_DIR = HERE / "browser"
CHROMIUM = "/usr/bin/chromium"

ANSWER = (
    "Run **{i}** stands out: its yield is about twice the others. Before treating it "
    "as a result, check:\n\n"
    "1. the calibration of the spectrophotometer on that day;\n"
    "2. whether the sample was diluted like the others (`dilution = 1:10`);\n"
    "3. the batch record for a different medium lot.\n\n"
    "If all three are clean, re-run the assay in triplicate. Which of these can you "
    "check today, and is the figure for the lab meeting or for the paper?"
)


def _answer(i: int) -> str:
    return ANSWER.format(i=i)


def _collab_output(i: int) -> dict:
    from jupyter_collab.core.context_model import (
        Correction,
        Highlight,
        TextPositionSelector,
        TextQuoteSelector,
    )
    from jupyter_collab.core.hashing import sha256_text
    from jupyter_collab.core.operation_models import CompletionResult
    from jupyter_collab.core.outputs import AnnotatedHighlight, CollabOutput, build_output
    from jupyter_collab.core.providers.base import Usage

    answer = _answer(i)
    result = CompletionResult(
        answer=answer,
        prompt=f"My yields are in yields[{i}]. Which run is an outlier?",
        response_id=f"msg_{i:024x}",
        provider="anthropic",
        model="claude-sonnet-5-5",
        mode="research",
        usage=Usage(input_tokens=40, output_tokens=120, cache_read_input_tokens=1700),
        stop_reason="end_turn",
        context_revision=3,
        context_hash=sha256_text("context"),
        input_hash=sha256_text(f"input {i}"),
        answer_hash=sha256_text(answer),
        cell_id=f"cell-{i:03d}",
        created="2026-03-01T10:00:00Z",
        duration_s=2.5,
    )
    highlights = []
    if i % 4 == 0:
        exact = "re-run the assay in triplicate"
        start = answer.index(exact)
        highlight = Highlight(
            cell_id=result.cell_id,
            response_id=result.response_id,
            answer_hash=result.answer_hash,
            position=TextPositionSelector(start=start, end=start + len(exact)),
            quote=TextQuoteSelector(
                exact=exact,
                prefix=answer[max(0, start - 32) : start],
                suffix=answer[start + len(exact) :][:32],
            ),
        )
        correction = Correction(highlight_id=highlight.id, text="re-run it in duplicate")
        highlights.append(AnnotatedHighlight(highlight=highlight, corrections=[correction]))
    return build_output(CollabOutput(result=result, highlights=highlights))


def make_notebooks(folder: Path) -> None:
    from jupyter_collab.core.context_format import serialize_context

    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    collab = [
        {
            "cell_type": "code",
            "execution_count": None,
            "id": f"cell-{i:03d}",
            "metadata": {},
            "outputs": [_collab_output(i)],
            "source": f"%%collab\nMy yields are in yields[{i}]. Which run is an outlier?",
        }
        for i in range(CELLS)
    ]
    markdown = [
        {"cell_type": "markdown", "id": f"cell-{i:03d}", "metadata": {}, "source": _answer(i)}
        for i in range(CELLS)
    ]
    (folder / "collab200.ipynb").write_text(notebook_json(collab))
    (folder / "collab200.collab.json").write_text(serialize_context(small_context(30)))
    (folder / "md200.ipynb").write_text(notebook_json(markdown))
    code = [
        {
            "cell_type": "code",
            "execution_count": i + 1,
            "id": f"cell-{i:03d}",
            "metadata": {},
            "outputs": [
                {
                    "output_type": "display_data",
                    "data": {"text/markdown": _answer(i)},
                    "metadata": {},
                }
            ],
            "source": f"show_answer(yields[{i}])",
        }
        for i in range(CELLS)
    ]
    (folder / "code200.ipynb").write_text(notebook_json(code))


def ensure_playwright() -> None:
    if (BROWSER_DIR / "node_modules" / "playwright-core").is_dir():
        return
    log("installing playwright-core for the browser benchmark (npm ci, once)")
    subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund"], cwd=BROWSER_DIR, check=True, timeout=600
    )


ITEMS = [
    {
        "name": "collab",
        "path": "collab200.ipynb",
        "rendered": ".jp-Notebook .jp-Cell .jp-collab-footer",
        "count": CELLS,
    },
    {
        "name": "markdown",
        "path": "md200.ipynb",
        "rendered": ".jp-Notebook .jp-MarkdownCell .jp-RenderedMarkdown",
        "count": CELLS,
    },
    {
        "name": "code",
        "path": "code200.ipynb",
        "rendered": ".jp-Notebook .jp-CodeCell .jp-OutputArea-output.jp-RenderedMarkdown",
        "count": CELLS,
    },
]


def visit_all(runs: int, items: list[dict], profile: Path | None = None) -> list[dict]:
    """Serve the notebooks from a real ``jupyter lab``; visit each item ``runs`` times."""
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing (apt-get install chromium)")
    ensure_playwright()
    root = OUT / "browser"
    make_notebooks(root / "notebooks")
    shots = root / "screenshots"
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True)
    if profile is not None:
        profile.mkdir(parents=True, exist_ok=True)
    with jupyter_server(
        root / "notebooks",
        app="lab",
        name="browser-lab",
        config_lines=[
            "c.CollabExtension.provider = 'anthropic'",
            f"c.LabApp.workspaces_dir = {str(root / 'workspaces')!r}",
        ],
        env={
            "ANTHROPIC_API_KEY": "unused-browser-benchmark",
            "ANTHROPIC_BASE_URL": "http://127.0.0.1:9",
        },
    ) as server:
        plan = {
            "url": server.url,
            "token": server.token,
            "runs": runs,
            "screenshots": str(shots),
            "profile": str(profile) if profile is not None else None,
            "executable": CHROMIUM,
            "items": items,
        }
        plan_path = root / "plan.json"
        plan_path.write_text(json.dumps(plan))
        completed = subprocess.run(
            ["node", str(BROWSER_DIR / "open.mjs"), str(plan_path)],
            cwd=BROWSER_DIR,
            capture_output=True,
            text=True,
            timeout=1200,
        )
        if completed.returncode != 0:
            raise RuntimeError(f"open.mjs failed:\n{completed.stderr[-3000:]}")
    return [json.loads(line) for line in completed.stdout.splitlines() if line.strip()]


def run(settings: Settings) -> list[Result]:
    runs = settings.runs
    # The first run of each notebook is a warm-up (server caches, disk).
    visits = visit_all(runs + 1, ITEMS)
    by_name: dict[str, list[dict]] = {item["name"]: [] for item in ITEMS}
    for visit in visits:
        if visit["run"] > 0:
            by_name[visit["name"]].append(visit)
    for name, found in by_name.items():
        bad = [v for v in found if v["cells"] != CELLS]
        if len(found) != runs or bad:
            raise RuntimeError(f"{name}: unexpected visits {found}")
    collab = [v["interactive"] / 1000 for v in by_name["collab"]]
    markdown = [v["interactive"] / 1000 for v in by_name["markdown"]]
    collab_rendered = [v["rendered"] / 1000 for v in by_name["collab"]]
    markdown_rendered = [v["rendered"] / 1000 for v in by_name["markdown"]]
    code = [v["interactive"] / 1000 for v in by_name["code"]]
    value = ratio(median(collab), median(markdown))
    log(
        f"open to interactive: collab {median(collab):.2f} s, markdown {median(markdown):.2f} s, "
        f"code cells {median(code):.2f} s"
    )
    return [
        Result(
            key="browser_open_ratio",
            value=rounded(value, 3),
            unit="x",
            target="<= 1.3",
            baseline={
                "value": rounded(median(markdown), 3),
                "unit": "s",
                "what": "the same notebook with 200 markdown cells",
            },
            runs=runs,
            note=(
                f"Chromium {_chromium_version()} headless via playwright-core, fresh context "
                f"per visit, JupyterLab default windowing. Navigation to rendered + "
                f"interactive: collaborator cells {median(collab):.2f} s (all rendered at "
                f"{median(collab_rendered):.2f} s), markdown {median(markdown):.2f} s "
                f"(rendered at {median(markdown_rendered):.2f} s); 200 plain code cells with "
                f"the same answers as markdown outputs {median(code):.2f} s, so the "
                f"extension's own share is {ratio(median(collab), median(code)):.2f}x "
                f"(collaborator ÷ code cells). Screenshots in benchmarks/out/browser/screenshots."
            ),
            samples=[rounded(x, 3) for x in collab],
            details={
                "collab_interactive_s": [rounded(x, 3) for x in collab],
                "markdown_interactive_s": [rounded(x, 3) for x in markdown],
                "collab_rendered_s": [rounded(x, 3) for x in collab_rendered],
                "markdown_rendered_s": [rounded(x, 3) for x in markdown_rendered],
                "code_interactive_s": [rounded(x, 3) for x in code],
                "collab_vs_code_ratio": rounded(ratio(median(collab), median(code)), 3),
                "rendered_ratio": rounded(
                    ratio(median(collab_rendered), median(markdown_rendered)), 3
                ),
            },
        )
    ]


def _chromium_version() -> str:
    try:
        out = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True, timeout=30)
        return out.stdout.strip().split()[-1]
    except (OSError, subprocess.SubprocessError, IndexError):
        return "?"
