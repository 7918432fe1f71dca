"""The layer routes: ``GET layers?path=``, ``POST layers/contradictions`` (the
ops model's verdicts, apart so the report stays deterministic and fast),
``POST layers/preview`` (what a move would do), ``POST layers/move`` (promote,
demote), ``POST layers/import`` (with ``dry_run``, its preview) and
``GET layers/importable``; a promotion's model preview is streamed
(``streaming.py``, ``layers/effect``). They translate: the layers are found,
reported, judged and changed by ``core/layers.py``, ``core/layer_report.py``,
``core/operations/layer_contradictions.py`` (through the broker, which keeps the
verdicts) and ``core/layer_moves.py``, on the server's local files (a contents
manager without local files has no layers: 400). The project layer is looked for
up to the server root; the report names files by their path under the root (the
personal layer by its path with ``~`` for the home folder), never by the
server's absolute paths.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..core.context_model import CollabContext
from ..core.errors import CollabError, InvalidRequestError
from ..core.layer_moves import import_entries, move_entry
from ..core.layer_preview import importable_notebooks, preview_move
from ..core.layer_report import layers_report
from ..core.layer_sharing import embedded_layers, missing_layers
from ..core.layers import ContextLayers, resolve_layers
from .base import CollabAPIHandler
from .context_service import view
from .route_models_layers import (
    ImportableView,
    LayerContradictionsReply,
    LayerContradictionsRequest,
    LayerImportReply,
    LayerImportRequest,
    LayerMovePreview,
    LayerMoveReply,
    LayerMoveRequest,
    LayersView,
    NotebookEffectView,
)


def local_paths(store, path: str) -> tuple[str, str]:
    """The notebook's real path and the server root's, or 400 without local files."""
    local = store.os_path(path)
    if local is None:
        raise InvalidRequestError(
            "context layers need a contents manager with local files; this server has none"
        )
    return local, os.path.realpath(store.contents_manager.root_dir)


def display_names(root: str) -> Callable[[Path], str]:
    """How a file is named to the browser: its path under the root, ``~/…`` under
    the home folder, never the server's absolute paths when another name serves."""
    home = os.path.expanduser("~")

    def name(path: Path) -> str:
        real = os.path.realpath(path)
        if real == root:
            return "."
        if real.startswith(root.rstrip(os.sep) + os.sep):
            return Path(os.path.relpath(real, root)).as_posix()
        if real.startswith(home.rstrip(os.sep) + os.sep):
            return "~/" + Path(os.path.relpath(real, home)).as_posix()
        return real

    return name


@dataclass
class MovePaths:
    """A move request's notebook (API and local paths), the root and the project folder."""

    path: str
    local: str
    root: str
    project_dir: str | None


async def move_paths(store, body: LayerMoveRequest) -> MovePaths:
    """The paths a move (or its preview) works on; 404 for a missing notebook."""
    path = store.check_path(body.path)
    await store.require_notebook(path)
    local, root = local_paths(store, path)
    project_dir = None
    if body.project_dir is not None:
        project_dir = store.os_path(body.project_dir.strip("/"))
    return MovePaths(path, local, root, project_dir)


async def import_source(store, path: str, from_path: str) -> tuple[str, str, CollabContext]:
    """An import's notebook, the notebook it imports from and that one's context;
    404 for a missing notebook, 400 for importing from itself, an error when the
    other notebook has no reviewed context."""
    path = store.check_path(path)
    other_path = store.check_path(from_path, "from_path")
    if other_path == path:
        raise InvalidRequestError(f"{path} cannot import from itself")
    await store.require_notebook(path)
    await store.require_notebook(other_path)
    # Only a reviewed context: the sidecar, never an embedded copy nobody accepted.
    other = await store.load(other_path)
    if other is None:
        raise CollabError(
            f"{other_path} has no accepted context to import (an embedded one must be "
            "reviewed first)"
        )
    return path, other_path, other


class _LayerHandler(CollabAPIHandler):
    auth_resource = "contents"

    def local(self, path: str) -> tuple[str, str]:
        return local_paths(self.store, path)

    display = staticmethod(display_names)

    async def layers_of(self, path: str) -> ContextLayers:
        local, root = self.local(path)
        own = await self.store.load_shared(path)
        return await asyncio.to_thread(resolve_layers, local, own, root=root)

    async def layers_view(self, path: str) -> LayersView:
        _, root = self.local(path)
        layers = await self.layers_of(path)
        carried = embedded_layers(await self.store.read_notebook(path), path)
        missing = missing_layers(carried, layers)
        report = layers_report(layers, path, self.display(root), missing)
        return LayersView(path=path, report=report)


