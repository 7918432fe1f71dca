"""The %%collab magic in-process: options, {var} filling, streaming, run modes, errors,
interrupts. A scripted provider stands in for the model (the wire-level runs are in
test_headless_*.py)."""

from __future__ import annotations

import _thread
import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import nbformat
import pytest
from IPython.core.interactiveshell import InteractiveShell

from jupyter_collab.core.broker import Broker
from jupyter_collab.core.config import CollabConfig
from jupyter_collab.core.context_model import Amendment, CollabContext
from jupyter_collab.core.errors import ProviderError
from jupyter_collab.core.outputs import MIME_TYPE, build_output
from jupyter_collab.core.providers.base import (
    ChatRequest,
    Provider,
    StreamEnd,
    TextDelta,
    ToolSpec,
    Usage,
)
from jupyter_collab.core.replay import RunMode
from jupyter_collab.core.store import LocalContextStore
from jupyter_collab.kernel.collab_cell import KernelDoor
from jupyter_collab.kernel.discovery import CellInfo, NotebookFinder
from jupyter_collab.kernel.errors import (
    CollabConfigError,
    CollabContextError,
    CollabProviderError,
    CollabReplayError,
    CollabUsageError,
)
from jupyter_collab.kernel.kernel_settings import KernelSettings
from jupyter_collab.kernel.magic import CollabMagics
from jupyter_collab.kernel.variables import format_value


