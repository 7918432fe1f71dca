"""``jupyter collab context …``: show, add, remove, toggle, edit, undo, validate,
export and import a notebook's context (promote, demote and the layers view are
``layers.py``)."""

from __future__ import annotations

import argparse
import sys

from ..core.context_format import serialize_context
from ..core.context_model import CollabContext
from ..core.errors import CollabError, InvalidRequestError, NotFoundError
from ..core.layer_sharing import embed_layers, layers_manifest
from ..core.layers import resolve_layers
from ..core.notebook import (
    ReconcileKind,
    embed_context,
    extract_context,
    reconcile,
    shared_context,
)
from ..core.operations import entries, expectations
from ..core.store import LocalContextStore
from . import layers
from .files import (
    has_embedded_context,
    notebook_path,
    read_notebook,
    sync_embedded,
    write_notebook,
)
from .options import add_model_options, add_provider_options
from .render import context_markdown, context_text


def out(text: str = "") -> None:
    print(text)


def note(text: str) -> None:
    print(text, file=sys.stderr)


def add_parsers(subparsers) -> None:
    context = subparsers.add_parser(
        "context", help="show and edit a notebook's context (its constitution)"
    )
    commands = context.add_subparsers(dest="context_command", metavar="COMMAND", required=True)

    show = commands.add_parser("show", help="list the facts and process rules with provenance")
    show.add_argument("notebook")
    fmt = show.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="the context file as JSON")
    fmt.add_argument("--markdown", action="store_true", help="a Markdown summary")
    show.add_argument(
        "--layers",
        action="store_true",
        help="every layer (personal, project, notebook): which entries apply and from which file",
    )
    show.add_argument(
        "--contradictions",
        action="store_true",
        help="with --layers: ask the ops model which entries contradict an entry of another "
        "layer (one call about the closest pairs of entries of different layers)",
    )
    add_provider_options(show, "model that judges contradictions (default: the ops model)")
    show.set_defaults(handler=cmd_show)

    add = commands.add_parser("add", help="add an amendment")
    add.add_argument("notebook")
    add.add_argument("--kind", choices=["fact", "process"], required=True)
    add.add_argument("--text", required=True)
    add.add_argument("--rationale", default="")
    add.set_defaults(handler=cmd_add)

    for name, handler, help_text in (
        ("remove", cmd_remove, "delete an amendment"),
        ("toggle", cmd_toggle, "enable or disable an amendment"),
        ("undo", cmd_undo, "return an amendment to its state before its last change"),
    ):
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("notebook")
        sub.add_argument("id")
        sub.set_defaults(handler=handler)

    edit = commands.add_parser("edit", help="change an amendment's text or kind")
    edit.add_argument("notebook")
    edit.add_argument("id")
    edit.add_argument("--text")
    edit.add_argument("--kind", choices=["fact", "process"])
    edit.set_defaults(handler=cmd_edit)

    expect = commands.add_parser(
        "expect",
        help="list or edit the probes an amendment is checked with, and their expectations",
        description=(
            "Without options: list the amendment's probes with their expectations. "
            "PROBE --change / --no-change: set what probe number PROBE should do when the "
            "amendment is added. --add PROMPT: add a probe (--change is the default). "
            "--remove PROBE: remove one."
        ),
    )
    expect.add_argument("notebook")
    expect.add_argument("id")
    expect.add_argument("probe", nargs="?", type=int, help="the probe's number (from 1)")
    wanted = expect.add_mutually_exclusive_group()
    wanted.add_argument(
        "--change",
        dest="expectation",
        action="store_const",
        const="change",
        help="the amendment should change this probe's answer",
    )
    wanted.add_argument(
        "--no-change",
        dest="expectation",
        action="store_const",
        const="no_change",
        help="the amendment should not change this probe's answer",
    )
    action = expect.add_mutually_exclusive_group()
    action.add_argument("--add", metavar="PROMPT", help="add a probe with this prompt")
    action.add_argument("--remove", action="store_true", help="remove probe number PROBE")
    expect.set_defaults(handler=cmd_expect)

    validate = commands.add_parser(
        "validate", help="check the context file and the embedded copy (changes nothing)"
    )
    validate.add_argument("notebook")
    validate.set_defaults(handler=cmd_validate)

    export = commands.add_parser("export", help="embed the context into the notebook metadata")
    export.add_argument("notebook")
    export.set_defaults(handler=cmd_export)

    restore = commands.add_parser(
        "import",
        help="restore (or merge into) the context file from the notebook metadata, or "
        "with --from, import another notebook's entries",
    )
    restore.add_argument("notebook")
    restore.add_argument(
        "--from",
        dest="source",
        nargs="+",
        metavar=("OTHER.ipynb", "ENTRY"),
        help="import OTHER's accepted entries (or the ENTRY ids given after it) with their "
        "provenance",
    )
    restore.add_argument(
        "--dry-run",
        action="store_true",
        help="with --from: list what would be imported and skipped, write nothing",
    )
    restore.add_argument(
        "--preview",
        action="store_true",
        help="with --from: as --dry-run, then answer the notebook's most recent prompts "
        "without and with each entry that would arrive, with a verdict",
    )
    add_model_options(restore, "parallel requests of --preview (default 4)")
    restore.set_defaults(handler=cmd_import)

    layers.add_parsers(commands)


