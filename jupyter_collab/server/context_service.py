"""What the context routes do, without tornado: open (reconcile), replace, patch, accept.

Opening a notebook reconciles its sidecar with the context embedded in the
notebook (``core/notebook.reconcile``). Embedded entries become part of the
system prompt, so:

* a notebook with an embedded context and no sidecar has it restored (the
  sidecar written) only when this server trusts the notebook (its signature is
  known to the notary, as for its outputs);
* otherwise, and whenever the embedded copy has entries the sidecar lacks or
  newer revisions of them (a merge), the merged context is returned as
  ``pending`` for review and written only by an explicit accept. A merge is
  never applied silently even for a trusted notebook: the embedded copy may
  simply be older than the sidecar (an entry deleted since the notebook was
  last saved would otherwise come back).

Completions read the sidecar alone, so unreviewed entries never reach a model.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from ..core.assembly import estimate_tokens, render_constitution
from ..core.context_format import context_to_jsonable
from ..core.context_model import CollabContext, Expectation, Settings
from ..core.errors import (
    CollabError,
    ContextFileError,
    InvalidRequestError,
    NotFoundError,
    StaleRevisionError,
)
from ..core.hashing import hash_json
from ..core.layer_sharing import layers_manifest
from ..core.layers import resolve_layers
from ..core.notebook import ENTRY_LISTS, ReconcileKind, reconcile, shared_context
from ..core.operation_models import CheckReport
from ..core.operations import entries, expectations
from ..core.operations.check_records import record_check
from .contents_store import ContentsContextStore
from .route_models import (
    AcceptReview,
    AddAmendment,
    AddProbe,
    ContextPatch,
    ContextPut,
    ContextView,
    OpenedContext,
    PatchOperation,
    RemoveAmendment,
    RemoveProbe,
    RestoreAmendment,
    SetExpectation,
    SetSettings,
    ToggleAmendment,
    UndoAmendment,
    UpdateAmendment,
)


def token_count(context: CollabContext) -> int:
    """Estimated tokens the constitution adds to every prompt."""
    constitution = render_constitution(context.enabled_amendments())
    return estimate_tokens(constitution) if constitution else 0


def expectations_of(context: CollabContext) -> dict[str, list[Expectation]]:
    """The expectation in force of every stored probe, by amendment id (the rule
    is the core's ``PreviewResult.expected``; the browser only shows it)."""
    return {
        amendment.id: [result.expected() for result in amendment.preview]
        for amendment in context.amendments
        if amendment.preview
    }


def view(path: str, context: CollabContext) -> ContextView:
    return ContextView(
        path=path,
        context=context,
        revision=context.revision,
        token_count=token_count(context),
        embedded=context_to_jsonable(context),
        expectations=expectations_of(context),
    )


def _entries(context: CollabContext) -> Any:
    return [
        [entry.model_dump(mode="json") for entry in getattr(context, name)] for name in ENTRY_LISTS
    ]


def pending_hash(context: CollabContext) -> str:
    return hash_json(_entries(context))


class ContextService:
    def __init__(self, store: ContentsContextStore):
        self.store = store

    async def _reconciled(self, path: str) -> tuple[Any, Any, str | None, CollabContext | None]:
        notebook = await self.store.read_notebook(path)
        sidecar = await self.store.load(path)
        embedded_error = None
        try:
            embedded = shared_context(notebook, path, has_sidecar=sidecar is not None)
        except ContextFileError as err:
            # A damaged embedded copy must not block the notebook: it is ignored
            # and reported; the sidecar stays the source of truth.
            embedded, embedded_error = None, str(err)
        return notebook, reconcile(sidecar, embedded), embedded_error, sidecar

    async def open(self, path: str) -> OpenedContext:
        async with self.store.locked(path):
            notebook, result, embedded_error, sidecar = await self._reconciled(path)
            trusted = self.store.is_trusted(notebook)
            applied = result.context
            restored = False
            pending = None
            if result.kind in (ReconcileKind.embedded_only, ReconcileKind.merged):
                current = sidecar or CollabContext()
                if _entries(result.context) == _entries(current):
                    applied = current  # nothing the sidecar lacks
                elif trusted and result.kind == ReconcileKind.embedded_only:
                    applied = await self.store.save_locked(path, result.context)
                    restored = True
                else:
                    applied, pending = current, result.context
        return OpenedContext(
            path=path,
            context=applied,
            revision=applied.revision,
            token_count=token_count(applied),
            embedded=None if pending is not None else context_to_jsonable(applied),
            expectations=expectations_of(applied),
            reconcile=result.kind.value,
            conflicts=result.conflicts,
            trusted=trusted,
            needs_review=pending is not None,
            pending=pending,
            pending_hash=pending_hash(pending) if pending is not None else None,
            embedded_only_ids=result.embedded_only_ids,
            restored=restored,
            embedded_error=embedded_error,
            embedded_layers=await self._layers_manifest(path, applied),
        )

    async def _layers_manifest(self, path: str, context: CollabContext) -> list[dict] | None:
        """What a save embeds of the shared layers (``None``: it cannot be told here)."""
        local = self.store.os_path(path)
        if local is None:
            return None
        root_dir = self.store.contents_manager.root_dir

        def manifest() -> list[dict] | None:
            try:
                layers = resolve_layers(local, context, root=os.path.realpath(root_dir))
            except CollabError:
                return None  # the panel's layers section names the file and the problem
            return [item.model_dump(mode="json") for item in layers_manifest(layers, local)]

        return await asyncio.to_thread(manifest)

    async def accept(self, path: str, body: AcceptReview) -> ContextView:
        """Write the embedded context the researcher reviewed into the sidecar."""
        async with self.store.locked(path):
            _, result, embedded_error, sidecar = await self._reconciled(path)
            stored = sidecar.revision if sidecar is not None else 0
            if body.revision != stored:
                raise StaleRevisionError(
                    self.store.sidecar_for(path), expected=body.revision, actual=stored
                )
            if embedded_error:
                raise ContextFileError(path, embedded_error)
            if result.kind not in (ReconcileKind.embedded_only, ReconcileKind.merged):
                raise InvalidRequestError("this notebook has no embedded context awaiting review")
            if body.pending_hash is not None and body.pending_hash != pending_hash(result.context):
                raise StaleRevisionError(
                    f"{path} (embedded context)", expected=body.revision, actual=stored
                )
            written = await self.store.save_locked(path, result.context)
        return view(path, written)

    async def put(self, path: str, body: ContextPut) -> ContextView:
        await self.store.require_notebook(path)
        proposed = body.context.model_copy(update={"revision": body.revision})
        async with self.store.locked(path):
            # Entries the new context leaves out are deleted: keep their tombstones
            # so an older embedded copy cannot bring them back.
            proposed = entries.carry_tombstones(await self.store.load(path), proposed)
            return view(path, await self.store.save_locked(path, proposed))

    async def patch(self, path: str, body: ContextPatch) -> ContextView:
        await self.store.require_notebook(path)

        def change(context: CollabContext) -> CollabContext:
            for index, operation in enumerate(body.operations):
                context = apply_operation(context, operation, f"operations.{index}")
            return context

        written = await self.store.update(path, change, base_revision=body.revision)
        return view(path, written)

    async def record_check(
        self, path: str, report: CheckReport, checked_revs: dict[str, int]
    ) -> ContextView:
        """Store a check's results on the amendments it checked. The stored context is
        read again under the lock, so an edit made while the check ran is kept; an
        amendment changed meanwhile (``rev`` no longer the one checked, as in
        ``checked_revs``) keeps its earlier result: this one is of a version gone."""

        def change(context: CollabContext) -> CollabContext:
            revs = {amendment.id: amendment.rev for amendment in context.amendments}
            current = [
                check
                for check in report.amendments
                if revs.get(check.amendment_id) == checked_revs.get(check.amendment_id)
            ]
            return record_check(context, report.model_copy(update={"amendments": current}))

        written = await self.store.update(path, change)
        return view(path, written)


# -- PATCH operations -----------------------------------------------------------
# The rules (history, per-entry rev, duplicate detection) are the core's
# ``operations/entries.py``, shared with the CLI and the kernel.


def apply_operation(
    context: CollabContext, operation: PatchOperation, field: str = "operation"
) -> CollabContext:
    """Apply one PATCH operation; return the new context (the input is not changed)."""
    try:
        return _apply(context, operation)
    except NotFoundError as err:
        raise InvalidRequestError(f"field '{field}.id': {err}") from None


def _apply(context: CollabContext, operation: PatchOperation) -> CollabContext:
    if isinstance(operation, AddAmendment):
        context, _ = entries.add_amendment(
            context,
            operation.kind,
            operation.text,
            rationale=operation.rationale,
            status=operation.status,
            source="user",
        )
    elif isinstance(operation, UpdateAmendment):
        if (
            operation.text is not None
            or operation.kind is not None
            or (operation.rationale is not None)
        ):
            context, _ = entries.edit_amendment(
                context,
                operation.id,
                text=operation.text,
                kind=operation.kind,
                rationale=operation.rationale,
                note=operation.note,
            )
        if operation.status is not None:
            context, _ = entries.set_status(context, operation.id, operation.status)
    elif isinstance(operation, ToggleAmendment):
        context, _ = entries.toggle_amendment(context, operation.id)
    elif isinstance(operation, RemoveAmendment):
        context, _, _ = entries.remove_amendment(context, operation.id)
    elif isinstance(operation, RestoreAmendment):
        context = entries.restore_amendment(context, operation.amendment, operation.index)
    elif isinstance(operation, UndoAmendment):
        context, _ = entries.undo_amendment(context, operation.id)
    elif isinstance(operation, SetExpectation):
        context, _ = expectations.set_expectation(
            context, operation.id, operation.probe, operation.expectation
        )
    elif isinstance(operation, AddProbe):
        context, _ = expectations.add_probe(
            context, operation.id, operation.prompt, operation.expectation
        )
    elif isinstance(operation, RemoveProbe):
        context, _ = expectations.remove_probe(context, operation.id, operation.probe)
    elif isinstance(operation, SetSettings):
        changes = {}
        for name, value in operation.settings.model_dump(exclude_unset=True).items():
            changes[name] = Settings.model_fields[name].default if value is None else value
        data = context.settings.model_dump()
        data.update(changes)
        context = context.model_copy(update={"settings": Settings.model_validate(data)})
    return context