class ScriptedProvider(Provider):
    """Streams ``answer`` in ``chunks`` deltas, ``delay`` seconds apart; can fail or hang."""

    name = "scripted"

    def __init__(self, answer="The answer is 42.", chunks=6, delay=0.0, fail_after=None):
        self.answer = answer
        self.chunks = chunks
        self.delay = delay
        self.fail_after = fail_after
        self.requests: list[ChatRequest] = []
        self.closed = threading.Event()
        self.cancelled = threading.Event()
        self.count = 0

    @property
    def default_model(self) -> str:
        return "scripted-1"

    async def stream(self, request: ChatRequest) -> AsyncIterator:
        self.requests.append(request)
        self.count += 1
        size = max(1, -(-len(self.answer) // self.chunks))
        parts = [self.answer[i : i + size] for i in range(0, len(self.answer), size)]
        try:
            for number, part in enumerate(parts):
                if self.fail_after is not None and number == self.fail_after:
                    raise ProviderError("scripted: Overloaded (overloaded_error)", status=529)
                if self.delay:
                    await asyncio.sleep(self.delay)
                yield TextDelta(part)
            yield StreamEnd(
                usage=Usage(input_tokens=10, output_tokens=5, cache_read_input_tokens=3),
                model="scripted-1",
                response_id=f"resp-{self.count}",
                stop_reason="end_turn",
            )
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        finally:
            self.closed.set()

    async def complete_structured(self, request: ChatRequest, tool: ToolSpec) -> str:
        raise NotImplementedError

    async def count_tokens(self, request: ChatRequest) -> int:
        return 1


class Recorder:
    def __init__(self):
        self.calls: list[tuple[dict, dict, str, bool]] = []

    def __call__(self, data, metadata, display_id, update):
        self.calls.append((data, metadata, display_id, update))

    @property
    def final(self) -> tuple[dict, dict]:
        data, metadata, _, _ = self.calls[-1]
        return data, metadata


def make_notebook(folder: Path, cells: list[tuple[str, str]], name="nb.ipynb") -> Path:
    nb = nbformat.v4.new_notebook()
    for cell_id, source in cells:
        cell = nbformat.v4.new_code_cell(source)
        cell["id"] = cell_id
        nb.cells.append(cell)
    path = folder / name
    nbformat.write(nb, str(path))
    return path


def make_door(tmp_path, provider, run_mode=RunMode.auto, interval=0.0, **settings):
    recorder = Recorder()
    config = CollabConfig(provider="anthropic")
    door = KernelDoor(
        KernelSettings(config=config, run_mode=run_mode, update_interval=interval, **settings),
        broker=Broker(config, provider=provider),
        finder=NotebookFinder(env={}, cwd=tmp_path),
        publish=recorder,
        warn=lambda message: None,
    )
    return door, recorder


@pytest.fixture
def shell():
    ip = InteractiveShell.instance()
    yield ip
    InteractiveShell.clear_instance()


def test_magic_streams_through_display_updates_and_fills_variables(tmp_path, shell):
    provider = ScriptedProvider(answer="one two three four five six seven eight", chunks=8)
    door, recorder = make_door(tmp_path, provider)
    shell.register_magics(CollabMagics(shell=shell, door=door))
    shell.user_ns["data"] = [1, 2, 3]
    shell.user_ns["obj"] = type("O", (), {"size": 99})()
    result = shell.run_cell("%%collab --max-tokens 50\nLook at {data}, {obj.size} and {missing}.")
    result.raise_error()

    sent = provider.requests[0]
    assert sent.messages[-1].content == "Look at [1, 2, 3], 99 and {missing}."
    assert sent.max_tokens == 50
    # One display, then updates of the same display id; the last is the full bundle.
    ids = {display_id for _, _, display_id, _ in recorder.calls}
    assert len(ids) == 1
    assert recorder.calls[0][3] is False and all(update for *_, update in recorder.calls[1:])
    assert len(recorder.calls) >= 4
    streamed = [data["text/markdown"] for data, *_ in recorder.calls[:-1]]
    assert streamed == sorted(streamed, key=len) and streamed[-1].startswith("one two")
    data, metadata = recorder.final
    assert set(data) == {MIME_TYPE, "text/markdown", "text/html"}
    payload = data[MIME_TYPE]["result"]
    assert payload["answer"] == "one two three four five six seven eight"
    assert payload["prompt"] == "Look at [1, 2, 3], 99 and {missing}."
    assert payload["usage"]["cache_read_input_tokens"] == 3
    assert metadata["jupyter_collab"]["input_hash"] == payload["input_hash"]
    assert door.last.filled == ["data", "obj.size"]


def test_display_updates_are_throttled(tmp_path):
    # An interval far longer than the stream: the first delta is shown, the other
    # 99 are held back and shown once when the stream ends, then the final bundle
    # replaces them (however slow the machine; the throttle's timing is tested on
    # a fake clock in test_kernel_display).
    provider = ScriptedProvider(answer="x" * 200, chunks=100, delay=0.002)
    door, recorder = make_door(tmp_path, provider, interval=600)
    door.run_cell("", "go", namespace={}, cell=CellInfo(code="%%collab\ngo"))
    streamed = [data["text/markdown"] for data, *_ in recorder.calls[:-1]]
    assert streamed == ["xx", "x" * 200]
    assert recorder.final[0][MIME_TYPE]["result"]["answer"] == "x" * 200


def test_value_formatting_caps_size():
    assert format_value("short") == "short"
    text = format_value("y" * 5000, max_chars=100)
    assert text.startswith("y" * 100) and "[truncated: 4900 more characters]" in text

    class Broken:
        def __str__(self):
            raise RuntimeError("nope")

    assert "str() failed" in format_value(Broken())


def test_options_and_usage_errors_raise(tmp_path, shell):
    door, _ = make_door(tmp_path, ScriptedProvider())
    with pytest.raises(CollabUsageError, match="--temperature must be between 0 and 2"):
        door.run_cell("--temperature 5", "hi", namespace={}, cell=CellInfo(code="x"))
    with pytest.raises(CollabUsageError, match="no prompt"):
        door.run_cell("", "   ", namespace={}, cell=CellInfo(code="x"))
    # In a notebook the error shows as one short line, not a traceback.
    shell.register_magics(CollabMagics(shell=shell, door=door))
    result = shell.run_cell("%%collab --bogus\nhi")
    assert isinstance(result.error_in_exec, CollabUsageError)
    assert result.error_in_exec._render_traceback_()[0].endswith(
        "%%collab: unrecognized arguments: --bogus"
    )


def _answered_notebook(tmp_path, door_answer_run, index=1):
    """A notebook on disk whose collab cell carries the answer of ``door_answer_run``."""
    nb_path = tmp_path / "nb.ipynb"
    nb = nbformat.read(str(nb_path), as_version=4)
    out = nbformat.from_dict(build_output(door_answer_run))
    nb.cells[index].outputs = [out]
    nbformat.write(nb, str(nb_path))
    return nb_path


def test_auto_reuses_replay_is_byte_identical_and_stale_replay_fails(tmp_path):
    source = "%%collab\nSummarize {n}."
    make_notebook(tmp_path, [("setup", "n = 3"), ("ask", source)])
    provider = ScriptedProvider()
    door, _ = make_door(tmp_path, provider)
    run = door.run_cell("", "Summarize {n}.", namespace={"n": 3}, cell=CellInfo(code=source))
    assert run.action == "call" and run.cell_id == "ask"
    # Save the output as nbclient would, then start a "new kernel" in replay mode.
    from jupyter_collab.core.outputs import CollabOutput

    stored = CollabOutput.model_validate(run.data[MIME_TYPE])
    _answered_notebook(tmp_path, stored)
    nb_on_disk = nbformat.read(str(tmp_path / "nb.ipynb"), as_version=4)
    disk_output = nb_on_disk.cells[1].outputs[0]

    replayer, replay_rec = make_door(tmp_path, ScriptedProvider(), run_mode=RunMode.replay)
    again = replayer.run_cell("", "Summarize {n}.", namespace={"n": 3}, cell=CellInfo(code=source))
    assert again.action == "reuse"
    assert replayer.broker.provider.count == 0
    assert replay_rec.final == (dict(disk_output["data"]), dict(disk_output["metadata"]))

    # A changed variable changes the input hash: replay refuses, auto calls.
    with pytest.raises(CollabReplayError, match="different inputs"):
        replayer.run_cell("", "Summarize {n}.", namespace={"n": 4}, cell=CellInfo(code=source))
    auto, _ = make_door(tmp_path, ScriptedProvider())
    assert auto.run_cell("", "Summarize {n}.", namespace={"n": 3}, cell=CellInfo(code=source))
    assert auto.last.action == "reuse"
    assert auto.run_cell("", "Summarize {n}.", namespace={"n": 4}, cell=CellInfo(code=source))
    assert auto.last.action == "call" and auto.broker.provider.count == 1


def test_record_always_calls_live_keeps_nothing(tmp_path):
    source = "%%collab\nhello"
    make_notebook(tmp_path, [("ask", source)])
    recorder_door, _ = make_door(tmp_path, ScriptedProvider(), run_mode=RunMode.record)
    for _ in range(2):
        recorder_door.run_cell("", "hello", namespace={}, cell=CellInfo(code=source))
    assert recorder_door.broker.provider.count == 2

    live, _ = make_door(tmp_path, ScriptedProvider(), run_mode=RunMode.live)
    live.run_cell("", "hello", namespace={}, cell=CellInfo(code=source))
    live.settings.run_mode = RunMode.auto
    live.run_cell("", "hello", namespace={}, cell=CellInfo(code=source))
    assert live.broker.provider.count == 2  # the live answer was not kept for reuse

    replay, _ = make_door(tmp_path, ScriptedProvider(), run_mode=RunMode.replay)
    with pytest.raises(CollabReplayError, match="has no stored answer"):
        replay.run_cell("", "hello", namespace={}, cell=CellInfo(code=source))


def test_history_is_the_answered_collab_cells_above(tmp_path):
    first, second, third = "%%collab\nfirst {v}", "%%collab\nsecond", "%%collab --no-history\nthird"
    make_notebook(tmp_path, [("c1", first), ("code", "v = 1"), ("c2", second), ("c3", third)])
    provider = ScriptedProvider()
    door, _ = make_door(tmp_path, provider)
    # Run out of order: c2 first (nothing above is answered yet), then c1, then c2 again.
    door.run_cell("", "second", namespace={}, cell=CellInfo(code=second))
    assert len(provider.requests[-1].messages) == 1
    door.run_cell("", "first {v}", namespace={"v": 1}, cell=CellInfo(code=first))
    door.settings.run_mode = RunMode.record
    door.run_cell("", "second", namespace={}, cell=CellInfo(code=second))
    messages = [(m.role, m.content) for m in provider.requests[-1].messages]
    assert messages[0] == ("user", "first 1")  # the stored (filled) prompt
    assert messages[1][0] == "assistant" and messages[2] == ("user", "second")
    door.run_cell("--no-history", "third", namespace={}, cell=CellInfo(code=third))
    assert len(provider.requests[-1].messages) == 1


def test_context_amendments_and_untrusted_embedded_context(tmp_path, monkeypatch):
    source = "%%collab\nq"
    nb_path = make_notebook(tmp_path, [("ask", source)])
    LocalContextStore(nb_path).save(
        CollabContext(amendments=[Amendment(kind="fact", text="The sky is green here.")])
    )
    provider = ScriptedProvider()
    door, _ = make_door(tmp_path, provider)
    door.run_cell("", "q", namespace={}, cell=CellInfo(code=source))
    assert "The sky is green here." in provider.requests[-1].system_text()
    door.run_cell("--no-context", "q", namespace={}, cell=CellInfo(code=source))
    assert "The sky is green here." not in provider.requests[-1].system_text()

    # Embedded only (sidecar deleted), not trusted: refused with instructions.
    from jupyter_collab.core.notebook import embed_context

    raw = nbformat.read(str(nb_path), as_version=4)
    embed_context(raw, LocalContextStore(nb_path).load())
    nbformat.write(raw, str(nb_path))
    LocalContextStore(nb_path).path.unlink()
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "data"))  # an empty trust database
    door, _ = make_door(tmp_path, ScriptedProvider())
    with pytest.raises(CollabContextError, match=r"jupyter trust nb\.ipynb") as info:
        door.run_cell("", "q", namespace={}, cell=CellInfo(code=source))
    assert "JUPYTER_COLLAB_TRUST_EMBEDDED=1" in str(info.value)
    assert "jupyter collab context import nb.ipynb" in str(info.value)
    trusting, _ = make_door(tmp_path, provider, trust_embedded=True)
    trusting.run_cell("", "q", namespace={}, cell=CellInfo(code=source))
    assert "The sky is green here." in provider.requests[-1].system_text()
    # `jupyter trust` (nbformat's notary) is accepted too.
    from nbformat.sign import NotebookNotary

    NotebookNotary().sign(nbformat.read(str(nb_path), as_version=4))
    signed, _ = make_door(tmp_path, provider)
    signed.run_cell("", "q", namespace={}, cell=CellInfo(code=source))
    assert "The sky is green here." in provider.requests[-1].system_text()


