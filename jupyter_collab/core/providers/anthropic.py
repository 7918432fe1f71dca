"""Anthropic through the official ``anthropic`` SDK (``AsyncAnthropic``).

- Streaming uses the raw Messages API event stream (``messages.create(stream=True)``):
  text deltas are yielded as they arrive; usage comes from ``message_start`` and
  ``message_delta`` (cache fields may be null and count as 0). Closing the
  generator closes the HTTP response.
- A whole answer (``complete``) is one ``messages.create`` without ``stream``: the
  SDK reads one JSON response instead of an event per token.
- Retries with backoff on 408/409/429/5xx/connection errors are the SDK's own
  (``max_retries``), which honour ``retry-after`` / ``retry-after-ms``. Nothing is
  retried once an answer has started streaming.
- What a request carries for each model generation is ``anthropic_request``'s job;
  mapping SDK failures to :class:`ProviderError` messages is ``anthropic_errors``'s.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import TYPE_CHECKING, Any, Literal

from ..config import DEFAULT_ANTHROPIC_MODEL, CollabConfig
from ..errors import ConfigurationError, ProviderError
from .anthropic_errors import ClientSettings, provider_error, public_url
from .anthropic_request import (
    accepts_sampling_params,
    add_structured_output,
    message_params,
    structured_mode_for,
)
from .base import (
    ChatRequest,
    Completion,
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


class AnthropicProvider(Provider):
    """Claude through the Messages API."""

    name = "anthropic"
    #: Dropping 6 old turns at a time, not 3 (6 to 11 turns sent): with the prompt
    #: cache's prices (a write 1.25x the input price, a read 0.1x), a drop rewrites
    #: the 6 kept turns (7.5 turn-prices) and each turn sent meanwhile is read
    #: (0.1), so per cell the history costs 0.1 x 8.5 + 7.5 / 6 = 2.1 turn-prices
    #: against 0.1 x 7 + 7.5 / 3 = 3.2 when dropping 3 (benchmarks/bench_cache.py).
    history_step = 6

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
            "base_url": public_url(self.base_url),
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
        return message_params(request, self.resolve_model(request))

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

    async def complete(self, request: ChatRequest) -> Completion:
        """The whole answer in one response (failures are retried by the SDK)."""
        client = self._sdk()
        params = self._params(request)
        try:
            message = await client.messages.create(**params)
        except Exception as err:
            raise self._error(err) from err
        usage: dict[str, int] = {}
        _merge_usage(usage, message.usage)
        text = "".join(block.text for block in message.content if block.type == "text")
        end = StreamEnd(
            usage=Usage(**usage),
            model=message.model or params["model"],
            response_id=message.id,
            stop_reason=message.stop_reason,
        )
        return Completion(text, end)

    async def complete_structured(self, request: ChatRequest, tool: ToolSpec) -> str:
        client = self._sdk()
        params = self._params(request)
        mode = self._structured_mode_for(params["model"])
        add_structured_output(params, tool, mode)
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
        settings = ClientSettings(
            base_url=self.base_url,
            request_timeout=self._config.request_timeout,
            max_retries=self._config.max_retries,
            key=self._key or self._config.anthropic_key(),
        )
        return provider_error(err, settings, streaming=streaming, started=started)


def _retry_delay(attempt: int) -> float:
    """Backoff between retries of a stream that failed before its first token
    (the SDK's own schedule: 0.5 s doubling, capped at 8 s, with jitter)."""
    return min(0.5 * 2 ** (attempt - 1), 8.0) * (1 - 0.25 * random.random())


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
