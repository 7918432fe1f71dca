"""OpenAI-compatible chat endpoints: Ollama, vLLM, llama.cpp server, LM Studio, OpenAI.

Uses the official ``openai`` SDK (``AsyncOpenAI``) with the configured base URL.
A whole answer (``complete``) is one request without ``stream``. Streaming asks
for a final usage chunk (``stream_options.include_usage``); a server that reports
cached prompt tokens (``prompt_tokens_details.cached_tokens``) has them mapped to
``cache_read_input_tokens``. Structured output uses ``response_format`` with a
JSON schema, falling back to plain JSON mode when the server rejects schemas.
Error messages carry the server's own message and status, never the API key.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import secrets
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import openai

from ..config import CollabConfig
from ..errors import ConfigurationError, ProviderError
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

log = logging.getLogger(__name__)

#: Sent when neither the config nor ``OPENAI_API_KEY`` has a key: local servers ignore it.
NO_KEY = "not-needed"
#: Used when no model is configured and the server does not list any.
FALLBACK_MODEL = "default"
#: ``count_tokens`` is an estimate: about four characters per token for English text.
CHARS_PER_TOKEN = 4
#: Estimated per-message overhead of the chat format (role markers).
TOKENS_PER_MESSAGE = 4

_STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}
_RETRYABLE_STATUS = {408, 409, 429}


def _display_url(url: str) -> str:
    """The base URL without any ``user:password@`` part."""
    parts = urlsplit(url)
    if parts.username or parts.password:
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        parts = parts._replace(netloc=host)
    return urlunsplit(parts)


def _tool_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_-]", "_", name)[:64]
    return cleaned or "answer"


class OpenAICompatProvider(Provider):
    name = "openai"

    def __init__(self, config: CollabConfig):
        if not config.openai_base_url:
            raise ConfigurationError(
                "The OpenAI-compatible provider needs openai_base_url "
                "(for example http://localhost:11434/v1 for Ollama)."
            )
        self._config = config
        self._base_url = config.openai_base_url
        self._display_url = _display_url(config.openai_base_url)
        self._api_key = config.openai_api_key or os.environ.get("OPENAI_API_KEY") or NO_KEY
        self._model: str | None = config.model
        # One SDK client per event loop: its connection pool belongs to the loop
        # that opened it (the kernel door may run each cell in a fresh loop).
        self._client_obj: openai.AsyncOpenAI | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None

    @property
    def _client(self) -> openai.AsyncOpenAI:
        loop = asyncio.get_running_loop()
        if self._client_obj is None or self._client_loop is not loop:
            self._client_obj = openai.AsyncOpenAI(
                base_url=self._base_url,
                api_key=self._api_key,
                max_retries=self._config.max_retries,
                timeout=self._config.request_timeout,
            )
            self._client_loop = loop
        return self._client_obj

    # -- Provider ---------------------------------------------------------------

    @property
    def default_model(self) -> str:
        return self._model or FALLBACK_MODEL

    def describe(self) -> dict[str, Any]:
        return {"provider": self.name, "model": self.default_model, "base_url": self._display_url}

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        model = await self._model_for(request)
        kwargs = self._chat_kwargs(request, model)
        kwargs.update(stream=True, stream_options={"include_usage": True})
        create = self._client.chat.completions.create
        try:
            upstream = await create(**kwargs)
        except openai.BadRequestError as exc:
            if "stream_options" not in str(_server_message(exc.body) or exc.message):
                raise self._error(exc) from None
            # An older server that does not know stream_options: no usage then.
            del kwargs["stream_options"]
            try:
                upstream = await create(**kwargs)
            except openai.APIError as exc2:
                raise self._error(exc2) from None
        except openai.APIError as exc:
            raise self._error(exc) from None

        usage = Usage()
        response_id = ""
        model_seen = model
        finish: str | None = None
        try:
            async with upstream:
                async for chunk in upstream:
                    response_id = chunk.id or response_id
                    model_seen = chunk.model or model_seen
                    if chunk.usage is not None:
                        usage = _usage(chunk.usage)
                    for choice in chunk.choices:
                        if choice.delta is not None and choice.delta.content:
                            yield TextDelta(choice.delta.content)
                        if choice.finish_reason:
                            finish = choice.finish_reason
        except openai.APIError as exc:
            raise self._error(exc) from None
        yield StreamEnd(
            usage=usage,
            model=model_seen,
            response_id=response_id or f"openai-{secrets.token_hex(12)}",
            stop_reason=_STOP_REASONS.get(finish or "", finish),
        )

    async def complete(self, request: ChatRequest) -> Completion:
        """The whole answer in one response."""
        model = await self._model_for(request)
        try:
            response = await self._client.chat.completions.create(
                **self._chat_kwargs(request, model)
            )
        except openai.APIError as exc:
            raise self._error(exc) from None
        if not response.choices:
            raise ProviderError(f"{self._display_url} returned no choices")
        choice = response.choices[0]
        finish = choice.finish_reason
        end = StreamEnd(
            usage=_usage(response.usage) if response.usage is not None else Usage(),
            model=response.model or model,
            response_id=response.id or f"openai-{secrets.token_hex(12)}",
            stop_reason=_STOP_REASONS.get(finish or "", finish),
        )
        return Completion(choice.message.content or "", end)

    async def complete_structured(self, request: ChatRequest, tool: ToolSpec) -> str:
        model = await self._model_for(request)
        kwargs = self._chat_kwargs(request, model)
        if request.temperature is None:
            kwargs["temperature"] = 0.0
        schema_format: dict[str, Any] = {
            "name": _tool_name(tool.name),
            "schema": tool.schema,
            "strict": bool(tool.extra.get("strict", False)),
        }
        if tool.description:
            schema_format["description"] = tool.description
        try:
            response = await self._client.chat.completions.create(
                **kwargs, response_format={"type": "json_schema", "json_schema": schema_format}
            )
        except openai.BadRequestError as exc:
            # The server does not take JSON schemas: ask for JSON mode and put
            # the schema in the prompt instead.
            log.info("%s rejected json_schema (%s); using json_object", self._display_url, exc)
            kwargs["messages"] = _with_schema_instruction(kwargs["messages"], tool)
            try:
                response = await self._client.chat.completions.create(
                    **kwargs, response_format={"type": "json_object"}
                )
            except openai.APIError as exc2:
                raise self._error(exc2) from None
        except openai.APIError as exc:
            raise self._error(exc) from None
        if not response.choices:
            raise ProviderError(f"{self._display_url} returned no choices")
        message = response.choices[0].message
        if message.content is None:
            refusal = getattr(message, "refusal", None)
            raise ProviderError(
                f"{self._display_url} returned no content"
                + (f" (refusal: {refusal})" if refusal else "")
            )
        return message.content

    async def count_tokens(self, request: ChatRequest) -> int:
        """An estimate: OpenAI-compatible servers have no standard token-count endpoint.

        About one token per four characters, plus a few per message for the
        chat format's role markers.
        """
        chars = len(request.system_text()) + sum(len(m.content) for m in request.messages)
        n_messages = len(request.messages) + (1 if request.system else 0)
        return -(-chars // CHARS_PER_TOKEN) + TOKENS_PER_MESSAGE * n_messages

    async def aclose(self) -> None:
        client, self._client_obj = self._client_obj, None
        if client is not None and self._client_loop is asyncio.get_running_loop():
            await client.close()
        self._client_loop = None

    # -- helpers ------------------------------------------------------------------

    async def _model_for(self, request: ChatRequest) -> str:
        if request.model:
            return request.model
        if self._model is None:
            # No model configured: use the first one the server serves.
            try:
                page = await self._client.models.list()
                ids = [m.id for m in page.data]
            except openai.APIError as exc:
                log.info("could not list models at %s: %s", self._display_url, exc)
                ids = []
            self._model = ids[0] if ids else FALLBACK_MODEL
        return self._model

    @staticmethod
    def _chat_kwargs(request: ChatRequest, model: str) -> dict[str, Any]:
        messages: list[dict[str, str]] = []
        system = request.system_text()
        if system:
            messages.append({"role": "system", "content": system})
        messages.extend({"role": m.role, "content": m.content} for m in request.messages)
        kwargs: dict[str, Any] = {
            "model": model,
            "messages": messages,
            "max_tokens": request.max_tokens,
        }
        if request.temperature is not None:
            kwargs["temperature"] = request.temperature
        return kwargs

    def _scrub(self, text: str) -> str:
        if self._api_key and self._api_key != NO_KEY and len(self._api_key) >= 4:
            text = text.replace(self._api_key, "[redacted]")
        return text

    def _error(self, exc: openai.APIError) -> ProviderError:
        where = f"the OpenAI-compatible endpoint {self._display_url}"
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            detail = _server_message(exc.body) or exc.message
            message = f"{where} answered HTTP {status}: {detail}"
            retryable = status in _RETRYABLE_STATUS or status >= 500
            return ProviderError(self._scrub(message), status=status, retryable=retryable)
        if isinstance(exc, openai.APITimeoutError):
            return ProviderError(self._scrub(f"{where} timed out"), retryable=True)
        if isinstance(exc, openai.APIConnectionError):
            cause = exc.__cause__ or exc
            return ProviderError(self._scrub(f"could not reach {where}: {cause}"), retryable=True)
        detail = _server_message(exc.body) or exc.message
        return ProviderError(self._scrub(f"{where} failed: {detail}"))


def _server_message(body: object) -> str | None:
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            message = error.get("message")
            if isinstance(message, str) and message:
                return message
        elif isinstance(error, str) and error:
            return error
        return None
    if isinstance(body, str) and body:
        return body[:500]
    return None


def _usage(raw: Any) -> Usage:
    cached = 0
    details = getattr(raw, "prompt_tokens_details", None)
    if details is not None:
        cached = getattr(details, "cached_tokens", None) or 0
    prompt = raw.prompt_tokens or 0
    return Usage(
        # Like Anthropic's usage: input_tokens excludes the tokens read from cache.
        input_tokens=max(prompt - cached, 0),
        output_tokens=raw.completion_tokens or 0,
        cache_read_input_tokens=cached,
    )


def _with_schema_instruction(
    messages: list[dict[str, str]], tool: ToolSpec
) -> list[dict[str, str]]:
    instruction = "Answer with one JSON object matching this JSON schema:\n" + json.dumps(
        tool.schema, sort_keys=True
    )
    if tool.description:
        instruction = f"{tool.description}\n{instruction}"
    if messages and messages[0]["role"] == "system":
        first = {"role": "system", "content": messages[0]["content"] + "\n\n" + instruction}
        return [first, *messages[1:]]
    return [{"role": "system", "content": instruction}, *messages]