def test_provider_error_mid_stream_keeps_partial_output_and_raises(tmp_path, shell):
    provider = ScriptedProvider(answer="alpha beta gamma delta", chunks=4, fail_after=2)
    door, recorder = make_door(tmp_path, provider)
    with pytest.raises(CollabProviderError, match="Overloaded") as info:
        door.run_cell("", "q", namespace={}, cell=CellInfo(code="%%collab\nq"))
    assert info.value.status == 529
    assert recorder.calls, "the partial answer was shown"
    assert recorder.calls[-1][0]["text/markdown"] == "alpha beta g"  # two deltas of six
    assert MIME_TYPE not in recorder.calls[-1][0]
    assert door.last is None
    lines = info.value._render_traceback_()
    assert len(lines) == 1 and "CollabProviderError" in lines[0]


def test_keyboard_interrupt_cancels_the_stream(tmp_path):
    # 50 deltas 0.2 s apart: the answer would take 10 s; the interrupt comes at 0.5 s.
    provider = ScriptedProvider(answer="slow " * 50, chunks=50, delay=0.2)
    door, recorder = make_door(tmp_path, provider)
    timer = threading.Timer(0.5, _thread.interrupt_main)
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        door.run_cell("", "q", namespace={}, cell=CellInfo(code="%%collab\nq"))
    assert provider.cancelled.wait(10) and provider.closed.is_set()
    shown = recorder.calls[-1][0]["text/markdown"]
    assert len(shown) < len(provider.answer), "the stream ran to its end"
    assert recorder.calls  # the partial answer stays
    # The kernel keeps working after an interrupt.
    provider.delay = 0
    door.run_cell("", "again", namespace={}, cell=CellInfo(code="%%collab\nagain"))
    assert door.last.result.answer == "slow " * 50


