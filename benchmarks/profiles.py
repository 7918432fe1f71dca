"""Profiles behind the misses: ``python -m benchmarks.profiles TARGET [...]``.

Targets (each writes ``benchmarks/out/profiles/<target>.txt`` and prints it):

* ``context``  pyinstrument of load, save and prompt assembly of the 10,000-amendment
               context (``bench_context``'s data), plus a breakdown of the load into
               JSON parsing, validation and the garbage collector's share;
* ``replay``   py-spy (all processes) of one ``jupyter nbconvert --execute`` of the
               50-cell replay notebook, summed per function (needs ``bench_replay``
               to have run once, for the recorded notebook);
* ``browser``  V8 CPU profiles (DevTools protocol) of opening the 200-cell notebooks,
               self time summed per script (the extension's bundle vs JupyterLab's).

pyinstrument and py-spy are not project dependencies: ``pip install pyinstrument py-spy``.
"""

from __future__ import annotations

import collections
import gc
import json
import subprocess
import sys
import time
from pathlib import Path

from .common import OUT, clean_env, log

PROFILES = OUT / "profiles"


def _write(name: str, text: str) -> None:
    PROFILES.mkdir(parents=True, exist_ok=True)
    (PROFILES / f"{name}.txt").write_text(text)
    print(text)
    log(f"wrote {PROFILES / f'{name}.txt'}")


def profile_context() -> None:
    import orjson
    from pyinstrument import Profiler

    from jupyter_collab.core.assembly import share_read_only
    from jupyter_collab.core.broker import Broker
    from jupyter_collab.core.config import CollabConfig
    from jupyter_collab.core.context_format import (
        parse_context,
        serialize_context,
        serialize_context_bytes,
    )
    from jupyter_collab.core.context_model import CollabContext
    from jupyter_collab.core.local_files import atomic_write_bytes
    from jupyter_collab.core.operation_models import CompletionInput
    from jupyter_collab.core.providers.anthropic import AnthropicProvider
    from jupyter_collab.core.store import LocalContextStore

    from .bench_context import make_context_dict

    folder = OUT / "context"
    folder.mkdir(parents=True, exist_ok=True)
    notebook = folder / "profile.ipynb"
    notebook.write_text("{}")
    store = LocalContextStore(notebook)
    context = CollabContext.model_validate(make_context_dict(10_000))
    raw = serialize_context(context).encode()
    store.path.write_bytes(raw)
    config = CollabConfig(provider="anthropic", anthropic_api_key="unused")
    broker = Broker(config, provider=AnthropicProvider(config))
    request = CompletionInput(prompt="Which run is an outlier?")

    def cpu(fn, repeat: int = 3) -> float:
        """Best CPU ms of ``fn`` plus the young collection it leaves for later (what
        the next allocations would pay for the objects it made), its result alive
        (as a caller holds it; freeing it is not counted)."""
        best = float("inf")
        for _ in range(repeat):
            gc.collect()
            start = time.process_time()
            result = fn()
            gc.collect(1)
            best = min(best, time.process_time() - start)
            del result
        return best * 1000

    def paused(fn):
        def run():
            gc.disable()
            try:
                return fn()
            finally:
                gc.enable()

        return run

    dumped = context.model_dump(mode="json")
    state = {"context": store.load()}

    def save():
        state["context"] = store.save(state["context"])

    scratch = folder / "profile.scratch.json"
    rows = [
        ("load: read the file (33 MB)", lambda: store.path.read_bytes()),
        ("load: orjson.loads, no validation, gc paused", paused(lambda: orjson.loads(raw))),
        ("load: json.loads, gc paused", paused(lambda: json.loads(raw))),
        (
            "load: model_validate_json, gc on (before)",
            lambda: CollabContext.model_validate_json(raw),
        ),
        (
            "load: model_validate_json, gc paused only",
            paused(lambda: CollabContext.model_validate_json(raw)),
        ),
        ("load: parse_context (gc paused + promoted)", lambda: parse_context(raw, "x")),
        ("load: LocalContextStore.load()", store.load),
        ("save: model_dump(mode=json) (before)", lambda: context.model_dump(mode="json")),
        (
            "save: orjson.dumps of that dict (before)",
            lambda: orjson.dumps(dumped, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2),
        ),
        (
            "save: serialize_context_bytes (orjson from models)",
            lambda: serialize_context_bytes(context),
        ),
        ("save: atomic write + fsync of 33 MB", lambda: atomic_write_bytes(scratch, raw)),
        ("save: LocalContextStore.save() of a loaded context", save),
        ("assemble: Broker.prepare, context not shared", lambda: broker.prepare(request, context)),
    ]
    shared = share_read_only(store.load())
    broker.prepare(request, shared)
    rows.append(
        ("assemble: Broker.prepare, shared read-only", lambda: broker.prepare(request, shared))
    )
    lines = [
        f"10,000-amendment context, {len(raw) / 1e6:.1f} MB. CPU ms, best of 3, each "
        "followed by the young collection it leaves behind (gc.collect(1)):"
    ]
    lines += [f"  {name:52} {cpu(fn):8.1f}" for name, fn in rows]
    lines.append("")
    scratch.unlink(missing_ok=True)
    profiler = Profiler(interval=0.001)
    profiler.start()
    loaded = store.load()
    assert loaded is not None
    saved = store.save(loaded)
    for _ in range(10):
        broker.prepare(request, saved)
    profiler.stop()
    text = "\n".join(lines) + profiler.output_text(unicode=False, show_all=False)
    store.path.unlink(missing_ok=True)
    _write("context", text)


