"""Streaming routes: completions, previews and checks, over a WebSocket or server-sent events.

WebSocket ``jupyter-collab/stream`` (one socket, many requests keyed by an ``id``
the client chooses)::

    → {"type": "complete", "id": "1", "path": "nb.ipynb", "source": "%%collab\\n…"}
    ← {"type": "delta", "id": "1", "text": "…"}                         (repeated)
    ← {"type": "result", "id": "1", "result": {CompletionResult}, "output": {display_data}}
    → {"type": "preview", "id": "2", "path": …, "amendment": {…}, "probes": [...]}
    ← {"type": "progress", "id": "2", "event": "started|probe|finished", …PreviewProgress}
    → {"type": "check", "id": "3", "path": …, "amendment_id": null}
    ← {"type": "check", "id": "3", "event": "started|probe|amendment|finished", …CheckProgress}
    → {"type": "layer_effect", "id": "4", …LayerMoveRequest}
    ← {"type": "progress", "id": "4", "event": "started|probe|finished", …PreviewProgress}
    → {"type": "import_effect", "id": "5", …LayerImportEffectRequest}
    ← {"type": "progress", "id": "5", "event": "started|probe|finished", …PreviewProgress}
    → {"type": "cancel", "id": "1"}
    ← {"type": "cancelled", "id": "1"}
    ← {"type": "error", "id": "1", "status": 502, "reason": "provider_error", "message": "…"}

Cancelling a completion (or closing the socket) closes the broker's iterator,
which closes the provider's stream and its upstream HTTP request. Cancelling a
preview or a check ends it early with a ``finished`` event whose report says
``cancelled``. A check stores its results (those of the amendments it finished)
on the amendments before its ``finished`` event, which carries the context view.

``layer_effect`` is a promotion's model preview (``core/layer_effect.py``): the
prompts of the other notebooks the entry would reach, each answered with that
notebook's context in effect, without and with the entry; its ``started`` event
lists the probes (each naming its notebook), and it needs the right to read
contents, as it reads other notebooks. ``import_effect`` previews an import the
same way: one entry of another notebook, on this notebook's own recent prompts.

``POST jupyter-collab/complete``, ``…/preview``, ``…/check``,
``…/layers/effect`` and ``…/layers/import/effect`` stream the same messages as
``text/event-stream`` (``event: <type>``, ``data: <json>``) for clients without
WebSockets; errors before the first event are ordinary HTTP errors, later ones an
``error`` event; a client that disconnects cancels.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from typing import Any, Literal

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import authorized, ws_authenticated
from jupyter_server.base.handlers import JupyterHandler
from jupyter_server.base.websocket import WebSocketMixin
from pydantic import BaseModel, Field
from tornado import web
from tornado.iostream import StreamClosedError
from tornado.websocket import WebSocketClosedError, WebSocketHandler

from ..core.errors import InvalidRequestError
from ..core.layer_effect import import_effect, layer_effect
from ..core.layer_preview import preview_move
from ..core.operation_models import CompletionResult
from ..core.outputs import CollabOutput, build_display
from ..core.providers.base import TextDelta
from .base import AUTH_RESOURCE, CollabAPIHandler, CollabMixin
from .completion_request import CompletionRequest
from .errors import CollabHTTPError
from .layer_routes import display_names, import_source, move_paths
from .route_models import CheckRequest, PreviewRequest
from .route_models_layers import LayerImportEffectRequest, LayerMoveRequest
from .stream_protocol import (
    CancelledMessage,
    CheckEvent,
    DeltaEvent,
    ErrorEvent,
    ProgressEvent,
    ResultEvent,
    StreamEvent,
    stream_message,
)

MAX_REQUESTS_PER_SOCKET = 16
MAX_MESSAGE_BYTES = 4 * 1024 * 1024


# -- the event sources (shared by both transports) -------------------------------


async def _context_for(handler: CollabMixin, path: str | None, use_context: bool = True):
    if path is None:
        return None
    checked = handler.store.check_path(path)
    await handler.store.require_notebook(checked)
    # Only the sidecar's (accepted) context, with the project and personal layers:
    # unreviewed embedded entries never reach a model. Parsed once per version of
    # each file, shared read-only, and without the evidence a prompt does not use.
    return await handler.store.load_in_effect(checked, for_prompt=True) if use_context else None


async def completion_events(
    handler: CollabMixin, request: CompletionRequest
) -> AsyncIterator[StreamEvent]:
    completion = request.to_input()
    context = await _context_for(handler, request.path, completion.use_context)
    async with aclosing(handler.broker.complete(completion, context)) as events:
        async for event in events:
            if isinstance(event, TextDelta):
                yield DeltaEvent(text=event.text)
            elif isinstance(event, CompletionResult):
                output = build_display(CollabOutput(result=event, highlights=[]))
                yield ResultEvent(result=event, output=output)


async def preview_events(
    handler: CollabMixin, request: PreviewRequest, cancel_event: asyncio.Event | None = None
) -> AsyncIterator[StreamEvent]:
    context = await _context_for(handler, request.path)
    run = handler.broker.preview(
        request.amendment, request.probes, context, cancel_event=cancel_event
    )
    async with aclosing(run) as events:
        async for progress in events:
            yield ProgressEvent(**dict(progress))


async def check_events(
    handler: CollabMixin, request: CheckRequest, cancel_event: asyncio.Event | None = None
) -> AsyncIterator[StreamEvent]:
    path = handler.store.check_path(request.path)
    await handler.store.require_notebook(path)
    # With the project and personal layers, as the notebook's prompts are assembled;
    # results are kept on the notebook's own entries (record_check skips the others).
    context = await handler.store.load_in_effect(path)
    if context is None:
        raise InvalidRequestError(f"{path} has no context to check")
    ids = [request.amendment_id] if request.amendment_id is not None else None
    checked_revs = {amendment.id: amendment.rev for amendment in context.amendments}
    run = handler.broker.check(context, amendment_ids=ids, cancel_event=cancel_event)
    async with aclosing(run) as events:
        async for progress in events:
            if progress.event == "finished" and progress.report is not None:
                stored = await handler.contexts.record_check(path, progress.report, checked_revs)
                yield CheckEvent(**dict(progress), context=stored)
            else:
                yield CheckEvent(**dict(progress))


async def layer_effect_events(
    handler: CollabMixin, request: LayerMoveRequest, cancel_event: asyncio.Event | None = None
) -> AsyncIterator[StreamEvent]:
    """A promotion's model preview: what ``layers/preview`` finds, then each reached
    notebook's prompts answered with its own context (personal layer: the
    notebooks under the server root stand in for every notebook)."""
    paths = await move_paths(handler.store, request)

    def collect():
        move = preview_move(
            paths.local,
            request.entry_id,
            source_layer=request.from_layer,
            target_layer=request.to_layer,
            root=paths.root,
            project_folder=paths.project_dir,
        )
        return layer_effect(
            move,
            paths.local,
            root=paths.root,
            personal_root=paths.root,
            name=display_names(paths.root),
        )

    effect = await asyncio.to_thread(collect)
    for problem in effect.problems:
        handler.log.warning("jupyter-collab: a promotion's preview left out %s", problem)
    context = await handler.store.load_in_effect(paths.path, for_prompt=True)
    run = handler.broker.preview_move(effect, context, cancel_event=cancel_event)
    async with aclosing(run) as events:
        async for progress in events:
            yield ProgressEvent(**dict(progress))


async def import_effect_events(
    handler: CollabMixin,
    request: LayerImportEffectRequest,
    cancel_event: asyncio.Event | None = None,
) -> AsyncIterator[StreamEvent]:
    """An import's model preview: the entry of the other notebook (as the import
    would bring it), on this notebook's recent prompts with its context in effect."""
    path, _other_path, other = await import_source(handler.store, request.path, request.from_path)
    entry = other.amendment(request.entry_id)
    context = await handler.store.load_in_effect(path, for_prompt=True)
    notebook = await handler.store.read_notebook(path)
    effect = import_effect(notebook, path, entry, context)
    run = handler.broker.preview_move(effect, context, cancel_event=cancel_event)
    async with aclosing(run) as events:
        async for progress in events:
            yield ProgressEvent(**dict(progress))