# -- reading --------------------------------------------------------------------


def cmd_show(args: argparse.Namespace) -> int:
    if args.contradictions and not args.layers:
        raise CollabError("--contradictions goes with --layers (contradictions between layers)")
    if args.layers:
        if args.markdown:
            raise CollabError("--layers prints text or --json, not --markdown")
        return layers.cmd_show_layers(args)
    path = notebook_path(args.notebook)
    store = LocalContextStore(path)
    context = store.load()
    source = f"{store.path.name}, revision {context.revision}" if context else ""
    if context is None:
        context = shared_context(read_notebook(path), str(path), has_sidecar=False)
        if context is None:
            if args.json:
                out(serialize_context(CollabContext()).rstrip("\n"))
            else:
                out(f"{path.name} has no context yet (no {store.path.name}, none embedded).")
            return 0
        source = "embedded in the notebook; no context file: run `jupyter collab context import`"
    if args.json:
        out(serialize_context(context).rstrip("\n"))
    elif args.markdown:
        out(context_markdown(context, f"Context of {path.name}") + f"\n\n_{source}_")
    else:
        out(context_text(context, f"Context of {path.name} ({source})"))
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    path = notebook_path(args.notebook)
    store = LocalContextStore(path)
    sidecar = store.load()  # raises ContextFileError naming the file and the problem
    embedded = extract_context(read_notebook(path), str(path))
    parts = []
    if sidecar is not None:
        parts.append(
            f"{store.path.name}: valid (revision {sidecar.revision}, "
            f"{len(sidecar.amendments)} amendment(s))"
        )
    if embedded is not None:
        state = "absent"
        if sidecar is not None:
            same = reconcile(sidecar, embedded).kind == ReconcileKind.identical
            state = "in sync with the context file" if same else "differs from the context file"
        else:
            state = "no context file: `jupyter collab context import` restores it"
        parts.append(f"{path.name} (embedded): valid, {state}")
    if not parts:
        parts.append(f"{path.name}: no context (nothing to validate)")
    for part in parts:
        out(part)
    return 0


# -- changing -------------------------------------------------------------------


def change_context(path, change) -> CollabContext:
    """Apply ``change`` to the stored context (locked, revision-checked), then
    refresh the notebook's embedded copy if it carries one."""
    store = LocalContextStore(path)
    if not store.exists() and has_embedded_context(read_notebook(path)):
        raise CollabError(
            f"{path.name} carries an embedded context but has no {store.path.name}; "
            "run `jupyter collab context import` first so no entry is lost"
        )
    synced: list[bool] = []
    # The embedded copy is refreshed under the same lock as the sidecar write.
    saved = store.update(change, then=lambda written: synced.append(sync_embedded(path, written)))
    if any(synced):
        note(f"updated the copy embedded in {path.name}")
    return saved


def cmd_add(args: argparse.Namespace) -> int:
    path = notebook_path(args.notebook)
    added = {}

    def change(context: CollabContext) -> CollabContext:
        updated, amendment = entries.add_amendment(
            context, args.kind, args.text, rationale=args.rationale, source="cli"
        )
        added["amendment"] = amendment
        return updated

    saved = change_context(path, change)
    amendment = added["amendment"]
    out(f"added {amendment.kind.value} {amendment.id} (revision {saved.revision})")
    return 0


def _by_id(operation):
    def handler(args: argparse.Namespace) -> int:
        path = notebook_path(args.notebook)
        store = LocalContextStore(path)
        if not store.exists():
            raise NotFoundError(f"{path.name} has no context file ({store.path.name})")
        result = {}

        def change(context: CollabContext) -> CollabContext:
            updated, message = operation(context, args)
            result["message"] = message
            return updated

        saved = change_context(path, change)
        out(f"{result['message']} (revision {saved.revision})")
        return 0

    return handler


def _remove(context: CollabContext, args):
    updated, removed, _ = entries.remove_amendment(context, args.id)
    return updated, f"removed {removed.kind.value} {removed.id}: {removed.text.strip()[:80]}"


def _toggle(context: CollabContext, args):
    updated, amendment = entries.toggle_amendment(context, args.id)
    return updated, f"{'enabled' if amendment.enabled else 'disabled'} {amendment.id}"


def _undo(context: CollabContext, args):
    updated, amendment = entries.undo_amendment(context, args.id)
    return updated, f"reverted {amendment.id} to: [{amendment.status.value}] {amendment.text}"


