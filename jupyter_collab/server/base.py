"""What every jupyter-collab handler shares: the broker and context properties,
JSON bodies validated by pydantic models, and the error mapping.

The mapping itself is :func:`errors.describe_error` (one table for every
route); the REST base class here only routes tornado's error path through it:
a domain exception raised anywhere in a handler becomes its status and a
``{"message", "reason"}`` JSON body, never a traceback, with known secrets
scrubbed.
"""

from __future__ import annotations

import json
from http.client import responses
from typing import TYPE_CHECKING, Any, TypeVar

from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from pydantic import BaseModel
from tornado import web

from ..core.errors import InvalidRequestError
from .errors import ErrorInfo, describe_error, scrub
from .route_models import ErrorReply

if TYPE_CHECKING:
    from ..core.broker import Broker
    from .contents_store import ContentsContextStore
    from .context_service import ContextService

T = TypeVar("T", bound=BaseModel)
AUTH_RESOURCE = "jupyter_collab"
# Keys of the tornado settings where CollabExtension puts what the handlers read.
BROKER_SETTING = "jupyter_collab_broker"
CONTEXTS_SETTING = "jupyter_collab_contexts"


class CollabMixin:
    """Properties and helpers for REST and WebSocket handlers alike."""

    settings: dict[str, Any]

    @property
    def broker(self) -> Broker:
        return self.settings[BROKER_SETTING]

    @property
    def contexts(self) -> ContextService:
        return self.settings[CONTEXTS_SETTING]

    @property
    def store(self) -> ContentsContextStore:
        return self.contexts.store

    def secrets(self) -> list[str]:
        app = self.settings.get("jupyter_collab")
        return app.secrets() if app is not None else []

    def refuse_anonymous(self) -> None:
        """403 for a request without credentials, whatever its method.

        ``@web.authenticated`` guards the verbs a handler implements; this also
        covers the others (HEAD, DELETE…, which would otherwise answer 405 before
        any check) and the CORS preflight ``OPTIONS``, which is only answered
        without credentials when the server is configured for cross-origin
        clients (``allow_origin``, ``allow_origin_pat``), as browsers send
        preflights without them.
        """
        if getattr(self, "current_user", None) is not None:
            return
        if self.request.method == "OPTIONS" and self._cors_configured():  # type: ignore[attr-defined]
            return
        raise web.HTTPError(403)

    def _cors_configured(self) -> bool:
        headers = self.settings.get("headers") or {}
        return bool(
            getattr(self, "allow_origin", "")
            or getattr(self, "allow_origin_pat", None)
            or "Access-Control-Allow-Origin" in headers
        )

    def error_info(self, error: BaseException) -> ErrorInfo:
        """The mapped error, with every known secret scrubbed from its message."""
        info = describe_error(error)
        message = scrub(info.message, self.secrets())
        return ErrorInfo(info.status, info.reason, message, info.unexpected)

    @staticmethod
    def parse_json(raw: bytes | str) -> Any:
        if not raw:
            raise InvalidRequestError("the request body is empty; expected a JSON object")
        try:
            return json.loads(raw)
        except (ValueError, RecursionError) as err:
            raise InvalidRequestError(f"the request body is not valid JSON ({err})") from None

    @staticmethod
    def validate(model: type[T], data: Any) -> T:
        if not isinstance(data, dict):
            raise InvalidRequestError("the request body must be a JSON object")
        return model.model_validate(data)  # ValidationError -> 400 naming the field


class CollabAPIHandler(CollabMixin, ExtensionHandlerMixin, APIHandler):
    """Base of the REST handlers: JSON in, JSON out, errors mapped in one place."""

    auth_resource = AUTH_RESOURCE

    async def prepare(self) -> None:  # type: ignore[override]
        await super().prepare()
        self.refuse_anonymous()

    def body(self, model: type[T]) -> T:
        return self.validate(model, self.parse_json(self.request.body))

    def notebook_path(self) -> str:
        """The ``?path=`` of a notebook, checked (relative, inside the root, .ipynb).

        Read from the raw query: tornado's ``get_query_argument`` would turn
        control characters into spaces, and the path must be refused, not mended.
        """
        values = self.request.query_arguments.get("path") or []
        if len(values) > 1:
            raise InvalidRequestError("field 'path': give one notebook path")
        value = None
        if values:
            try:
                value = values[0].decode("utf-8")
            except UnicodeDecodeError:
                raise InvalidRequestError("field 'path': the path is not valid UTF-8") from None
        return self.store.check_path(value)

    def reply(self, model: BaseModel | dict[str, Any], status: int = 200) -> None:
        self.set_status(status)
        if isinstance(model, BaseModel):
            self.finish(model.model_dump_json())
        else:
            self.finish(json.dumps(model))

    # -- the error path ---------------------------------------------------------

    def log_exception(self, typ: Any, value: BaseException | None, tb: Any) -> None:
        if value is None:
            return
        info = self.error_info(value)
        if info.unexpected:
            # The traceback goes to the server log only, never to the client.
            self.log.error(
                "jupyter-collab: unexpected error in %s %s",
                self.request.method,
                self.request.path,
                exc_info=(typ, value, tb),
            )
        else:
            self.log.warning(
                "jupyter-collab: %d %s %s: %s",
                info.status,
                self.request.method,
                self.request.path,
                info.message,
            )

    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        exc_info = kwargs.get("exc_info")
        if exc_info and exc_info[1] is not None:
            status_code = self.error_info(exc_info[1]).status
        super().send_error(status_code, **kwargs)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc_info = kwargs.get("exc_info")
        if exc_info and exc_info[1] is not None:
            info = self.error_info(exc_info[1])
        else:
            phrase = responses.get(status_code, "Unknown HTTP Error")
            info = ErrorInfo(status_code, phrase.lower().replace(" ", "_"), phrase)
        self.set_header("Content-Type", "application/json")
        self.finish(ErrorReply(message=info.message, reason=info.reason).model_dump_json())