def _collapse(raw: Path, must: str, top: int = 40) -> str:
    """Sum py-spy raw stacks containing ``must`` per function (inclusive samples)."""
    totals: collections.Counter[str] = collections.Counter()
    count = 0
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        frames = stack.split(";")
        if not any(must in f for f in frames):
            continue
        count += int(n)
        seen = set()
        # From the frame that matched down: the frames above it are the same
        # (the kernel's event loop) in every stack.
        start = next(i for i, f in enumerate(frames) if must in f)
        for frame in frames[start:]:
            name = frame.split(" (")[0]
            where = frame.split("(")[1].split(":")[0] if "(" in frame else ""
            key = f"{name}  {where}"
            if key not in seen:
                seen.add(key)
                totals[key] += int(n)
    lines = [f"{count} samples (200 Hz) in stacks containing {must!r}; inclusive counts:"]
    lines += [f"{n:6d}  {key}" for key, n in totals.most_common(top)]
    return "\n".join(lines)


def profile_replay() -> None:
    folder = OUT / "replay"
    notebook = folder / "collab.ipynb"
    if not notebook.exists():
        raise SystemExit("run `python -m benchmarks --only replay_ratio` first")
    raw = PROFILES / "replay.raw"
    PROFILES.mkdir(parents=True, exist_ok=True)
    env = clean_env(
        {
            "JUPYTER_COLLAB_MODE": "replay",
            "ANTHROPIC_API_KEY": "unused",
            "ANTHROPIC_BASE_URL": "http://127.0.0.1:9",
            "JUPYTER_DATA_DIR": str(folder / "jupyter-data"),
        }
    )
    command = ["py-spy", "record", "--subprocesses", "--format", "raw", "-r", "200"]
    command += ["-o", str(raw), "--", sys.executable, "-m", "jupyter", "nbconvert"]
    command += ["--to", "notebook", "--execute", "--output", "profile.out.ipynb", notebook.name]
    subprocess.run(command, cwd=folder, env=env, check=True, capture_output=True, timeout=900)
    text = "\n\n".join(
        [
            "py-spy of `jupyter nbconvert --execute collab.ipynb` (50 collaborator cells, "
            "JUPYTER_COLLAB_MODE=replay), kernel process.",
            _collapse(raw, "load_ipython_extension", 25),
            _collapse(raw, "run_cell_magic", 30),
        ]
    )
    _write("replay", text)


