"""Headless replay: ``jupyter nbconvert --to notebook --execute`` of a notebook with 50
collaborator cells whose answers are stored, against the same-size notebook of
plain code cells.

Setup (not timed): ``collab.ipynb`` = ``%load_ext jupyter_collab`` + 50
``%%collab`` cells, beside a 30-amendment ``collab.collab.json``; it is executed
once in ``record`` mode against the wire server, which stores the 50 answers in
the notebook, as a researcher's saved notebook holds them.

Measure: the recorded notebook executed by the real ``jupyter nbconvert`` CLI
(new kernel each run) with ``JUPYTER_COLLAB_MODE=replay`` (the value) and with the
default ``auto`` mode (details). ``ANTHROPIC_BASE_URL`` still points at the wire
server, whose request log must show zero model calls. Baseline, interleaved in
the same run: ``plain.ipynb``, 51 code cells (one import, 50 cells printing a
short answer-sized string) executed the same way.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from .common import OUT, Result, Settings, clean_env, log, median, notebook_json, ratio, rounded
from .wire import AnthropicWireServer, Reply, anthropic_env, small_context

CELLS = 50
PROMPTS = [
    "Which of yields[{i}] looks like an outlier, and what should I check first?",
    "Summarize replicate batch {i} in two sentences.",
    "Suggest the next control for experiment {i}.",
]


def _cell(source: str, i: int) -> dict:
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": f"cell-{i:03d}",
        "metadata": {},
        "outputs": [],
        "source": source,
    }


def make_notebooks(folder: Path) -> tuple[Path, Path]:
    from jupyter_collab.core.context_format import serialize_context

    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    collab = [_cell("%load_ext jupyter_collab", 0)] + [
        _cell(f"%%collab\n{PROMPTS[i % len(PROMPTS)].format(i=i)}", i + 1) for i in range(CELLS)
    ]
    plain = [_cell("import json", 0)] + [
        _cell(f"print({f'Answer to prompt {i}: ' + 'word ' * 60!r})", i + 1) for i in range(CELLS)
    ]
    collab_path = folder / "collab.ipynb"
    plain_path = folder / "plain.ipynb"
    collab_path.write_text(notebook_json(collab))
    plain_path.write_text(notebook_json(plain))
    (folder / "collab.collab.json").write_text(serialize_context(small_context(30)))
    return collab_path, plain_path


def nbconvert(path: Path, output: str, env: dict[str, str], inplace: bool = False) -> float:
    command = [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute"]
    command += ["--inplace"] if inplace else ["--output", output]
    command += ["--ExecutePreprocessor.timeout=600", path.name]
    start = time.perf_counter()
    completed = subprocess.run(
        command, cwd=path.parent, env=env, capture_output=True, text=True, timeout=900
    )
    elapsed = time.perf_counter() - start
    if completed.returncode != 0:
        raise RuntimeError(f"nbconvert failed on {path.name}:\n{completed.stderr[-3000:]}")
    return elapsed


def count_answers(path: Path) -> int:
    from jupyter_collab.core.outputs import MIME_TYPE

    nb = json.loads(path.read_text())
    return sum(
        1
        for cell in nb["cells"]
        for output in cell.get("outputs", [])
        if MIME_TYPE in (output.get("data") or {})
    )


def run(settings: Settings) -> list[Result]:
    runs = settings.runs
    wire = AnthropicWireServer().start()
    wire.responder = lambda body: Reply.text(" ".join(["word"] * 60))
    try:
        folder = OUT / "replay"
        collab, plain = make_notebooks(folder)
        base_env = clean_env(
            {**anthropic_env(wire), "JUPYTER_DATA_DIR": str(folder / "jupyter-data")}
        )
        record_s = nbconvert(collab, "", {**base_env, "JUPYTER_COLLAB_MODE": "record"}, True)
        recorded_calls = len(wire.message_requests())
        if count_answers(collab) != CELLS or recorded_calls != CELLS:
            raise RuntimeError(
                f"recording stored {count_answers(collab)} answers with {recorded_calls} calls"
            )
        log(f"recorded {CELLS} answers in {record_s:.1f} s")
        wire.clear()
        wire.responder = lambda body: Reply.text(" ".join(["word"] * 60))

        env = {
            "replay": {**base_env, "JUPYTER_COLLAB_MODE": "replay"},
            "auto": {**base_env, "JUPYTER_COLLAB_MODE": "auto"},
            "plain": base_env,
        }
        samples: dict[str, list[float]] = {"replay": [], "auto": [], "plain": []}
        nbconvert(plain, "plain.out.ipynb", env["plain"])  # warm-up: disk caches, imports
        for i in range(runs):
            order = ["plain", "replay", "auto"] if i % 2 == 0 else ["replay", "auto", "plain"]
            for name in order:
                path = plain if name == "plain" else collab
                samples[name].append(nbconvert(path, f"{name}.out.ipynb", env[name]))
        calls = len(wire.message_requests())
        for name in ("replay", "auto"):
            answers = count_answers(folder / f"{name}.out.ipynb")
            if answers != CELLS:
                raise RuntimeError(f"{name}: only {answers} of {CELLS} answers in the output")
        if calls:
            raise RuntimeError(f"replay/auto runs made {calls} model call(s); expected none")
        log(
            f"nbconvert s: replay {median(samples['replay']):.2f}, auto "
            f"{median(samples['auto']):.2f}, plain {median(samples['plain']):.2f}"
        )
    finally:
        wire.stop()

    value = ratio(median(samples["replay"]), median(samples["plain"]))
    auto = ratio(median(samples["auto"]), median(samples["plain"]))
    return [
        Result(
            key="replay_ratio",
            value=rounded(value, 3),
            unit="x",
            target="<= 1.2",
            baseline={
                "value": rounded(median(samples["plain"]), 3),
                "unit": "s",
                "what": "nbconvert --execute of 51 plain code cells",
            },
            runs=runs,
            note=(
                f"jupyter nbconvert --execute (fresh kernel each run), {CELLS} collaborator "
                f"cells with stored answers: replay {median(samples['replay']):.2f} s, auto "
                f"{median(samples['auto']):.2f} s ({auto:.2f}x), plain code cells "
                f"{median(samples['plain']):.2f} s. Model calls during replay/auto runs: "
                f"{calls} (the wire server's log). Every run's output holds all {CELLS} answers."
            ),
            samples=[rounded(x, 3) for x in samples["replay"]],
            details={
                "replay_s": [rounded(x, 3) for x in samples["replay"]],
                "auto_s": [rounded(x, 3) for x in samples["auto"]],
                "plain_s": [rounded(x, 3) for x in samples["plain"]],
                "auto_ratio": rounded(auto, 3),
                "model_calls": calls,
                "record_s": rounded(record_s, 3),
            },
        )
    ]
