"""``jupyter collab context show --layers``, ``promote``, ``demote`` and
``import --from``: the notebook's constitution with its project and personal
layers (``core/layers.py``, ``core/layer_moves.py``)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from ..core.broker import Broker
from ..core.context_model import CollabContext
from ..core.errors import CollabError, InvalidRequestError, NotFoundError
from ..core.layer_moves import Layer, MoveResult, demote, import_entries, promote
from ..core.layer_report import layers_report
from ..core.layer_sharing import embedded_layers, missing_layers
from ..core.layers import ContextLayers, resolve_layers
from ..core.operations.layer_contradictions import LayerContradictions
from ..core.store import LocalContextStore
from .files import has_embedded_context, notebook_path, read_notebook, sync_embedded
from .options import add_model_options, build_config
from .promote_preview import cmd_import_preview, cmd_promote_preview


def out(text: str = "") -> None:
    print(text)


def note(text: str) -> None:
    print(text, file=sys.stderr)


def add_parsers(commands) -> None:
    for name, handler, help_text in (
        ("promote", cmd_promote, "move a notebook entry to the project or personal layer"),
        ("demote", cmd_demote, "move an entry of the project or personal layer into the notebook"),
    ):
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("notebook")
        sub.add_argument("id")
        flag = "--to" if name == "promote" else "--from"
        sub.add_argument(
            flag, dest="layer", choices=["project", "personal"], required=True, help="the layer"
        )
        sub.add_argument(
            "--project-dir",
            metavar="FOLDER",
            help="the project's folder (FOLDER/.collab/context.json), to start a project "
            "layer there; default: the nearest one above the notebook",
        )
        if name == "promote":
            sub.add_argument(
                "--preview",
                action="store_true",
                help="write nothing: list the notebooks the entry would reach and answer "
                "their most recent prompts without and with it, each with its own context "
                "(personal layer: the notebooks under the current folder), with a verdict",
            )
            add_model_options(sub, "parallel requests of --preview (default 4)")
        sub.set_defaults(handler=handler)


def _notebook_context(path) -> CollabContext | None:
    store = LocalContextStore(path)
    context = store.load()
    if context is None and has_embedded_context(read_notebook(path)):
        note(
            f"{path.name} carries an embedded context but has no {store.path.name}: it does "
            "not apply until accepted (`jupyter collab context import`)"
        )
    return context


async def _contradictions(args: argparse.Namespace, layers: ContextLayers) -> LayerContradictions:
    broker = Broker(build_config(args))
    try:
        return await broker.layer_contradictions(layers)
    finally:
        await broker.aclose()


def _contradiction_lines(found: LayerContradictions) -> dict[str, list[str]]:
    """'layer:id' -> what to print under that entry, for both entries of each pair."""
    lines: dict[str, list[str]] = {}
    for item in found.contradictions:
        nearer, farther = str(item.nearer), str(item.farther)
        why = f": {item.why}" if item.why else ""
        lines.setdefault(nearer, []).append(f"contradicts {farther}{why} (this entry wins)")
        lines.setdefault(farther, []).append(f"contradicts {nearer}{why} ({nearer} wins)")
    return lines


def cmd_show_layers(args: argparse.Namespace) -> int:
    path = notebook_path(args.notebook)
    if args.contradictions:
        build_config(args)  # bad flag values fail before anything is read
    layers = resolve_layers(path, _notebook_context(path))
    carried = embedded_layers(read_notebook(path), str(path))
    report = layers_report(layers, path.name, missing=missing_layers(carried, layers))
    found = asyncio.run(_contradictions(args, layers)) if args.contradictions else None
    if args.json:
        data = report.model_dump(mode="json")
        if found is not None:
            data["contradictions"] = found.model_dump(mode="json")
        out(json.dumps(data, indent=2, ensure_ascii=False))
        return 0
    clashes = _contradiction_lines(found) if found is not None else {}
    out(f"Layers of {path.name}, in prompt order (a later layer wins where entries disagree):")
    for layer in report.layers:
        if layer.path is None:
            where = "none found above the notebook (start one with `promote --project-dir`)"
        else:
            state = f"revision {layer.revision}" if layer.exists else "no file yet"
            where = f"{layer.path} ({state})"
        out(f"\n{layer.layer.value}: {where}")
        if layer.exists and not layer.entries:
            out("  (no entries)")
        for entry in layer.entries:
            mark = "+" if entry.applies else "-"
            out(f"  {mark} {entry.id} [{entry.kind}, {entry.status}] {entry.text.strip()}")
            out(f"      {'applies' if entry.applies else 'does not apply'}: {entry.why}")
            if entry.origin_notebook:
                out(f"      from {entry.origin_notebook}")
            if entry.repeats:
                out(f"      repeats {', '.join(entry.repeats)}")
            for line in clashes.get(f"{layer.layer.value}:{entry.id}", []):
                out(f"      {line}")
    if found is not None:
        out(
            f"\ncontradictions: {len(found.contradictions)} among {found.compared} pair(s) of "
            "entries of different layers judged"
            + (
                f"; {found.unanswered} pair(s) the model gave no verdict on"
                if found.unanswered
                else ""
            )
            + (f"; {found.left_out} less similar pair(s) not compared" if found.left_out else "")
        )
    for message in report.missing:
        note(f"warning: {path.name} was shared with layers you lack: {message}")
    return 0


def _sync_notebook(path, layer_is_source: bool):
    """Refresh the notebook's embedded copy with its new context, under the move's locks."""

    def then(source: CollabContext, target: CollabContext) -> None:
        if sync_embedded(path, source if layer_is_source else target):
            note(f"updated the copy embedded in {path.name}")

    return then


def _require_sidecar(path) -> None:
    store = LocalContextStore(path)
    if not store.exists() and has_embedded_context(read_notebook(path)):
        raise CollabError(
            f"{path.name} carries an embedded context but has no {store.path.name}; "
            "run `jupyter collab context import` first so no entry is lost"
        )


def _report_move(verb: str, result: MoveResult) -> None:
    entry = result.entry
    out(
        f"{verb} {entry.kind.value} {entry.id}: {entry.text.strip()[:80]}\n"
        f"  into {result.target} (revision {result.target_revision})\n"
        f"  out of {result.source} (revision {result.source_revision})"
    )
    if entry.provenance.notebook:
        out(f"  origin: {entry.provenance.notebook}")


#: The model options ``promote`` takes for ``--preview`` (``options.add_model_options``).
MODEL_OPTIONS = (
    "model",
    "ops_model",
    "max_tokens",
    "temperature",
    "concurrency",
    "noise_samples",
    "local_model",
    "openai_base_url",
)


def refuse_model_options(args: argparse.Namespace, needed: str, why: str) -> None:
    """A model option given to a command that calls no model without ``needed``."""
    given = [name for name in MODEL_OPTIONS if getattr(args, name, None) is not None]
    if given or getattr(args, "provider", "auto") != "auto":
        flag = "--" + (given[0] if given else "provider").replace("_", "-")
        raise InvalidRequestError(f"{flag} applies only with {needed} ({why})")


def cmd_promote(args: argparse.Namespace) -> int:
    path = notebook_path(args.notebook)
    if args.preview:
        return cmd_promote_preview(args, path)
    refuse_model_options(args, "--preview", "a move calls no model")
    _require_sidecar(path)
    result = promote(
        path,
        args.id,
        Layer(args.layer),
        project_folder=args.project_dir,
        then=_sync_notebook(path, layer_is_source=True),
    )
    _report_move("promoted", result)
    return 0


def cmd_demote(args: argparse.Namespace) -> int:
    path = notebook_path(args.notebook)
    _require_sidecar(path)
    result = demote(
        path,
        args.id,
        Layer(args.layer),
        project_folder=args.project_dir,
        then=_sync_notebook(path, layer_is_source=False),
    )
    _report_move("demoted", result)
    return 0


def cmd_import_from(args: argparse.Namespace, change_context) -> int:
    """Import another notebook's accepted entries (or those named) into this one."""
    path = notebook_path(args.notebook)
    other_path = notebook_path(args.source[0])
    wanted = args.source[1:]
    if other_path.resolve() == path.resolve():
        raise CollabError(f"{path.name} cannot import from itself")
    other = LocalContextStore(other_path).load()
    if other is None:
        if has_embedded_context(read_notebook(other_path)):
            raise CollabError(
                f"{other_path.name} carries only an embedded context, which has not been "
                f"reviewed; accept it first (`jupyter collab context import {other_path}`)"
            )
        raise NotFoundError(f"{other_path.name} has no context to import from")
    current = LocalContextStore(path).load() or CollabContext()
    planned = import_entries(current, other, str(other_path), wanted)
    if args.preview:
        build_config(args)  # bad flag values fail before anything is printed
    else:
        refuse_model_options(args, "--preview", "an import calls no model")
    if not planned.imported or args.dry_run or args.preview:
        if planned.imported:
            out(f"would import from {other_path.name} into {path.name} (nothing written):")
        else:
            out(f"nothing to import from {other_path.name} into {path.name}")
        for entry in planned.imported:
            out(f"  + {entry.id} [{entry.kind.value}] {entry.text.strip()}")
        for reason in planned.skipped:
            out(f"  skipped {reason}")
        if args.preview and planned.imported:
            cmd_import_preview(args, path, [other.amendment(i) for i in planned.source_ids])
        return 0
    found = {}

    def change(context: CollabContext) -> CollabContext:
        result = import_entries(context, other, str(other_path), wanted)
        found["result"] = result
        return result.context

    saved = change_context(path, change)
    result = found["result"]
    out(
        f"imported {len(result.imported)} entr{'y' if len(result.imported) == 1 else 'ies'} "
        f"from {other_path.name} into {path.name} (revision {saved.revision})"
    )
    for entry in result.imported:
        out(f"  + {entry.id} [{entry.kind.value}] {entry.text.strip()}")
    for reason in result.skipped:
        out(f"  skipped {reason}")
    return 0