# -- server-sent events ------------------------------------------------------------


class SSEHandler(CollabAPIHandler):
    """POST a request, read ``text/event-stream``; disconnecting cancels it."""

    _pump: asyncio.Future | None = None
    _client_gone = False

    def on_connection_close(self) -> None:
        self._client_gone = True
        if self._pump is not None and not self._pump.done():
            self._pump.cancel()

    async def stream(self, events: AsyncIterator[StreamEvent]) -> None:
        self._pump = asyncio.ensure_future(self._send_all(events))
        try:
            await self._pump
        except asyncio.CancelledError:
            if not self._client_gone:
                raise

    async def _send_all(self, events: AsyncIterator[StreamEvent]) -> None:
        started = False
        async with aclosing(events) as stream:
            try:
                async for message in stream:
                    if not started:
                        started = True
                        self.set_header("Content-Type", "text/event-stream")
                        self.set_header("Cache-Control", "no-cache")
                        self.set_header("X-Accel-Buffering", "no")
                    self.write(_sse(message))
                    await self.flush()
            except StreamClosedError:
                return
            except Exception as error:
                if not started:
                    raise  # nothing sent yet: an ordinary HTTP error with its status
                info = self.error_info(error)
                self.log_exception(type(error), error, error.__traceback__)
                self.write(
                    _sse(ErrorEvent(status=info.status, reason=info.reason, message=info.message))
                )
        self.finish(set_content_type="text/event-stream")