def _profile_table(path: Path, top: int = 25) -> tuple[str, float, dict[str, float]]:
    profile = json.loads(path.read_text())
    nodes = {node["id"]: node for node in profile["nodes"]}
    deltas = profile.get("timeDeltas") or []
    samples = profile.get("samples") or []
    self_ms: collections.Counter[int] = collections.Counter()
    for sample, delta in zip(samples, deltas, strict=False):
        self_ms[sample] += delta / 1000
    by_script: collections.Counter[str] = collections.Counter()
    by_function: collections.Counter[str] = collections.Counter()
    for node_id, ms in self_ms.items():
        frame = nodes[node_id]["callFrame"]
        url = frame.get("url") or f"({frame.get('functionName') or 'native'})"
        script = url.split("/static/")[-1] if "/static/" in url else url.rsplit("/", 1)[-1]
        owner = "jupyter-collab" if "jupyter-collab" in url else "other"
        by_script[f"{owner}: {script}"] += ms
        by_function[f"{frame.get('functionName') or '(anonymous)'}  [{owner}: {script}]"] += ms
    total = sum(self_ms.values())
    ours = sum(ms for key, ms in by_script.items() if key.startswith("jupyter-collab"))
    # Inclusive: samples with a jupyter-collab frame anywhere on the stack (what the
    # extension's code costs, including the JupyterLab/CodeMirror/DOM work it calls).
    parent = {c: n["id"] for n in profile["nodes"] for c in n.get("children", [])}

    def ours_on_stack(node_id: int) -> str | None:
        found = None
        while node_id is not None:
            frame = nodes[node_id]["callFrame"]
            if "jupyter-collab" in (frame.get("url") or ""):
                found = frame.get("functionName") or "(anonymous)"  # keep the outermost
            node_id = parent.get(node_id)
        return found

    inclusive: collections.Counter[str] = collections.Counter()
    for node_id, ms in self_ms.items():
        outer = ours_on_stack(node_id)
        if outer is not None:
            inclusive[outer] += ms
    lines = [
        f"{path.name}: {total:.0f} ms of samples; jupyter-collab's scripts {ours:.0f} ms self, "
        f"{sum(inclusive.values()):.0f} ms with what they call"
    ]
    lines += ["  jupyter-collab entry points, inclusive ms (outermost extension frame):"]
    lines += [f"    {ms:8.0f}  {key}" for key, ms in inclusive.most_common(10)]
    lines += ["  by script (self ms):"]
    lines += [f"    {ms:8.0f}  {key}" for key, ms in by_script.most_common(12)]
    lines += ["  by function (self ms):"]
    lines += [f"    {ms:8.0f}  {key}" for key, ms in by_function.most_common(top)]
    return "\n".join(lines), total, dict(by_script)


def profile_browser() -> None:
    from .bench_browser import ITEMS, visit_all

    folder = PROFILES / "browser"
    visits = visit_all(1, [i for i in ITEMS if i["name"] in ("collab", "code")], folder)
    texts = [
        "V8 CPU profiles of one visit each (navigation to rendered + interactive):",
        json.dumps(visits),
    ]
    for path in sorted(folder.glob("*.cpuprofile")):
        texts.append(_profile_table(path)[0])
    _write("browser", "\n\n".join(texts))


TARGETS = {"context": profile_context, "replay": profile_replay, "browser": profile_browser}


def main(argv: list[str]) -> int:
    names = argv or list(TARGETS)
    for name in names:
        if name not in TARGETS:
            raise SystemExit(f"unknown target {name!r}; choose from {', '.join(TARGETS)}")
        TARGETS[name]()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
