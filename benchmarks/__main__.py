"""``python -m benchmarks``: run the benchmark suite, write results.json and RESULTS.md.

    python -m benchmarks                      # everything, 5 runs each (medians)
    python -m benchmarks --runs 9             # more runs
    python -m benchmarks --quick              # 2 runs, shorter streams: a smoke check
    python -m benchmarks --only cache_read_share,replay_ratio
    python -m benchmarks --list               # the keys and their targets

Only the keys that ran are replaced in ``benchmarks/results.json``; the others
keep their last measurement (each entry says when it was measured), and the
markdown table in ``benchmarks/RESULTS.md`` is rebuilt from the whole file.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback

from .common import (
    RESULTS_JSON,
    RESULTS_MD,
    Result,
    Settings,
    load_results,
    log,
    machine,
    write_results,
)
from .report import KEYS, render_markdown

# module -> the keys it produces (order = the table's order)
MODULES: dict[str, tuple[str, ...]] = {
    "bench_stream": ("ttft_ratio_server_vs_sdk", "stream_chunks_per_s"),
    "bench_load": ("load_probe_p99_ms",),
    "bench_cancel": ("cancel_close_ms",),
    "bench_preview": ("preview_wall_ratio",),
    "bench_check": ("check_wall_ratio",),
    "bench_context": ("context_10k_load_ms", "context_10k_save_ms", "context_10k_assemble_ms"),
    "bench_cache": ("cache_read_share", "cache_read_share_layers"),
    "bench_replay": ("replay_ratio",),
    "bench_local": ("local_tps_ratio", "local_ttft_ratio", "local_cold_start_ratio"),
    "bench_llama_builds": ("local_build_tps_ratio",),
    "bench_quality": ("embedded_quality_adherence", "embedded_tokens_per_s"),
    "bench_browser": ("browser_open_ratio",),
    "bench_judge": ("judge_agreement_embedded", "judge_agreement_wire_standin"),
}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--only", default="", help="comma-separated keys (or module names)")
    parser.add_argument("--runs", type=int, default=None, help="runs per measure (default 5)")
    parser.add_argument("--quick", action="store_true", help="2 runs, smaller workloads")
    parser.add_argument("--list", action="store_true", help="list the keys and targets")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def selected_modules(only: str) -> list[str]:
    if not only:
        return list(MODULES)
    wanted = {w.strip() for w in only.split(",") if w.strip()}
    chosen = []
    for module, keys in MODULES.items():
        short = module.removeprefix("bench_")
        if wanted & set(keys) or module in wanted or short in wanted:
            chosen.append(module)
    unknown = wanted - {k for keys in MODULES.values() for k in keys} - set(MODULES)
    unknown -= {m.removeprefix("bench_") for m in MODULES}
    if unknown:
        raise SystemExit(f"unknown key(s): {', '.join(sorted(unknown))} (see --list)")
    return chosen


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        for key, (what, target) in KEYS.items():
            print(f"{key:28} {target:8} {what}")
        return 0
    settings = Settings(
        runs=args.runs or (2 if args.quick else 5), quick=args.quick, verbose=args.verbose
    )
    info = machine()
    log(
        f"{info['cores']} cores ({info['cpu']}), load {info['load_average_at_start']}, "
        f"{settings.runs} runs per measure"
    )
    results = load_results()
    failures = 0
    started = time.monotonic()
    for module_name in selected_modules(args.only):
        module = importlib.import_module(f"benchmarks.{module_name}")
        keys = MODULES[module_name]
        log(f"--- {module_name}: {', '.join(keys)}")
        module_started = time.monotonic()
        try:
            produced: list[Result] = module.run(settings)
        except Exception as err:  # a broken measure is reported, not fatal
            failures += 1
            traceback.print_exc()
            produced = [
                Result(
                    key=key,
                    value=None,
                    unit="",
                    target=KEYS[key][1],
                    baseline=None,
                    runs=0,
                    note=f"not measured: {type(err).__name__}: {err}",
                    error=f"{type(err).__name__}: {err}",
                )
                for key in keys
            ]
        elapsed = time.monotonic() - module_started
        for result in produced:
            record = result.record()
            record["seconds"] = round(elapsed, 1)
            record["machine"] = info
            results[result.key] = record
            status = {True: "met", False: "MISSED", None: "not measured"}[result.met]
            log(f"{result.key} = {result.value} {result.unit} (target {result.target}): {status}")
        write_results(results)
        RESULTS_MD.write_text(render_markdown(results))
    log(f"done in {time.monotonic() - started:.0f} s; wrote {RESULTS_JSON} and {RESULTS_MD}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
