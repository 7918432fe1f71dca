"""``jupyter collab preview NB --amendment T``: probes and a verdict table, headless."""

from __future__ import annotations

import argparse
import asyncio
import sys
from contextlib import aclosing

from ..core.broker import Broker
from ..core.context_model import ProbeKind
from ..core.errors import InvalidRequestError
from ..core.notebook import collab_prompts
from ..core.operation_models import AmendmentDraft, PreviewReport, Probe
from ..core.operations.common import one_line
from ..core.operations.preview import BaselineCache
from ..core.operations.probes import MAX_GENERATED
from .files import load_effective_context, notebook_path, read_notebook
from .options import add_model_options, build_config, cache_path
from .render import preview_summary, preview_table


def add_parser(subparsers) -> None:
    preview = subparsers.add_parser(
        "preview",
        help="preview an amendment on the notebook's prompts and generated probes",
        description=(
            "Answer each probe without and with the amendment and judge the difference. "
            "Probes: the last collaborator cell's prompt, the notebook's earlier prompts, "
            "N generated ones and any given with --probe."
        ),
    )
    preview.add_argument("notebook")
    preview.add_argument("--amendment", required=True, help="the amendment text")
    preview.add_argument("--kind", choices=["fact", "process"], default="process")
    preview.add_argument(
        "--probes",
        type=int,
        default=4,
        metavar="N",
        help=f"generated probes (0-{MAX_GENERATED}, default 4)",
    )
    preview.add_argument(
        "--probe", action="append", default=[], metavar="PROMPT", help="an extra probe prompt"
    )
    preview.add_argument("--json", action="store_true", help="print the report as JSON")
    preview.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")
    preview.add_argument(
        "--no-cache",
        action="store_true",
        help="do not reuse (or keep) baseline answers between runs; they are kept in "
        "$JUPYTER_COLLAB_CACHE_DIR or ~/.cache/jupyter-collab",
    )
    add_model_options(preview, "parallel requests (default 4)")
    preview.set_defaults(handler=cmd_preview)


def progress(args: argparse.Namespace, text: str) -> None:
    if not args.quiet:
        print(text, file=sys.stderr, flush=True)


async def run(args: argparse.Namespace, broker: Broker) -> PreviewReport:
    path = notebook_path(args.notebook)
    notebook = read_notebook(path)
    prompts, problems = collab_prompts(notebook)
    for problem in problems:
        progress(args, f"skipped {problem}")
    original = prompts[-1] if prompts else None
    earlier = prompts[:-1]
    if original is None:
        progress(args, f"{path.name} has no collaborator cells: using generated probes only")
    context = load_effective_context(path, notebook).context
    draft = AmendmentDraft(kind=args.kind, text=args.amendment.strip())

    progress(args, f"generating {args.probes} probe(s) with {broker.provider.name}…")
    probes = await broker.generate_probes(draft, earlier, original, n=args.probes)
    probes += [Probe(prompt=p, kind=ProbeKind.user) for p in args.probe if p.strip()]
    if not probes:
        raise InvalidRequestError(
            "there are no probes: add collaborator cells, --probes or --probe"
        )
    progress(args, f"previewing {len(probes)} probe(s)…")
    report: PreviewReport | None = None
    async with aclosing(broker.preview(draft, probes, context)) as events:
        async for event in events:
            if event.event == "probe" and event.outcome is not None:
                outcome = event.outcome
                progress(
                    args,
                    f"  [{event.done}/{event.total}] {outcome.verdict.value:<12} "
                    f"{one_line(outcome.probe.prompt, 60)}",
                )
            elif event.report is not None:
                report = event.report
    assert report is not None
    return report


async def _main(args: argparse.Namespace) -> tuple[PreviewReport, str]:
    broker = Broker(build_config(args))
    if not args.no_cache:
        broker.baseline_cache = BaselineCache.load(cache_path())
    try:
        report = await run(args, broker)
        provider = broker.provider.name
    finally:
        await broker.aclose()
    if not args.no_cache:
        try:
            broker.baseline_cache.save(cache_path())
        except OSError as err:
            progress(args, f"could not keep the baseline answers: {err}")
    return report, provider


def cmd_preview(args: argparse.Namespace) -> int:
    build_config(args)  # bad flag values fail before any model loads
    if not args.amendment.strip():
        raise InvalidRequestError("the amendment text is empty")
    if not 0 <= args.probes <= MAX_GENERATED:
        raise InvalidRequestError(f"--probes must be between 0 and {MAX_GENERATED}")
    report, provider = asyncio.run(_main(args))
    if args.json:
        print(report.model_dump_json(indent=2))
    else:
        print(f"Amendment ({report.amendment.kind.value}): {report.amendment.text}")
        print()
        print(preview_table(report))
        print()
        print(preview_summary(report, provider))
    return 0