def _sse(event: StreamEvent) -> str:
    return f"event: {event.type}\ndata: {event.model_dump_json()}\n\n"


class CompleteHandler(SSEHandler):
    """``POST complete``: a completion streamed as server-sent events."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        request = self.body(CompletionRequest)
        await self.stream(completion_events(self, request))


class PreviewHandler(SSEHandler):
    """``POST preview``: preview progress (one event per probe) as server-sent events."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        request = self.body(PreviewRequest)
        await self.stream(preview_events(self, request))


class LayerEffectHandler(SSEHandler):
    """``POST layers/effect``: a promotion's model preview as server-sent events."""

    auth_resource = "contents"

    @web.authenticated
    @authorized
    async def post(self) -> None:
        request = self.body(LayerMoveRequest)
        await self.stream(layer_effect_events(self, request))


class ImportEffectHandler(SSEHandler):
    """``POST layers/import/effect``: an import's model preview as server-sent events."""

    auth_resource = "contents"

    @web.authenticated
    @authorized
    async def post(self) -> None:
        request = self.body(LayerImportEffectRequest)
        await self.stream(import_effect_events(self, request))


class CheckHandler(SSEHandler):
    """``POST check``: a constitution check's progress as server-sent events."""

    auth_resource = "contents"

    @web.authenticated
    @authorized
    async def post(self) -> None:
        request = self.body(CheckRequest)
        await self.stream(check_events(self, request))


# -- WebSocket ---------------------------------------------------------------------


class Envelope(BaseModel):
    type: Literal["complete", "preview", "check", "layer_effect", "import_effect", "cancel"]
    id: str = Field(default="0", min_length=1, max_length=100)