def test_traitlets_and_environment(shell, monkeypatch):
    for name in ("JUPYTER_COLLAB_MODEL", "JUPYTER_COLLAB_MODE", "JUPYTER_COLLAB_PROVIDER"):
        monkeypatch.delenv(name, raising=False)
    shell.config.CollabMagics.model = "from-config"
    shell.config.CollabMagics.run_mode = "record"
    shell.config.CollabMagics.provider = "openai"
    magics = CollabMagics(shell=shell)
    settings = magics.settings()
    assert settings.config.model == "from-config"
    assert settings.config.provider == "openai"
    assert settings.run_mode == RunMode.record
    # An environment variable, when set, wins (headless runs switch from the command line).
    monkeypatch.setenv("JUPYTER_COLLAB_MODEL", "from-env")
    monkeypatch.setenv("JUPYTER_COLLAB_MODE", "replay")
    monkeypatch.setenv("JUPYTER_COLLAB_TRUST_EMBEDDED", "1")
    settings = magics.settings()
    assert (settings.config.model, settings.run_mode) == ("from-env", RunMode.replay)
    assert settings.trust_embedded is True
    monkeypatch.setenv("JUPYTER_COLLAB_MODE", "sometimes")
    with pytest.raises(CollabUsageError, match="JUPYTER_COLLAB_MODE='sometimes'"):
        magics.settings()


