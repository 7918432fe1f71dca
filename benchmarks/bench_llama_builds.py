"""The portable llama.cpp build against a native one: SmolLM2 tokens per second.

The project compiles llama-cpp-python with explicit x86-64-v3 flags
(``core/providers/llama_build.py``) instead of ``-march=native``. This measures
what that costs: the same generation (greedy, same prompt, same settings) with
the llama-cpp-python of this environment (the portable build after
``.ci/setup``) and with the one of another Python environment that holds a
native build, e.g. a virtualenv made by ``pip install "jupyter-collab[local]"``
(pip compiles natively)::

    COLLAB_BENCH_NATIVE_PYTHON=/path/to/venv/bin/python python -m benchmarks --only llama_builds

Each run is a fresh process (load, one warm-up answer, then the timed answer),
alternating between the two builds; value = median of paired ratios
portable ÷ native. On an AMX CPU the native build only runs with llama.cpp's
AMX buffer type off (``llama_worker.avoid_amx_repacking``, applied on both
sides here as in the worker).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from .common import REPO, Result, Settings, log, median, rounded

NATIVE_PYTHON = "COLLAB_BENCH_NATIVE_PYTHON"

# Runs in the measured interpreter: stdlib, llama_cpp and this repository only.
PROBE = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
import llama_cpp
from jupyter_collab.core.providers.llama_worker import avoid_amx_repacking, system_info
from jupyter_collab.core.providers.local import find_model_path
from jupyter_collab.core.config import CollabConfig
info = system_info(llama_cpp)
avoided = avoid_amx_repacking(llama_cpp, info)
model_path = str(find_model_path(CollabConfig()))
llm = llama_cpp.Llama(model_path=model_path, n_ctx=2048, verbose=False)
question = "Explain how to calibrate a spectrophotometer, step by step."
messages = [{"role": "user", "content": question}]
llm.create_chat_completion(messages=messages, max_tokens=8, temperature=0.0)
start = time.perf_counter()
first = None
count = 0
chunks = llm.create_chat_completion(
    messages=messages, max_tokens=96, temperature=0.0, stream=True
)
for chunk in chunks:
    if chunk["choices"][0]["delta"].get("content"):
        count += 1
        first = first or time.perf_counter()
end = time.perf_counter()
print(json.dumps({"tokens": count, "tps": count / (end - start),
                  "decode_tps": (count - 1) / (end - first), "amx_avoided": avoided,
                  "avx512": "AVX512 = 1" in info, "version": llama_cpp.__version__}))
"""


def _measure(python: str) -> dict:
    completed = subprocess.run(
        [python, "-c", PROBE, str(REPO)], capture_output=True, text=True, timeout=600
    )
    if completed.returncode:
        raise RuntimeError(
            f"{python}: exit code {completed.returncode}: {completed.stderr[-2000:]}"
        )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def run(settings: Settings) -> list[Result]:
    native = os.environ.get(NATIVE_PYTHON)
    if not native:
        raise RuntimeError(
            f"set {NATIVE_PYTHON} to the Python of an environment with a natively "
            "compiled llama-cpp-python (see this module's docstring)"
        )
    portable = sys.executable
    pairs = settings.runs
    portable_runs, native_runs = [], []
    for i in range(pairs):
        order = ("portable", "native") if i % 2 == 0 else ("native", "portable")
        for side in order:
            (portable_runs if side == "portable" else native_runs).append(
                _measure(portable if side == "portable" else native)
            )
    if portable_runs[0]["avx512"] or not native_runs[0]["avx512"]:
        log("note: the portable side has AVX-512 code or the native side has none")
    counts = {r["tokens"] for r in portable_runs + native_runs}
    if len(counts) != 1:
        raise RuntimeError(f"the builds generated different token counts: {sorted(counts)}")
    ratios = [p["tps"] / n["tps"] for p, n in zip(portable_runs, native_runs, strict=True)]
    p_tps = median([r["tps"] for r in portable_runs])
    n_tps = median([r["tps"] for r in native_runs])
    log(f"portable {p_tps:.1f} tokens/s, native {n_tps:.1f}; median ratio {median(ratios):.3f}")
    return [
        Result(
            key="local_build_tps_ratio",
            value=rounded(median(ratios), 3),
            unit="x",
            target=">= 0.9",
            baseline={
                "value": rounded(n_tps, 2),
                "unit": "tokens/s",
                "what": "llama-cpp-python compiled natively (-march=native), AMX buffer off",
            },
            runs=pairs,
            note=(
                f"Median of {pairs} paired ratios, a fresh process per run: portable "
                f"(x86-64-v3) {p_tps:.1f} tokens/s vs native {n_tps:.1f} "
                f"(decode only {median([r['decode_tps'] for r in portable_runs]):.1f} vs "
                f"{median([r['decode_tps'] for r in native_runs]):.1f}); "
                f"{counts.pop()} tokens, greedy; llama-cpp-python "
                f"{portable_runs[0]['version']}. The native build crashes on this CPU "
                f"unless its AMX buffer type is off (amx_avoided: "
                f"{native_runs[0]['amx_avoided']})."
            ),
            samples=[rounded(x, 3) for x in ratios],
            details={
                "portable_tps": [rounded(r["tps"], 2) for r in portable_runs],
                "native_tps": [rounded(r["tps"], 2) for r in native_runs],
            },
        )
    ]