class LayersHandler(_LayerHandler):
    """``GET layers?path=nb.ipynb``: every layer, which entries apply and why."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        path = self.notebook_path()
        await self.store.require_notebook(path)
        self.reply(await self.layers_view(path))


class LayerContradictionsHandler(_LayerHandler):
    """``POST layers/contradictions``: entries of one layer that contradict another's."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.body(LayerContradictionsRequest)
        path = self.store.check_path(body.path)
        await self.store.require_notebook(path)
        result = await self.broker.layer_contradictions(await self.layers_of(path))
        self.reply(LayerContradictionsReply(path=path, result=result))


class _MoveHandler(_LayerHandler):
    async def move_request(self) -> tuple[LayerMoveRequest, str, str, str, str | None]:
        """The request, the notebook's API and local paths, the root, the project folder."""
        body = self.body(LayerMoveRequest)
        paths = await move_paths(self.store, body)
        return body, paths.path, paths.local, paths.root, paths.project_dir


class LayerPreviewHandler(_MoveHandler):
    """``POST layers/preview``: what ``layers/move`` with the same body would do."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body, _, local, root, project_dir = await self.move_request()
        preview = await asyncio.to_thread(
            preview_move,
            local,
            body.entry_id,
            source_layer=body.from_layer,
            target_layer=body.to_layer,
            root=root,
            project_folder=project_dir,
        )
        name = self.display(root)
        self.reply(
            LayerMovePreview(
                entry=preview.entry,
                target=name(preview.target),
                every_notebook=preview.every_notebook,
                notebooks=[
                    NotebookEffectView(notebook=name(e.notebook), effect=e.effect, detail=e.detail)
                    for e in preview.notebooks
                ],
                truncated=preview.truncated,
            )
        )


class LayerMoveHandler(_MoveHandler):
    """``POST layers/move``: promote or demote one entry, both files or neither."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body, path, local, root, project_dir = await self.move_request()
        result = await asyncio.to_thread(
            move_entry,
            local,
            body.entry_id,
            source_layer=body.from_layer,
            target_layer=body.to_layer,
            root=root,
            project_folder=project_dir,
            expected=dict(body.revisions),
        )
        context = await self.store.load(path) or CollabContext()
        self.reply(
            LayerMoveReply(
                entry=result.entry,
                layers=await self.layers_view(path),
                context=view(path, context),
            )
        )


class LayerImportHandler(_LayerHandler):
    """``POST layers/import``: another notebook's accepted entries into this one."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.body(LayerImportRequest)
        path, other_path, other = await import_source(self.store, body.path, body.from_path)
        if body.dry_run:
            stored = await self.store.load(path) or CollabContext()
            result = import_entries(stored, other, other_path, body.entry_ids)
        else:
            found = {}

            def change(context: CollabContext) -> CollabContext:
                found["result"] = import_entries(context, other, other_path, body.entry_ids)
                return found["result"].context

            stored = await self.store.update(path, change, base_revision=body.revision)
            result = found["result"]
        self.reply(
            LayerImportReply(
                imported=result.imported,
                source_ids=result.source_ids,
                skipped=result.skipped,
                written=not body.dry_run,
                context=view(path, stored),
            )
        )


class ImportableHandler(_LayerHandler):
    """``GET layers/importable?path=nb.ipynb``: the notebooks it could import from."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        path = self.notebook_path()
        await self.store.require_notebook(path)
        local, root = self.local(path)
        found, truncated = await asyncio.to_thread(importable_notebooks, local, root)
        name = self.display(root)
        self.reply(
            ImportableView(
                path=path, notebooks=[name(notebook) for notebook in found], truncated=truncated
            )
        )


ROUTES: list[tuple[str, type]] = [
    ("layers", LayersHandler),
    ("layers/contradictions", LayerContradictionsHandler),
    ("layers/preview", LayerPreviewHandler),
    ("layers/move", LayerMoveHandler),
    ("layers/import", LayerImportHandler),
    ("layers/importable", ImportableHandler),
]