class StreamHandler(CollabMixin, WebSocketMixin, WebSocketHandler, JupyterHandler):
    """``GET stream`` (WebSocket): completions, previews and checks, many per socket."""

    auth_resource = AUTH_RESOURCE

    def initialize(self) -> None:
        self._tasks: dict[str, asyncio.Task] = {}
        self._cancel_events: dict[str, asyncio.Event] = {}
        self._cancelled: set[str] = set()

    def set_default_headers(self) -> None:
        """JupyterHandler's default headers do not apply to a WebSocket upgrade."""

    def get_compression_options(self) -> dict[str, Any] | None:
        return self.settings.get("websocket_compression_options", None)

    @property
    def max_message_size(self) -> int:  # type: ignore[override]
        return MAX_MESSAGE_BYTES

    async def prepare(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        await super().prepare(*args, **kwargs)
        self.refuse_anonymous()

    async def pre_get(self) -> None:
        user = self.current_user
        allowed = await ensure_async(
            self.authorizer.is_authorized(self, user, "execute", AUTH_RESOURCE)
        )
        if not allowed:
            raise web.HTTPError(403)

    @ws_authenticated
    async def get(self, *args: Any, **kwargs: Any) -> None:
        await self.pre_get()
        await super().get(*args, **kwargs)

    def on_message(self, message: str | bytes) -> None:
        try:
            data = self.parse_json(message)
            if not isinstance(data, dict):
                raise InvalidRequestError("a message must be a JSON object")
            envelope = Envelope.model_validate({k: data[k] for k in ("type", "id") if k in data})
        except Exception as error:
            self._send_error(None, error)
            return
        request_id = envelope.id
        body = {k: v for k, v in data.items() if k not in ("type", "id")}
        if envelope.type == "cancel":
            self._cancel(request_id)
        elif request_id in self._tasks:
            message = f"a request with id {request_id!r} is already running"
            self._send_error(request_id, CollabHTTPError(409, message, "duplicate_id"))
        elif len(self._tasks) >= MAX_REQUESTS_PER_SOCKET:
            message = "too many requests are running on this connection"
            self._send_error(request_id, CollabHTTPError(429, message, "too_many_requests"))
        elif envelope.type == "complete":
            self._start(
                request_id,
                lambda: completion_events(self, self.validate(CompletionRequest, body)),
            )
        elif envelope.type == "preview":
            cancel_event = asyncio.Event()
            self._cancel_events[request_id] = cancel_event
            self._start(
                request_id,
                lambda: preview_events(self, self.validate(PreviewRequest, body), cancel_event),
            )
        elif envelope.type == "layer_effect":
            cancel_event = asyncio.Event()
            self._cancel_events[request_id] = cancel_event
            self._start(request_id, lambda: self._layer_effect_events(body, cancel_event))
        elif envelope.type == "import_effect":
            cancel_event = asyncio.Event()
            self._cancel_events[request_id] = cancel_event
            self._start(request_id, lambda: self._import_effect_events(body, cancel_event))
        else:
            cancel_event = asyncio.Event()
            self._cancel_events[request_id] = cancel_event
            self._start(
                request_id,
                lambda: self._check_events(body, cancel_event),
            )

    async def _require_contents_read(self, what: str) -> None:
        """Previews that read other notebooks need the right to read contents, not
        only this socket's."""
        allowed = await ensure_async(
            self.authorizer.is_authorized(self, self.current_user, "read", "contents")
        )
        if not allowed:
            message = f"{what} reads other notebooks: it needs the right to read contents"
            raise CollabHTTPError(403, message, "forbidden")

    async def _layer_effect_events(
        self, body: dict[str, Any], cancel_event: asyncio.Event
    ) -> AsyncIterator[StreamEvent]:
        request = self.validate(LayerMoveRequest, body)
        await self._require_contents_read("a promotion's preview")
        async with aclosing(layer_effect_events(self, request, cancel_event)) as events:
            async for event in events:
                yield event

    async def _import_effect_events(
        self, body: dict[str, Any], cancel_event: asyncio.Event
    ) -> AsyncIterator[StreamEvent]:
        request = self.validate(LayerImportEffectRequest, body)
        await self._require_contents_read("an import's preview")
        async with aclosing(import_effect_events(self, request, cancel_event)) as events:
            async for event in events:
                yield event

    async def _check_events(
        self, body: dict[str, Any], cancel_event: asyncio.Event
    ) -> AsyncIterator[StreamEvent]:
        """A check writes its results into the context: it needs the right to write
        contents, as ``POST check`` does, not only this socket's."""
        request = self.validate(CheckRequest, body)
        allowed = await ensure_async(
            self.authorizer.is_authorized(self, self.current_user, "write", "contents")
        )
        if not allowed:
            message = "a check stores its results: it needs the right to write contents"
            raise CollabHTTPError(403, message, "forbidden")
        async with aclosing(check_events(self, request, cancel_event)) as events:
            async for event in events:
                yield event

    def _start(self, request_id: str, events: Callable[[], AsyncIterator[StreamEvent]]) -> None:
        task = asyncio.ensure_future(self._run(request_id, events))
        self._tasks[request_id] = task

    async def _run(self, request_id: str, events: Callable[[], AsyncIterator[StreamEvent]]) -> None:
        try:
            async with aclosing(events()) as stream:
                async for event in stream:
                    await self._write(stream_message(event, request_id))
        except asyncio.CancelledError:
            if request_id in self._cancelled:
                self._send(CancelledMessage(id=request_id))
                return
            raise
        except WebSocketClosedError:
            return
        except Exception as error:
            self._send_error(request_id, error)
        finally:
            self._tasks.pop(request_id, None)
            self._cancel_events.pop(request_id, None)
            self._cancelled.discard(request_id)

    def _cancel(self, request_id: str) -> None:
        cancel_event = self._cancel_events.get(request_id)
        if cancel_event is not None:
            cancel_event.set()  # a preview or check finishes early with its partial report
            return
        task = self._tasks.get(request_id)
        if task is not None and not task.done():
            self._cancelled.add(request_id)
            task.cancel()

    def on_close(self) -> None:
        for task in list(self._tasks.values()):
            task.cancel()

    async def _write(self, message: BaseModel) -> None:
        await self.write_message(message.model_dump_json())

    def _send(self, message: BaseModel) -> None:
        try:
            self.write_message(message.model_dump_json())
        except WebSocketClosedError:
            pass

    def _send_error(self, request_id: str | None, error: BaseException) -> None:
        info = self.error_info(error)
        if info.unexpected:
            self.log.error("jupyter-collab: unexpected error in a stream request", exc_info=error)
        else:
            self.log.warning(
                "jupyter-collab: stream request failed (%d): %s", info.status, info.message
            )
        event = ErrorEvent(status=info.status, reason=info.reason, message=info.message)
        self._send(stream_message(event, request_id))
