"""The REST routes under ``{base_url}jupyter-collab/``: small handlers, one per
route family, each a thin door onto the broker core or the context service.

Every verb is ``@web.authenticated`` and ``@authorized``; cookie-authenticated
writes also pass jupyter-server's XSRF check (``APIHandler.prepare``). The
streaming routes (completion, preview, check) are in ``streaming.py``.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..core.context_model import SCHEMA_VERSION, CollabContext
from ..core.errors import ConfigurationError
from ..core.operation_models import AnchorsReply, AnchorsRequest
from ..core.operations.anchoring import place
from ..core.outputs import annotated_display
from ..version import __version__
from .base import CollabAPIHandler
from .completion_request import CellSourceRequest, ParsedCell
from .context_service import view
from .route_models import (
    AcceptReview,
    AmendRequest,
    ContextPatch,
    ContextPut,
    FinalizeReply,
    FinalizeRequest,
    ModelsInfo,
    ProbesReply,
    ProbesRequest,
    ProposeReply,
    SuggestReply,
    SuggestRequest,
    VersionInfo,
)


class VersionHandler(CollabAPIHandler):
    """``GET version``: the handshake the front end makes on start."""

    @web.authenticated
    @authorized
    def get(self) -> None:
        self.reply(
            VersionInfo(
                version=__version__,
                schema_version=SCHEMA_VERSION,
                provider=self.broker.config.resolved_provider(),
            )
        )


class ModelsHandler(CollabAPIHandler):
    """``GET models``: the model setup, and whether a key is set (never the key)."""

    @web.authenticated
    @authorized
    def get(self) -> None:
        config = self.broker.config
        app = self.extensionapp
        try:
            model = self.broker.provider.default_model
        except ConfigurationError:
            model = config.model  # the provider cannot start; show what is configured
        self.reply(
            ModelsInfo(
                provider=config.resolved_provider(),
                model=model,
                ops_model=self.broker.ops_model or model,
                allowed_models=list(config.allowed_models),
                default_mode=config.default_mode,
                key_configured=app.key_configured(),  # type: ignore[attr-defined]
                preview_concurrency=config.preview_concurrency,
                token_budget=config.token_budget,
            )
        )


class ContextHandler(CollabAPIHandler):
    """``GET|PUT|PATCH context?path=nb.ipynb``: the notebook's context, revision-checked."""

    auth_resource = "contents"

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.reply(await self.contexts.open(self.notebook_path()))

    @web.authenticated
    @authorized
    async def put(self) -> None:
        path = self.notebook_path()
        self.reply(await self.contexts.put(path, self.body(ContextPut)))

    @web.authenticated
    @authorized
    async def patch(self) -> None:
        path = self.notebook_path()
        self.reply(await self.contexts.patch(path, self.body(ContextPatch)))


class AcceptHandler(CollabAPIHandler):
    """``POST context/accept?path=``: apply an embedded context the researcher reviewed."""

    auth_resource = "contents"

    @web.authenticated
    @authorized
    async def post(self) -> None:
        path = self.notebook_path()
        self.reply(await self.contexts.accept(path, self.body(AcceptReview)))


class CellHandler(CollabAPIHandler):
    """``POST cell``: a collaborator cell's source parsed by the core (options,
    prompt and the ``{name}`` references the front end reads from the kernel)."""

    @web.authenticated
    @authorized
    def post(self) -> None:
        self.reply(ParsedCell.of(self.body(CellSourceRequest).source))


class AnchorsHandler(CollabAPIHandler):
    """``POST anchors``: stored highlights placed on the answers the page shows now
    (the core's anchoring: exact, moved or orphaned, offsets in code points)."""

    @web.authenticated
    @authorized
    def post(self) -> None:
        items = self.body(AnchorsRequest).items
        self.reply(AnchorsReply(anchors=[place(item) for item in items]))


# -- loop operations ---------------------------------------------------------------


class OpsHandler(CollabAPIHandler):
    """Base of the loop-operation routes: load the (accepted) context of ``path``
    with its shared layers, so a proposal that repeats or contradicts an entry of
    the project or personal layer is flagged like one of the notebook's own."""

    async def context_of(self, path: str | None) -> CollabContext | None:
        if path is None:
            return None
        checked = self.store.check_path(path)
        await self.store.require_notebook(checked)
        return await self.store.load_in_effect(checked)


class SuggestHandler(OpsHandler):
    """``POST suggest``: candidate corrections of a highlighted span."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.body(SuggestRequest)
        context = await self.context_of(body.path)
        suggestions = await self.broker.suggest_corrections(
            body.highlight, n=body.n, context=context
        )
        self.reply(SuggestReply(suggestions=suggestions))


class ProposeHandler(OpsHandler):
    """``POST propose``: candidate amendments from a chosen correction."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.body(AmendRequest)
        context = await self.context_of(body.path)
        proposals = await self.broker.propose_amendments(
            body.highlight, body.correction, context, n=body.n
        )
        self.reply(ProposeReply(amendments=proposals))


class ProbesHandler(OpsHandler):
    """``POST probes``: probe prompts to preview an amendment with."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.body(ProbesRequest)
        probes = await self.broker.generate_probes(
            body.amendment, body.notebook_prompts, body.original_prompt, n=body.n
        )
        self.reply(ProbesReply(probes=probes))


class FinalizeHandler(OpsHandler):
    """``POST finalize``: add the amendment (with provenance) to the notebook's context."""

    auth_resource = "contents"

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.body(FinalizeRequest)
        path = self.store.check_path(body.path)
        await self.store.require_notebook(path)
        created: dict[str, Any] = {}

        def change(context: CollabContext) -> CollabContext:
            updated, amendment = self.broker.finalize(
                context,
                body.amendment,
                highlight=body.highlight,
                correction=body.correction,
                report=body.report,
                cell_id=body.cell_id,
            )
            created["amendment"] = amendment
            return updated

        written = await self.store.update(path, change, base_revision=body.revision)
        amendment = created["amendment"]
        output = (
            annotated_display(body.output, written, amendment) if body.output is not None else None
        )
        self.reply(FinalizeReply(amendment=amendment, context=view(path, written), output=output))


def route_table(namespace: str) -> list[tuple[str, type]]:
    """The extension's routes (base_url is prepended by ExtensionApp)."""
    from .layer_routes import ROUTES as LAYER_ROUTES
    from .streaming import (
        CheckHandler,
        CompleteHandler,
        ImportEffectHandler,
        LayerEffectHandler,
        PreviewHandler,
        StreamHandler,
    )

    routes: list[tuple[str, type]] = [
        ("version", VersionHandler),
        ("models", ModelsHandler),
        ("context", ContextHandler),
        ("context/accept", AcceptHandler),
        ("cell", CellHandler),
        ("anchors", AnchorsHandler),
        ("complete", CompleteHandler),
        ("suggest", SuggestHandler),
        ("propose", ProposeHandler),
        ("probes", ProbesHandler),
        ("preview", PreviewHandler),
        ("finalize", FinalizeHandler),
        ("check", CheckHandler),
        ("stream", StreamHandler),
        *LAYER_ROUTES,
        ("layers/effect", LayerEffectHandler),
        ("layers/import/effect", ImportEffectHandler),
    ]
    return [(rf"/{namespace}/{route}", handler) for route, handler in routes]
