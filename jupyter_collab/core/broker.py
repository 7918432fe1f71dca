"""The broker: one object both doors hold. It assembles prompts, talks to the
provider and runs the loop's operations; it does no I/O of its own on context
files (each door loads and saves contexts through its own backend)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import aclosing
from dataclasses import dataclass

from .assembly import AssembledPrompt, Turn, assemble, input_hash
from .config import CollabConfig
from .context_model import Amendment, CollabContext, Mode, utcnow
from .errors import InvalidRequestError, ProviderError
from .hashing import sha256_text
from .layer_effect import LayerEffect
from .layers import ContextLayers
from .operation_models import (
    AmendmentDraft,
    CheckProgress,
    CheckReport,
    CompletionInput,
    CompletionResult,
    CorrectionInput,
    HighlightInput,
    PreviewProgress,
    PreviewReport,
    Probe,
    ProposedAmendment,
    SuggestedCorrection,
)
from .operations.amend import propose_amendments as _propose_amendments
from .operations.check import run_check
from .operations.common import OpsClient
from .operations.entries import Source
from .operations.finalize import finalize as _finalize
from .operations.layer_contradictions import (
    ContradictionCache,
    LayerContradictions,
    find_contradictions,
)
from .operations.preview import BaselineCache, PreviewSettings, run_preview
from .operations.probes import generate_probes as _generate_probes
from .operations.suggest import suggest_corrections as _suggest_corrections
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
        # Baseline answers of previews, by input hash: revising an amendment
        # re-runs only the amended side.
        self.baseline_cache = BaselineCache()
        # Verdicts on entries of different layers, by their texts: the context
        # panel re-opened on unchanged layers asks the model nothing.
        self.contradiction_cache = ContradictionCache()

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
        self,
        request: CompletionInput,
        context: CollabContext | None,
        *,
        exclude_ids: Iterable[str] = (),
    ) -> PreparedCompletion:
        self.check_model(request.model)
        settings = context.settings if context is not None else None
        mode = request.mode or (settings.mode if settings else None) or self.config.default_mode
        with_history = request.use_history and (settings is None or settings.include_history)
        history = (
            [Turn(t.prompt, t.answer, t.included_amendments) for t in request.history]
            if with_history
            else []
        )
        budget = settings.token_budget if settings and settings.token_budget is not None else None
        assembled = assemble(
            request.prompt,
            context=context if request.use_context else None,
            mode=mode,
            history=history,
            exclude_ids=exclude_ids,
            continued=with_history,
            history_step=self.provider.history_step,
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

    # -- the loop's operations -------------------------------------------------

    def ops_client(self) -> OpsClient:
        """The provider and settings the structured operations (and the judge) use."""
        return OpsClient(
            provider=self.ops_provider,
            model=self.ops_model,
            temperature=self.config.preview_temperature,
        )

    async def suggest_corrections(
        self,
        highlight: HighlightInput,
        n: int = 3,
        context: CollabContext | None = None,
    ) -> list[SuggestedCorrection]:
        """Candidate corrections (replace/delete/insert/comment, each with a why)."""
        return await _suggest_corrections(self.ops_client(), highlight, n, context)

    async def propose_amendments(
        self,
        highlight: HighlightInput,
        correction: CorrectionInput,
        context: CollabContext | None,
        n: int = 3,
    ) -> list[ProposedAmendment]:
        """Candidate fact/process amendments; duplicates and contradictions are flagged."""
        return await _propose_amendments(self.ops_client(), highlight, correction, context, n)

    async def layer_contradictions(self, layers: ContextLayers) -> LayerContradictions:
        """Which entries of a notebook's layers contradict an entry of another layer."""
        return await find_contradictions(self.ops_client(), layers, self.contradiction_cache)

    async def generate_probes(
        self,
        draft: AmendmentDraft,
        notebook_prompts: list[str],
        original_prompt: str | None = None,
        n: int = 4,
    ) -> list[Probe]:
        """The original and notebook prompts plus ``n`` generated should/should-not probes."""
        return await _generate_probes(
            self.ops_client(), draft, notebook_prompts, original_prompt, n
        )

    def preview_settings(
        self, context: CollabContext | None, concurrency: int | None = None
    ) -> PreviewSettings:
        settings = context.settings if context is not None else None
        budget = settings.token_budget if settings is not None else None
        return PreviewSettings(
            model=(settings.model if settings else None) or self.config.model,
            mode=(settings.mode if settings else None) or self.config.default_mode,
            max_tokens=(settings.max_tokens if settings else None) or self.config.max_tokens,
            temperature=self.config.preview_temperature,
            token_budget=budget if budget is not None else self.config.token_budget,
            concurrency=concurrency or self.config.preview_concurrency,
            noise_samples=self.config.preview_noise_samples,
        )

    async def preview(
        self,
        draft: AmendmentDraft,
        probes: list[Probe],
        context: CollabContext | None,
        *,
        concurrency: int | None = None,
        cancel_event: asyncio.Event | None = None,
    ) -> AsyncIterator[PreviewProgress]:
        """Progress events: ``started``, one ``probe`` per outcome, ``finished`` with
        the report. Setting ``cancel_event`` finishes early with ``cancelled=True``;
        closing the iterator cancels the outstanding calls."""
        self.check_model(context.settings.model if context is not None else None)
        run = run_preview(
            self.provider,
            self.ops_client(),
            draft,
            probes,
            context,
            settings=self.preview_settings(context, concurrency),
            cache=self.baseline_cache,
            cancel_event=cancel_event,
        )
        async with aclosing(run) as events:
            async for event in events:
                yield event

    async def preview_move(
        self,
        effect: LayerEffect,
        context: CollabContext | None,
        *,
        concurrency: int | None = None,
        cancel_event: asyncio.Event | None = None,
    ) -> AsyncIterator[PreviewProgress]:
        """A promotion's model preview (``layer_effect.py``): each probe answered with
        its own notebook's context in effect and settings (model, mode, length),
        without and with the entry; events as :meth:`preview`. ``context`` is the
        source notebook's (the run's concurrency and noise samples). With no probe
        (no reached notebook has prompts) it is ``started`` with none and an empty
        ``finished``, and no model call."""
        if not effect.probes:
            settings = self.preview_settings(context, concurrency)
            yield PreviewProgress(
                event="started", total=0, noise_samples=settings.noise_samples, probes=[]
            )
            report = PreviewReport(
                amendment=effect.draft,
                outcomes=[],
                model=settings.model or self.provider.default_model,
                noise_samples=settings.noise_samples,
            )
            yield PreviewProgress(event="finished", report=report)
            return
        # Each notebook's prompts are answered as that notebook answers them: its
        # model, mode and length, as well as its entries.
        notebook_settings = {}
        for name, own in effect.contexts.items():
            try:
                self.check_model(own.settings.model if own is not None else None)
            except InvalidRequestError as err:
                raise InvalidRequestError(f"{name}: {err}") from None
            notebook_settings[name] = self.preview_settings(own, concurrency)
        run = run_preview(
            self.provider,
            self.ops_client(),
            effect.draft,
            effect.probes,
            context,
            settings=self.preview_settings(context, concurrency),
            cache=self.baseline_cache,
            cancel_event=cancel_event,
            contexts=effect.contexts,
            notebook_settings=notebook_settings,
        )
        async with aclosing(run) as events:
            async for event in events:
                yield event

    async def preview_report(
        self,
        draft: AmendmentDraft,
        probes: list[Probe],
        context: CollabContext | None,
        *,
        concurrency: int | None = None,
        cancel_event: asyncio.Event | None = None,
    ) -> PreviewReport:
        """Run a preview to its end and return only the report."""
        report: PreviewReport | None = None
        async with aclosing(
            self.preview(draft, probes, context, concurrency=concurrency, cancel_event=cancel_event)
        ) as events:
            async for event in events:
                if event.report is not None:
                    report = event.report
        assert report is not None
        return report

    async def check(
        self,
        context: CollabContext,
        *,
        amendment_ids: list[str] | None = None,
        model: str | None = None,
        concurrency: int | None = None,
        record: BaselineCache | None = None,
        replay: bool = False,
        cancel_event: asyncio.Event | None = None,
    ) -> AsyncIterator[CheckProgress]:
        """Check the context's enabled amendments (or those named) on their stored
        probes: progress events, then ``finished`` with the :class:`CheckReport`.
        ``model`` overrides the context's and the configuration's answer model;
        ``record`` keeps every answer and verdict, ``replay`` serves them from it
        with no model call."""
        self.check_model(model or context.settings.model)
        settings = self.preview_settings(context, concurrency or self.config.check_concurrency)
        if model:
            settings.model = model
        run = run_check(
            self.provider,
            self.ops_client(),
            context,
            settings=settings,
            cache=self.baseline_cache,
            amendment_ids=amendment_ids,
            record=record,
            replay=replay,
            cancel_event=cancel_event,
        )
        async with aclosing(run) as events:
            async for event in events:
                yield event

    async def check_report(self, context: CollabContext, **options) -> CheckReport:
        """Run a check to its end and return only the report (options as :meth:`check`)."""
        report: CheckReport | None = None
        async with aclosing(self.check(context, **options)) as events:
            async for event in events:
                if event.report is not None:
                    report = event.report
        assert report is not None
        return report

    @staticmethod
    def finalize(
        context: CollabContext,
        draft: AmendmentDraft,
        *,
        highlight: HighlightInput | None = None,
        correction: CorrectionInput | None = None,
        report: PreviewReport | None = None,
        cell_id: str | None = None,
        source: Source = "loop",
    ) -> tuple[CollabContext, Amendment]:
        """A NEW context with the highlight, correction and accepted amendment added."""
        return _finalize(
            context,
            draft,
            highlight=highlight,
            correction=correction,
            report=report,
            cell_id=cell_id,
            source=source,
        )


def _first_set(*values):
    for value in values:
        if value is not None:
            return value
    return None