def test_line_magic_context_mode_status(tmp_path, shell, capsys):
    source = "%%collab\nhello"
    nb_path = make_notebook(tmp_path, [("ask", source)], name="picked.ipynb")
    door, _ = make_door(tmp_path / "elsewhere", ScriptedProvider())
    shell.register_magics(CollabMagics(shell=shell, door=door))
    shell.run_line_magic("collab", f"context {nb_path}")
    shell.run_line_magic("collab", "mode replay")
    shell.run_line_magic("collab", "status")
    printed = capsys.readouterr().out
    assert f"using {nb_path}" in printed
    assert "run mode: replay" in printed and f"notebook: {nb_path}" in printed
    assert door.settings.run_mode == RunMode.replay
    result = shell.run_cell("%collab frobnicate")
    assert isinstance(result.error_in_exec, CollabUsageError)
    result = shell.run_cell("%collab review")
    assert "there is no answer to review yet" in str(result.error_in_exec)


def test_review_starts_from_the_last_answer(tmp_path, shell):
    from jupyter_collab.kernel.review import controller_for_last
    from jupyter_collab.kernel.review_view import ReviewView

    source = "%%collab\nhello"
    nb_path = make_notebook(tmp_path, [("ask", source)])
    door, _ = make_door(tmp_path, ScriptedProvider())
    door.run_cell("", "hello", namespace={}, cell=CellInfo(code=source))
    controller = controller_for_last(door)
    assert controller.result.cell_id == "ask"
    assert controller.store.path == LocalContextStore(nb_path).path
    assert controller.notebook_prompts == ["hello"]
    view = ReviewView(controller)
    assert "The answer is 42." in view.answer.value
    shell.register_magics(CollabMagics(shell=shell, door=door))
    assert shell.run_cell("%collab review").success


class NoProviderBroker(Broker):
    """A machine with no key and no embedded model."""

    @property
    def provider(self):
        from jupyter_collab.core.errors import ConfigurationError

        raise ConfigurationError("No Anthropic API key is configured and no local model.")


