"""The broker: one object both doors hold. It assembles prompts, talks to the
provider and runs the loop's operations; it does no I/O of its own on context
files (each door loads and saves contexts through its own backend)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass

from .assembly import AssembledPrompt, Turn, assemble, input_hash
from .config import CollabConfig
from .errors import InvalidRequestError, ProviderError
from .hashing import sha256_text
from .loop_models import CompletionInput, CompletionResult
from .models import CollabContext, Mode, utcnow
from .providers.base import Provider, StreamEnd, TextDelta


@dataclass
class PreparedCompletion:
    """A completion ready to send, with the hash that decides whether it may replay."""

    assembled: AssembledPrompt
    provider: str
    model: str
    mode: Mode
    input_hash: str


class Broker:
    def __init__(
        self,
        config: CollabConfig | None = None,
        provider: Provider | None = None,
        ops_provider: Provider | None = None,
    ):
        self.config = config or CollabConfig()
        self._provider = provider
        self._ops_provider = ops_provider

    # -- providers -----------------------------------------------------------

    @property
    def provider(self) -> Provider:
        if self._provider is None:
            from .providers.factory import create_provider

            self._provider = create_provider(self.config)
        return self._provider

    @property
    def ops_provider(self) -> Provider:
        """The provider for loop operations (same backend; model may differ)."""
        return self._ops_provider or self.provider

    @property
    def ops_model(self) -> str | None:
        return self.config.ops_model or self.config.model

    def check_model(self, model: str | None) -> None:
        allowed = self.config.allowed_models
        if model and allowed and model not in allowed:
            raise InvalidRequestError(
                f"model {model!r} is not allowed here; allowed models: {', '.join(allowed)}"
            )

    def describe(self) -> dict:
        info = self.provider.describe()
        info["ops_model"] = self.ops_model or info.get("model")
        info["allowed_models"] = list(self.config.allowed_models)
        info["default_mode"] = self.config.default_mode.value
        return info

    async def aclose(self) -> None:
        if self._provider is not None:
            await self._provider.aclose()
        if self._ops_provider is not None and self._ops_provider is not self._provider:
            await self._ops_provider.aclose()

    # -- ask -----------------------------------------------------------------

    def prepare(
        self, request: CompletionInput, context: CollabContext | None
    ) -> PreparedCompletion:
        self.check_model(request.model)
        settings = context.settings if context is not None else None
        mode = request.mode or (settings.mode if settings else None) or self.config.default_mode
        history = [Turn(t.prompt, t.answer) for t in request.history] if request.use_history else []
        if settings is not None and not settings.include_history:
            history = []
        budget = settings.token_budget if settings and settings.token_budget is not None else None
        assembled = assemble(
            request.prompt,
            context=context if request.use_context else None,
            mode=mode,
            history=history,
            token_budget=budget if budget is not None else self.config.token_budget,
            model=request.model or (settings.model if settings else None) or self.config.model,
            max_tokens=request.max_tokens
            or (settings.max_tokens if settings else None)
            or self.config.max_tokens,
            temperature=_first_set(
                request.temperature,
                settings.temperature if settings else None,
                self.config.temperature,
            ),
        )
        provider = self.provider
        model = provider.resolve_model(assembled.request)
        assembled.request.model = model
        return PreparedCompletion(
            assembled=assembled,
            provider=provider.name,
            model=model,
            mode=Mode(mode),
            input_hash=input_hash(provider.name, model, assembled.request),
        )

    async def complete(
        self, request: CompletionInput, context: CollabContext | None
    ) -> AsyncIterator[TextDelta | CompletionResult]:
        """Stream the answer: text deltas, then one :class:`CompletionResult`.

        Closing this iterator closes the provider's stream (and its HTTP request).
        """
        prepared = self.prepare(request, context)
        started = time.monotonic()
        chunks: list[str] = []
        end: StreamEnd | None = None
        async with aclosing(self.provider.stream(prepared.assembled.request)) as stream:
            async for event in stream:
                if isinstance(event, TextDelta):
                    chunks.append(event.text)
                    yield event
                elif isinstance(event, StreamEnd):
                    end = event
        if end is None:
            raise ProviderError(f"{self.provider.name}: the stream ended without a final message")
        answer = "".join(chunks)
        yield CompletionResult(
            answer=answer,
            prompt=request.prompt,
            response_id=end.response_id,
            provider=prepared.provider,
            model=end.model or prepared.model,
            mode=prepared.mode,
            usage=end.usage,
            stop_reason=end.stop_reason,
            context_revision=prepared.assembled.context_revision,
            context_hash=prepared.assembled.context_hash,
            input_hash=prepared.input_hash,
            answer_hash=sha256_text(answer),
            included_amendments=prepared.assembled.included_ids,
            omitted_amendments=prepared.assembled.omitted_ids,
            cell_id=request.cell_id,
            created=utcnow(),
            duration_s=round(time.monotonic() - started, 3),
        )

    async def complete_text(
        self, request: CompletionInput, context: CollabContext | None
    ) -> CompletionResult:
        """Run a completion to its end and return only the result."""
        result: CompletionResult | None = None
        async with aclosing(self.complete(request, context)) as events:
            async for event in events:
                if isinstance(event, CompletionResult):
                    result = event
        assert result is not None
        return result


def _first_set(*values):
    for value in values:
        if value is not None:
            return value
    return None
