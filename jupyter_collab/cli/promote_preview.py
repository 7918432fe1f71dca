"""``jupyter collab context promote NB ID --to LAYER --preview``: what a promotion
would do, written nowhere. The notebooks the entry would reach (``preview_move``),
then the model preview on their prompts (``layer_effect``), each answered with
that notebook's own context in effect, without and with the entry. And
``import NB --from OTHER --preview``: each entry that would arrive, on NB's own
recent prompts (``import_effect``)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from contextlib import aclosing
from pathlib import Path

from ..core.broker import Broker
from ..core.context_model import Amendment, CollabContext
from ..core.layer_effect import LayerEffect, import_effect, layer_effect
from ..core.layer_preview import MovePreview, preview_move
from ..core.layers import Layer, context_in_effect
from ..core.operation_models import PreviewReport
from ..core.operations.common import one_line
from ..core.store import LocalContextStore
from .files import read_notebook
from .options import build_config
from .render import preview_summary

EFFECT_WORDS = {"gains": "gains it", "repeats": "already says it", "unreadable": "unreadable"}


def _name(path: Path) -> str:
    """A notebook as the user would type it: relative to the current folder when under it."""
    relative = os.path.relpath(path)
    return path.as_posix() if relative.startswith("..") else Path(relative).as_posix()


def _print_reach(move: MovePreview) -> None:
    print(f"into {_name(move.target)}")
    if move.every_notebook:
        print("it will apply to every notebook you open")
        return
    more = "+" if move.truncated else ""
    print(f"it will apply to {len(move.notebooks)}{more} notebook(s):")
    for effect in move.notebooks:
        detail = f" ({effect.detail})" if effect.detail else ""
        print(
            f"  {_name(effect.notebook)}: {EFFECT_WORDS.get(effect.effect, effect.effect)}{detail}"
        )


async def preview_with(
    broker: Broker, effect: LayerEffect, context: CollabContext | None
) -> PreviewReport:
    """Run a layer move's or an import's model preview (``Broker.preview_move``),
    printing each verdict on stderr as it comes."""
    report: PreviewReport | None = None
    async with aclosing(broker.preview_move(effect, context)) as progress:
        async for event in progress:
            if event.event == "probe" and event.outcome is not None:
                print(
                    f"  [{event.done}/{event.total}] {event.outcome.verdict.value} "
                    f"{one_line(event.outcome.probe.prompt, 60)}",
                    file=sys.stderr,
                    flush=True,
                )
            elif event.report is not None:
                report = event.report
    assert report is not None
    return report


async def run_effect(
    args: argparse.Namespace, effect: LayerEffect, context: CollabContext | None
) -> tuple[PreviewReport, str]:
    """:func:`preview_with` on a broker of its own; the report and the provider."""
    broker = Broker(build_config(args))
    try:
        return await preview_with(broker, effect, context), broker.provider.name
    finally:
        await broker.aclose()


def cmd_promote_preview(args: argparse.Namespace, path: Path) -> int:
    """Print the notebooks the entry would reach and each probe's verdict; write nothing."""
    build_config(args)  # bad flag values fail before anything is read or loaded
    move = preview_move(
        path,
        args.id,
        source_layer=Layer.notebook,
        target_layer=Layer(args.layer),
        project_folder=args.project_dir,
    )
    print(f"preview (nothing written): promote {move.entry.id} to the {args.layer} layer")
    _print_reach(move)
    effect = layer_effect(move, path, personal_root=Path.cwd(), name=_name)
    for problem in effect.problems:
        print(f"skipped {problem}", file=sys.stderr)
    if not effect.probes:
        where = "the notebooks under this folder" if move.every_notebook else "them"
        print(f"no prompts to preview: none of {where} has collaborator cells")
        return 0
    notebooks = len({p.notebook for p in effect.probes})
    print(f"previewing {len(effect.probes)} prompt(s) of {notebooks} notebook(s)…", flush=True)
    report, provider = asyncio.run(run_effect(args, effect, LocalContextStore(path).load()))
    print_outcomes(report, provider)
    return 0


def print_outcomes(report: PreviewReport, provider: str) -> None:
    for outcome in report.outcomes:
        print(
            f"  {outcome.verdict.value:<12} {outcome.probe.notebook}: "
            f"{one_line(outcome.probe.prompt, 60)}\n      {outcome.reason}"
        )
    print(preview_summary(report, provider))


def cmd_import_preview(args: argparse.Namespace, path: Path, entries: list[Amendment]) -> None:
    """Each entry an import would bring, previewed on the notebook's own recent
    prompts with its context in effect, by one broker (one embedded model process
    for them all); nothing written."""
    context = context_in_effect(path, LocalContextStore(path).load_for_prompt())
    notebook = read_notebook(path)
    effects = [import_effect(notebook, _name(path), entry, context) for entry in entries]
    if not effects or not effects[0].probes:
        print(f"no prompts to preview: {_name(path)} has no collaborator cells")
        return

    async def previews() -> None:
        broker = Broker(build_config(args))
        try:
            for entry, effect in zip(entries, effects, strict=True):
                print(
                    f"previewing {entry.id} on {len(effect.probes)} prompt(s) of {_name(path)}…",
                    flush=True,
                )
                print_outcomes(await preview_with(broker, effect, context), broker.provider.name)
        finally:
            await broker.aclose()

    asyncio.run(previews())
