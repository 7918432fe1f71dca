"""The embedded model's own process: llama.cpp behind a line-oriented JSON protocol.

Started by :mod:`.local` (``python -m jupyter_collab.core.providers.llama_worker
--model PATH --n-ctx N``), never imported by the server or the kernel: native code
that crashes, hangs or runs out of memory takes only this process down, and the
parent reports it and starts a fresh one on the next request.

Protocol: one JSON object per line. The parent writes requests on our stdin::

    {"op": "generate", "id": ..., "messages": [...], "max_tokens": N,
     "temperature": T, "response_format": {...} | null}
    {"op": "count", "id": ..., "messages": [...]}
    {"op": "cancel", "id": ...}

and reads events from our stdout: ``ready`` once the model is loaded (or
``fatal`` and exit code 3 when it cannot be), then per request ``started``,
``delta`` (one per token), and exactly one of ``end``, ``count``, ``error`` or
``cancelled``. Requests run one at a time, in order (a ``Llama`` instance is not
thread-safe); a cancel stops a running generation within a token and skips a
queued one. The end of stdin means the parent is gone: the process exits.

Only the standard library and llama_cpp are imported here, so the process
starts as fast as loading the model allows.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import secrets
import signal
import sys
import threading
import time
from typing import Any

#: Exit code when the model cannot be loaded (after a ``fatal`` event).
EXIT_LOAD_FAILED = 3

#: Room kept for the answer when deciding whether a prompt fits the context.
MIN_ANSWER_TOKENS = 256

# Anthropic's stop-reason vocabulary, shared by every provider.
_STOP_REASONS = {"stop": "end_turn", "length": "max_tokens"}

_CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# Gemma's turn format, for Gemma GGUFs that carry no template of their own.
# Gemma has no system role: the system prompt opens the first user turn, as in
# Google's own template. A turn ends with <end_of_turn>, which is where the
# model stops.
_GEMMA_TEMPLATE = (
    "{{ bos_token }}{% set ns = namespace(system='', first=true) %}"
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}{% set ns.system = message['content'] + '\n\n' %}"
    "{% else %}"
    "{{ '<start_of_turn>' + ('model' if message['role'] == 'assistant' else 'user') + '\n' }}"
    "{% if message['role'] == 'user' and ns.first %}{{ ns.system }}"
    "{% set ns.first = false %}{% endif %}"
    "{{ message['content'] | trim }}{{ '<end_of_turn>\n' }}"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}"
)
GEMMA_END_OF_TURN = "<end_of_turn>"


def fallback_template(architecture: str) -> tuple[str, str | None]:
    """(chat template, end-of-turn token or None) for a GGUF without a template."""
    if architecture.startswith("gemma"):
        return _GEMMA_TEMPLATE, GEMMA_END_OF_TURN
    return _CHATML_TEMPLATE, None


class PromptTooLong(Exception):
    """The system prompt and the last message alone do not fit the context."""


class Channel:
    """Our stdout, reserved for protocol lines.

    Native code may print to file descriptor 1; that descriptor is pointed at
    stderr so stray output can never corrupt the protocol.
    """

    def __init__(self) -> None:
        self._out = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
        os.dup2(2, 1)
        sys.stdout = sys.stderr
        self._lock = threading.Lock()

    def send(self, **event: Any) -> None:
        line = json.dumps(event, ensure_ascii=False)
        with self._lock:
            self._out.write(line + "\n")
            self._out.flush()


def system_info(llama_cpp: Any) -> str:
    """What llama.cpp was compiled with (``CPU : AVX2 = 1 | AMX_INT8 = 1 | ...``)."""
    return llama_cpp.llama_print_system_info().decode("utf-8", "replace").strip()


def avoid_amx_repacking(llama_cpp: Any, info: str) -> bool:
    """Load weights without llama.cpp's AMX buffer type when the library has it.

    A llama-cpp-python compiled with -march=native on an AMX CPU (what a plain
    ``pip install llama-cpp-python`` does there) crashes with SIGSEGV in its first
    decode inside that buffer type (seen with 0.3.36 on a Sapphire Rapids Xeon).
    The project's own build (``llama_build``) never compiles it in; for other
    builds, loading with ``use_extra_bufts = False`` avoids it, at the cost of
    llama.cpp's weight repacking, which a 135M model hardly needs. ``Llama`` takes
    its model parameters from ``llama_model_default_params`` at load time and
    has no argument for this one, hence the wrapper. ``info`` is :func:`system_info`.
    """
    if "AMX_INT8 = 1" not in info:
        return False
    low_level = llama_cpp.llama_cpp
    defaults = low_level.llama_model_default_params
    if not hasattr(defaults(), "use_extra_bufts"):
        return False

    def without_extra_buffer_types() -> Any:
        params = defaults()
        params.use_extra_bufts = False
        return params

    low_level.llama_model_default_params = without_extra_buffer_types
    return True


class Model:
    """One loaded GGUF with its chat formatter; used from one thread only."""

    def __init__(self, path: str, n_ctx: int, n_threads: int | None):
        import llama_cpp
        from llama_cpp import llama_chat_format

        self.system_info = system_info(llama_cpp)
        self.amx_avoided = avoid_amx_repacking(llama_cpp, self.system_info)
        kwargs: dict[str, Any] = {"model_path": path, "n_ctx": n_ctx, "verbose": False}
        if n_threads:
            kwargs["n_threads"] = n_threads
        self.llm = llama_cpp.Llama(**kwargs)
        self.n_ctx = self.llm.n_ctx()
        self.formatter = self._formatter(llama_chat_format)
        # Generation uses the very formatter that counts the prompt's tokens.
        self.llm.chat_handler = self.formatter.to_chat_handler()

    def _formatter(self, llama_chat_format: Any) -> Any:
        llm = self.llm
        template = llm.metadata.get("tokenizer.chat_template")
        end_of_turn = None
        if not template:
            architecture = llm.metadata.get("general.architecture", "")
            template, end_of_turn = fallback_template(architecture)
        eos_id, bos_id = llm.token_eos(), llm.token_bos()
        eos = llm._model.token_get_text(eos_id) if eos_id != -1 else ""
        bos = llm._model.token_get_text(bos_id) if bos_id != -1 else ""
        stop_ids = [eos_id] if eos_id != -1 else []
        if end_of_turn:
            # The turn's end, not the file's end-of-sequence token, closes an answer.
            stop_ids += llm.tokenize(end_of_turn.encode(), add_bos=False, special=True)
            eos = end_of_turn
        return llama_chat_format.Jinja2ChatFormatter(
            template=template,
            eos_token=eos,
            bos_token=bos,
            stop_token_ids=stop_ids or None,
        )

    def prompt_tokens(self, messages: list[dict[str, str]]) -> int:
        result = self.formatter(messages=messages)
        tokens = self.llm.tokenize(
            result.prompt.encode("utf-8"), add_bos=not result.added_special, special=True
        )
        return len(tokens)

    def fit(
        self, messages: list[dict[str, str]], max_tokens: int
    ) -> tuple[list[dict[str, str]], int, int]:
        """Messages that fit the context, their prompt token count and the answer budget.

        The oldest conversation turns are dropped first; the system prompt and
        the last message are always kept.
        """
        head = 1 if messages and messages[0]["role"] == "system" else 0
        reserve = min(max_tokens, MIN_ANSWER_TOKENS)
        while True:
            n_prompt = self.prompt_tokens(messages)
            if n_prompt + reserve <= self.n_ctx:
                break
            conversation = messages[head:]
            if len(conversation) <= 1:
                raise PromptTooLong(
                    f"The prompt is {n_prompt} tokens, longer than the local model's context "
                    f"of {self.n_ctx} tokens (keeping {reserve} tokens for the answer); "
                    "shorten the prompt or the notebook context, or raise local_n_ctx."
                )
            # Drop the oldest turn, and the assistant reply that followed it,
            # so the conversation still starts with a user message.
            drop = 1
            while drop < len(conversation) - 1 and conversation[drop]["role"] != "user":
                drop += 1
            messages = messages[:head] + conversation[drop:]
        return messages, n_prompt, min(max_tokens, self.n_ctx - n_prompt)

    def generate(self, job: dict[str, Any], cancelled: threading.Event, channel: Channel) -> bool:
        """Stream one answer; False when it was cancelled before the end."""
        messages, n_prompt, max_tokens = self.fit(job["messages"], int(job["max_tokens"]))
        if cancelled.is_set():
            return False
        chunks = self.llm.create_chat_completion(
            messages=messages,
            stream=True,
            temperature=float(job["temperature"]),
            max_tokens=max_tokens,
            response_format=job.get("response_format"),
        )
        parts: list[str] = []
        finish: str | None = None
        try:
            for chunk in chunks:
                if cancelled.is_set():
                    return False
                choice = chunk["choices"][0]
                text = choice["delta"].get("content")
                if text:
                    parts.append(text)
                    channel.send(id=job["id"], event="delta", text=text)
                if choice.get("finish_reason"):
                    finish = choice["finish_reason"]
        finally:
            chunks.close()  # stops llama.cpp's generator (and frees its sampler)
        answer = "".join(parts)
        output_tokens = (
            len(self.llm.tokenize(answer.encode("utf-8"), add_bos=False)) if answer else 0
        )
        channel.send(
            id=job["id"],
            event="end",
            input_tokens=n_prompt,
            output_tokens=output_tokens,
            stop_reason=_STOP_REASONS.get(finish or "", finish),
            response_id=f"local-{secrets.token_hex(12)}",
        )
        return True


class Server:
    """Reads requests on stdin, runs them one at a time on a generation thread."""

    def __init__(self, model: Model, channel: Channel):
        self.model = model
        self.channel = channel
        self.jobs: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.cancelled: dict[str, threading.Event] = {}
        self.lock = threading.Lock()

    def flag(self, job_id: str) -> threading.Event:
        with self.lock:
            return self.cancelled.setdefault(job_id, threading.Event())

    def read_requests(self) -> None:
        for line in sys.stdin.buffer:
            try:
                request = json.loads(line)
                op, job_id = request["op"], str(request["id"])
            except (ValueError, KeyError, TypeError):
                print(f"ignoring a malformed request: {line[:200]!r}", file=sys.stderr)
                continue
            if op == "cancel":
                self.flag(job_id).set()
            else:
                self.flag(job_id)
                self.jobs.put(request)
        # The parent closed our stdin (or died): nobody is listening any more.
        os._exit(0)

    def run_jobs(self) -> None:
        while True:
            job = self.jobs.get()
            if job is None:
                return
            job_id = str(job["id"])
            cancelled = self.flag(job_id)
            try:
                if cancelled.is_set():
                    self.channel.send(id=job_id, event="cancelled")
                    continue
                self.channel.send(id=job_id, event="started")
                self.run(job, cancelled)
            except PromptTooLong as exc:
                self.channel.send(id=job_id, event="error", message=str(exc))
            except Exception as exc:
                self.channel.send(id=job_id, event="error", message=f"{type(exc).__name__}: {exc}")
            finally:
                with self.lock:
                    self.cancelled.pop(job_id, None)

    def run(self, job: dict[str, Any], cancelled: threading.Event) -> None:
        job_id = str(job["id"])
        if job["op"] == "count":
            tokens = self.model.prompt_tokens(job["messages"])
            self.channel.send(id=job_id, event="count", tokens=tokens)
        elif job["op"] == "generate":
            if not self.model.generate(job, cancelled, self.channel):
                self.channel.send(id=job_id, event="cancelled")
        else:
            self.channel.send(id=job_id, event="error", message=f"unknown op {job['op']!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="path of the GGUF file")
    parser.add_argument("--n-ctx", type=int, required=True)
    parser.add_argument("--n-threads", type=int, default=0)
    args = parser.parse_args(argv)
    # An interrupt meant for the parent (a kernel interrupt signals its whole
    # process group) must not kill the model; the parent stops us explicitly.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    channel = Channel()
    started = time.perf_counter()
    try:
        model = Model(args.model, args.n_ctx, args.n_threads or None)
    except Exception as exc:
        channel.send(event="fatal", message=f"{type(exc).__name__}: {exc}")
        return EXIT_LOAD_FAILED
    channel.send(
        event="ready",
        pid=os.getpid(),
        n_ctx=model.n_ctx,
        system_info=model.system_info,
        amx_avoided=model.amx_avoided,
        load_s=round(time.perf_counter() - started, 3),
    )
    server = Server(model, channel)
    threading.Thread(target=server.run_jobs, name="llama-generate", daemon=True).start()
    server.read_requests()
    return 0


if __name__ == "__main__":
    sys.exit(main())