def _edit(context: CollabContext, args):
    if args.text is None and args.kind is None:
        raise CollabError("nothing to change: give --text and/or --kind")
    updated, amendment = entries.edit_amendment(context, args.id, text=args.text, kind=args.kind)
    return updated, f"edited {amendment.id} (rev {amendment.rev})"


cmd_remove = _by_id(_remove)
cmd_toggle = _by_id(_toggle)
cmd_undo = _by_id(_undo)
cmd_edit = _by_id(_edit)


def _probe_lines(amendment) -> list[str]:
    lines = [f"{amendment.id} [{amendment.kind.value}] {amendment.text.strip()}"]
    if not amendment.preview:
        lines.append("  no probes: add one with --add PROMPT")
    for number, probe in enumerate(amendment.preview, 1):
        expected = probe.expected()
        how = "set" if probe.expectation is not None else "from the preview"
        lines.append(
            f"  {number}. [{expected.value}, {how}] ({probe.probe_kind.value}) "
            f"{probe.probe.strip()[:100]}"
        )
    return lines


def cmd_expect(args: argparse.Namespace) -> int:
    path = notebook_path(args.notebook)
    if args.add is None and not args.remove and args.expectation is None:
        if args.probe is not None:
            raise CollabError("give --change or --no-change to set probe's expectation")
        context = LocalContextStore(path).load() or shared_context(
            read_notebook(path), str(path), has_sidecar=False
        )
        if context is None:
            raise NotFoundError(f"{path.name} has no context")
        for line in _probe_lines(context.amendment(args.id)):
            out(line)
        return 0
    if args.add is not None and args.probe is not None:
        raise CollabError("--add takes a prompt, not a probe number")
    if args.add is None and args.probe is None:
        raise CollabError("give the probe's number (see `jupyter collab context expect NB ID`)")
    return _expect_change(args)


def _expect(context: CollabContext, args):
    if args.add is not None:
        updated, amendment = expectations.add_probe(
            context, args.id, args.add, args.expectation or "change"
        )
        return updated, f"added probe {len(amendment.preview)} to {amendment.id}"
    if args.remove:
        if args.expectation is not None:
            raise CollabError("--remove takes no expectation")
        updated, amendment = expectations.remove_probe(context, args.id, args.probe)
        return updated, f"removed probe {args.probe} of {amendment.id}"
    updated, amendment = expectations.set_expectation(
        context, args.id, args.probe, args.expectation
    )
    return updated, f"probe {args.probe} of {amendment.id} now expects {args.expectation}"


_expect_change = _by_id(_expect)


# -- notebook metadata ------------------------------------------------------------


def cmd_export(args: argparse.Namespace) -> int:
    path = notebook_path(args.notebook)
    store = LocalContextStore(path)
    context = store.load()
    if context is None:
        raise NotFoundError(f"{path.name} has no context file ({store.path.name}) to export")
    notebook = embed_context(read_notebook(path), context)
    # The shared layers' entries it uses travel with it (core/layer_sharing.py).
    manifest = layers_manifest(resolve_layers(path, context), path)
    write_notebook(path, embed_layers(notebook, manifest))
    out(
        f"embedded revision {context.revision} ({len(context.amendments)} amendment(s)) "
        f"into {path.name}"
    )
    for layer in manifest:
        out(f"  with the {layer.layer.value} layer's {len(layer.entries)} entries ({layer.file})")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    if args.source is not None:
        return layers.cmd_import_from(args, change_context)
    if args.dry_run or args.preview:
        flag = "--dry-run" if args.dry_run else "--preview"
        raise InvalidRequestError(f"{flag} goes with --from OTHER.ipynb")
    layers.refuse_model_options(args, "--from OTHER.ipynb --preview", "restoring calls no model")
    path = notebook_path(args.notebook)
    store = LocalContextStore(path)
    sidecar = store.load()
    embedded = shared_context(read_notebook(path), str(path), has_sidecar=sidecar is not None)
    if embedded is None:
        raise NotFoundError(f"{path.name} carries no embedded context to import")
    result = reconcile(sidecar, embedded)
    if result.kind == ReconcileKind.identical:
        out(f"{store.path.name} is already in sync with {path.name}")
        return 0
    for conflict in result.conflicts:
        note(f"conflict: {conflict}")
    saved = store.save(result.context)
    imported = [a for a in saved.amendments if a.id in set(result.embedded_only_ids)]
    verb = "restored" if result.kind == ReconcileKind.embedded_only else "merged"
    out(f"{verb} {store.path.name} from {path.name} (revision {saved.revision})")
    for amendment in imported:
        state = f"{amendment.kind.value}, {amendment.status.value}"
        out(f"  + {amendment.id} [{state}] {amendment.text}")
    return 0