def test_stored_answers_replay_without_any_provider(tmp_path):
    source = "%%collab\nSummarize {n}."
    make_notebook(tmp_path, [("ask", source)])
    door, _ = make_door(tmp_path, ScriptedProvider())
    run = door.run_cell("", "Summarize {n}.", namespace={"n": 3}, cell=CellInfo(code=source))
    from jupyter_collab.core.outputs import CollabOutput

    _answered_notebook(tmp_path, CollabOutput.model_validate(run.data[MIME_TYPE]), index=0)
    for mode in (RunMode.auto, RunMode.replay):
        fresh, recorder = make_door(tmp_path, None, run_mode=mode)
        fresh._broker = NoProviderBroker(CollabConfig())
        again = fresh.run_cell("", "Summarize {n}.", namespace={"n": 3}, cell=CellInfo(code=source))
        assert again.action == "reuse" and recorder.final == (run.data, run.metadata)
    # Something changed: auto needs a provider and says so; replay says the answer is stale.
    with pytest.raises(CollabConfigError, match="no local model"):
        fresh.settings.run_mode = RunMode.auto
        fresh.run_cell("", "Summarize {n}.", namespace={"n": 4}, cell=CellInfo(code=source))
    fresh.settings.run_mode = RunMode.replay
    with pytest.raises(CollabReplayError, match="different inputs"):
        fresh.run_cell("", "Summarize {n}.", namespace={"n": 4}, cell=CellInfo(code=source))


def test_an_executed_copy_carries_its_context_and_needs_trust_only_to_call(tmp_path, monkeypatch):
    """What `jupyter nbconvert --execute nb.ipynb --output copy.ipynb` leaves behind: a
    notebook with no sidecar under its name, whose collaborator output carries the context."""
    from jupyter_collab.kernel.review import controller_for_last

    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "data"))  # an empty trust database
    source = "%%collab\nSummarize {n}."
    make_notebook(tmp_path, [("ask", source)])
    sidecar = CollabContext(amendments=[Amendment(kind="fact", text="The sky is green here.")])
    LocalContextStore(tmp_path / "nb.ipynb").save(sidecar)
    door, recorder = make_door(tmp_path, ScriptedProvider())
    door.run_cell("", "Summarize {n}.", namespace={"n": 3}, cell=CellInfo(code=source))
    data, metadata = recorder.final
    assert (
        metadata["jupyter_collab"]["context"]["amendments"][0]["text"] == sidecar.amendments[0].text
    )

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    copy = make_notebook(elsewhere, [("ask", source)], name="copy.ipynb")
    nb = nbformat.read(str(copy), as_version=4)
    nb.cells[0].outputs = [nbformat.v4.new_output("display_data", data=data, metadata=metadata)]
    nbformat.write(nb, str(copy))

    for mode in (RunMode.replay, RunMode.auto):
        provider = ScriptedProvider()
        replayer, replayed = make_door(elsewhere, provider, run_mode=mode)
        run = replayer.run_cell(
            "", "Summarize {n}.", namespace={"n": 3}, cell=CellInfo(code=source)
        )
        assert run.action == "reuse" and provider.count == 0
        assert replayed.final == (data, metadata)  # byte-identical, context included
        # Reviewing asks a model with that context: refused like a call.
        with pytest.raises(CollabContextError, match=r"jupyter trust copy\.ipynb"):
            controller_for_last(replayer)

    # A changed input needs a call: the untrusted context is not sent anywhere.
    with pytest.raises(CollabContextError, match="JUPYTER_COLLAB_TRUST_EMBEDDED=1"):
        replayer.run_cell("", "Summarize {n}.", namespace={"n": 4}, cell=CellInfo(code=source))
    assert provider.count == 0
    trusting, _ = make_door(elsewhere, provider, trust_embedded=True)
    trusting.run_cell("", "Summarize {n}.", namespace={"n": 4}, cell=CellInfo(code=source))
    assert provider.count == 1
    assert "The sky is green here." in provider.requests[-1].system_text()
    assert not (elsewhere / "copy.collab.json").exists()
