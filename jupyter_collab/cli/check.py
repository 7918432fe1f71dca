"""``jupyter collab check NOTEBOOK...``: re-test every enabled amendment of each
notebook's constitution on the probes it was accepted on.

Exit codes: 0 when every checked amendment holds (untested ones, with no probe,
are listed but do not fail the check); 3 when one is broken, flaky or in
conflict; 1 for a user error (as every command).

Answers and verdicts are recorded by input hash in ``--answers FILE`` (default
``check-answers.json`` in the cache folder); ``--replay`` re-checks from that
recording with no model call at all. The result of each check (health, date,
model) is kept on the amendments in the context file unless ``--no-save``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable
from contextlib import aclosing, nullcontext
from pathlib import Path

from ..core.broker import Broker
from ..core.config import CHECK_ANSWERS_FILE, CollabConfig, cache_dir
from ..core.context_model import CollabContext, Health
from ..core.errors import InvalidRequestError, NotFoundError
from ..core.layers import context_in_effect
from ..core.operation_models import CheckProgress, CheckReport
from ..core.operations.check_records import record_check, replay_identity
from ..core.operations.common import one_line
from ..core.operations.fanout import BaselineCache
from ..core.providers.recorded import RecordedProvider
from ..core.store import LocalContextStore
from .check_output import NotebookCheck, check_json, check_junit, check_text
from .context import change_context
from .files import load_effective_context, notebook_path, read_notebook
from .options import add_model_options, build_config, cache_path

EXIT_NOT_ALL_HOLD = 3
#: Answers kept in a recording (least recently used dropped first).
RECORDING_SIZE = 50_000


def add_parser(subparsers) -> None:
    check = subparsers.add_parser(
        "check",
        help="re-test every enabled amendment on the probes it was accepted on",
        description=(
            "Answer each enabled amendment's stored probes with and without it and report "
            "per amendment: holds, broken, flaky, conflict (with another amendment) or "
            "untested. Exit 0 only when all hold (3 otherwise), so it can gate CI."
        ),
    )
    check.add_argument("notebooks", nargs="+", metavar="NOTEBOOK")
    check.add_argument(
        "--amendment", action="append", metavar="ID", help="check only this amendment (repeatable)"
    )
    check.add_argument(
        "--against-model",
        metavar="M2",
        help="check with this model too, and show both side by side (a model upgrade)",
    )
    out = check.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print the reports as JSON")
    out.add_argument("--junit", metavar="FILE", help="write JUnit XML to FILE")
    check.add_argument(
        "--replay",
        action="store_true",
        help="re-check from the recorded answers: no model call at all",
    )
    check.add_argument(
        "--answers",
        metavar="FILE",
        help="where answers and verdicts are recorded for --replay (default: "
        "check-answers.json in $JUPYTER_COLLAB_CACHE_DIR or ~/.cache/jupyter-collab); "
        "commit it beside the notebook to replay in CI",
    )
    check.add_argument(
        "--no-save", action="store_true", help="do not keep the result on the amendments"
    )
    check.add_argument(
        "--no-cache", action="store_true", help="do not reuse baseline answers between runs"
    )
    check.add_argument("--quiet", "-q", action="store_true", help="no progress on stderr")
    add_model_options(check, "parallel requests (default 64)")
    check.set_defaults(handler=cmd_check)


def answers_path(args: argparse.Namespace) -> Path:
    return Path(args.answers) if args.answers else cache_dir() / CHECK_ANSWERS_FILE


def _note(args: argparse.Namespace, text: str) -> None:
    if not args.quiet:
        print(text, file=sys.stderr, flush=True)


class Progress:
    """Progress on stderr: a bar on a terminal (rich), plain lines otherwise."""

    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.bar = None
        if not args.quiet and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as Bar

            self.bar = Bar(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )

    def __enter__(self) -> Progress:
        if self.bar is not None:
            self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def line(self, text: str) -> None:
        if self.bar is not None:
            self.bar.console.print(text, markup=False, highlight=False)
        else:
            _note(self.args, text)

    def tracker(self, label: str) -> Callable[[CheckProgress], None]:
        task = None

        def on_event(event: CheckProgress) -> None:
            nonlocal task
            if event.event == "started":
                if self.bar is not None:
                    task = self.bar.add_task(label, total=event.total)
                else:
                    self.line(f"{label}: {event.amendments} amendment(s), {event.total} probe(s)")
            elif event.event == "probe" and self.bar is not None and task is not None:
                self.bar.update(task, completed=event.done)
            elif event.event == "amendment" and event.amendment is not None:
                check = event.amendment
                self.line(
                    f"  {check.health.value:<9} {check.amendment_id}  {one_line(check.text, 50)}"
                )

        return on_event


async def _check_one(
    broker: Broker,
    context: CollabContext,
    args: argparse.Namespace,
    model: str | None,
    record: BaselineCache,
    on_event: Callable[[CheckProgress], None],
) -> CheckReport:
    report: CheckReport | None = None
    run = broker.check(
        context,
        amendment_ids=args.amendment,
        model=model,
        record=record,
        replay=args.replay,
    )
    async with aclosing(run) as events:
        async for event in events:
            on_event(event)
            if event.report is not None:
                report = event.report
    assert report is not None
    return report


async def _run(
    args: argparse.Namespace,
    config: CollabConfig,
    notebooks: list[tuple[Path, CollabContext]],
    record: BaselineCache,
) -> list[NotebookCheck]:
    models = [args.model] + ([args.against_model] if args.against_model else [])
    cache = BaselineCache() if args.no_cache else BaselineCache.load(cache_path())
    reports: dict[tuple[int, int], CheckReport] = {}
    with Progress(args) as progress:
        for m, model in enumerate(models):
            shared: Broker | None = None
            try:
                for n, (path, context) in enumerate(notebooks):
                    if args.replay:
                        name, recorded = replay_identity(
                            context,
                            config.provider if config.provider != "auto" else None,
                            model,
                            config.resolved_provider(),
                        )
                        replay_config = config.model_copy(update={"model": recorded})
                        broker = Broker(replay_config, provider=RecordedProvider(name, recorded))
                    else:
                        shared = shared or Broker(config)
                        broker = shared
                    broker.baseline_cache = cache
                    label = path.name + (f" [{model}]" if len(models) > 1 and model else "")
                    reports[(m, n)] = await _check_one(
                        broker, context, args, model, record, progress.tracker(label)
                    )
            finally:
                if shared is not None:
                    await shared.aclose()
    if not args.no_cache and not args.replay:
        try:
            cache.save(cache_path())
        except OSError as err:
            _note(args, f"could not keep the baseline answers: {err}")
    return [
        NotebookCheck(path, reports[(0, n)], reports.get((1, n)))
        for n, (path, _) in enumerate(notebooks)
    ]


def _save(args: argparse.Namespace, result: NotebookCheck) -> None:
    """Keep each amendment's health on it (the first model's check)."""
    if not LocalContextStore(result.path).exists():
        _note(args, f"{result.path.name} has no context file: the result is not kept")
        return
    change_context(result.path, lambda context: record_check(context, result.report))


def cmd_check(args: argparse.Namespace) -> int:
    config = build_config(args, "check_concurrency")  # bad values fail before any call
    if args.against_model and args.against_model == args.model:
        raise InvalidRequestError("--against-model names the same model as --model")
    notebooks = []
    for name in args.notebooks:
        path = notebook_path(name)
        # Checked as its prompts are assembled: with the project and personal
        # layers, so a shared entry is checked too and a conflict across layers shows.
        own = load_effective_context(path, read_notebook(path)).context
        notebooks.append((path, context_in_effect(path, own) or CollabContext()))
    recording = answers_path(args)
    if args.replay and not recording.is_file():
        raise NotFoundError(
            f"--replay: no recorded answers at {recording}; run the check once without "
            "--replay (or give --answers FILE)"
        )
    record = BaselineCache.load(recording, maxsize=RECORDING_SIZE)
    results = asyncio.run(_run(args, config, notebooks, record))
    if not args.replay:
        try:
            record.save(recording)
        except OSError as err:
            _note(args, f"could not record the answers at {recording}: {err}")
    all_hold = all(r.all_hold for result in results for r in result.reports)
    if not args.no_save:
        for result in results:
            if result.report.amendments and not result.report.cancelled:
                _save(args, result)
    if args.json:
        print(check_json(results, all_hold))
    else:
        with open(args.junit, "wb") if args.junit else nullcontext() as junit:
            if junit is not None:
                junit.write(check_junit(results))
        for i, result in enumerate(results):
            if i:
                print()
            print(check_text(result))
        if len(results) > 1:
            held = sum(1 for r in results if r.report.all_hold)
            print(f"\n{held}/{len(results)} notebook(s) hold")
    if not all_hold:
        broken = sum(
            1
            for result in results
            for report in result.reports
            for a in report.amendments
            if a.health not in (Health.holds, Health.untested)
        )
        _note(args, f"{broken} amendment check(s) do not hold")
    return 0 if all_hold else EXIT_NOT_ALL_HOLD
