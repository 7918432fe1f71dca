"""R11: cancel or interrupt closes the upstream request, in both doors.

"Closed" is what the wire-level model server sees: the moment it notices the
client went away (its socket closed while it was streaming or waiting to send
the first token). The replies last 20 s or more and a disconnect counts only
while one is being sent, so seeing it proves the request was closed early,
however slow the machine; how early is a benchmark figure (``cancel_close_ms``
in ``benchmarks/bench_cancel.py``), not measured here. Server door: WebSocket
cancel, closing the socket (a tab closed), an SSE client disconnecting, a preview
cancelled with several probes in flight, a cancel during a retry's back-off.
Kernel door: an interrupt in process, and a real kernel interrupted with
``KernelManager.interrupt_kernel``.
"""

from __future__ import annotations

import _thread
import asyncio
import os
import threading
import time
from pathlib import Path

import pytest

from tests.reliability.helpers import post_raw_complete, ws_send, ws_until
from tests.wire.anthropic_server import FAKE_API_KEY, Reply

REPO = Path(__file__).resolve().parents[2]
SLOW = Reply.text(" ".join(["word"] * 400), delta_delay=0.05)  # 20 s unless closed


class Disconnects:
    """Timestamps of the wire server noticing a client leave."""

    def __init__(self, server) -> None:
        self.times: list[float] = []
        original = server._note_disconnect

        def note() -> None:
            self.times.append(time.monotonic())
            original()

        server._note_disconnect = note

    async def after(self, start: float, count: int = 1, timeout: float = 15.0) -> None:
        """Wait until ``count`` upstream requests closed after ``start`` (while their
        20 s replies were being sent, so early)."""
        deadline = time.monotonic() + timeout

        def seen() -> list[float]:
            return [t for t in self.times if t >= start]

        while len(seen()) < count and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.005)
        assert len(seen()) >= count, f"{len(seen())} of {count} upstream requests closed"


async def upstream_streaming(server, count: int = 1) -> None:
    for _ in range(1000):
        if len(server.message_requests()) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the upstream request never started")


@pytest.fixture
def disconnects(anthropic_env):
    return Disconnects(anthropic_env)


async def test_r11_server_door_cancels_close_upstream(
    jp_ws_fetch, make_notebook, anthropic_env, disconnects, figures
):
    make_notebook("nb.ipynb")
    outcomes: list[str] = []

    # 1. Cancel a streaming completion.
    anthropic_env.script(SLOW)
    ws = await jp_ws_fetch("jupyter-collab", "stream")
    await ws_send(ws, {"type": "complete", "id": "a", "path": "nb.ipynb", "prompt": "go"})
    await ws_until(ws, "a", "delta")
    cancelled = time.monotonic()
    await ws_send(ws, {"type": "cancel", "id": "a"})
    assert (await ws_until(ws, "a", "cancelled", "result", "error"))[-1]["type"] == "cancelled"
    await disconnects.after(cancelled)
    outcomes.append("WebSocket cancel")

    # 2. Cancel while waiting for the first token.
    anthropic_env.script(Reply.text("late", first_token_delay=30))
    await ws_send(ws, {"type": "complete", "id": "b", "path": "nb.ipynb", "prompt": "go"})
    await upstream_streaming(anthropic_env, 2)
    await asyncio.sleep(0.2)
    cancelled = time.monotonic()
    await ws_send(ws, {"type": "cancel", "id": "b"})
    await disconnects.after(cancelled)
    outcomes.append("cancel before the first token")

    # 3. Close the socket (the tab closed) while two completions stream.
    anthropic_env.script(SLOW, SLOW)
    for request_id in ("c", "d"):
        await ws_send(
            ws, {"type": "complete", "id": request_id, "path": "nb.ipynb", "prompt": "go"}
        )
        await ws_until(ws, request_id, "delta")
    closed = time.monotonic()
    ws.close()
    await disconnects.after(closed, 2)
    outcomes.append("socket closed (2 streams)")

    # 4. A preview with three probes in flight, cancelled.
    anthropic_env.clear()
    anthropic_env.responder = lambda body: SLOW
    ws = await jp_ws_fetch("jupyter-collab", "stream")
    probes = [{"prompt": f"probe {i}", "kind": "user"} for i in range(3)]
    await ws_send(
        ws,
        {
            "type": "preview",
            "id": "p",
            "path": "nb.ipynb",
            "amendment": {"kind": "fact", "text": "A."},
            "probes": probes,
        },
    )
    await upstream_streaming(anthropic_env, 2)
    await asyncio.sleep(0.2)
    open_requests = len(anthropic_env.message_requests())
    cancelled = time.monotonic()
    await ws_send(ws, {"type": "cancel", "id": "p"})
    finished = (await ws_until(ws, "p", "error", "progress"))[-1]
    while not (finished["type"] == "progress" and finished.get("event") == "finished"):
        finished = (await ws_until(ws, "p", "error", "progress"))[-1]
    assert finished["report"]["cancelled"] is True
    await disconnects.after(cancelled, open_requests)
    outcomes.append(f"preview cancel ({open_requests} calls)")
    anthropic_env.responder = None
    ws.close()

    # 5. Cancel during a retry's back-off (429, retry-after 60 s, longer than the wait
    # for the acknowledgement): acknowledged at once, and no new request.
    anthropic_env.clear()
    anthropic_env.script(Reply.error(429, retry_after="60"), Reply.text("too late"))
    ws = await jp_ws_fetch("jupyter-collab", "stream")
    await ws_send(ws, {"type": "complete", "id": "r", "path": "nb.ipynb", "prompt": "go"})
    await upstream_streaming(anthropic_env, 1)
    await asyncio.sleep(0.2)
    await ws_send(ws, {"type": "cancel", "id": "r"})
    assert (await ws_until(ws, "r", "cancelled", "result", "error"))[-1]["type"] == "cancelled"
    await asyncio.sleep(0.5)
    assert len(anthropic_env.message_requests()) == 1  # the retry was never sent
    outcomes.append("cancel during a retry's back-off (no retry sent)")
    ws.close()
    figures.add(
        "R11",
        "server door, each closed the upstream request early: " + ", ".join(outcomes),
    )


async def test_r11_sse_disconnect_closes_upstream(
    http_server,
    jp_http_port,
    jp_base_url,
    jp_auth_header,
    make_notebook,
    anthropic_env,
    disconnects,
    figures,
):
    make_notebook("nb.ipynb")
    anthropic_env.script(SLOW)
    reader, writer = await post_raw_complete(
        jp_http_port, jp_base_url, jp_auth_header, {"path": "nb.ipynb", "prompt": "go"}
    )
    received = b""
    while b"event: delta" not in received:
        received += await asyncio.wait_for(reader.read(1024), timeout=20)
    closed = time.monotonic()
    writer.close()
    await disconnects.after(closed)
    figures.add("R11", "SSE disconnect closed it")


# -- the kernel door ------------------------------------------------------------------


def test_r11_kernel_door_interrupt_in_process(tmp_path, anthropic_env, figures):
    door_mod = pytest.importorskip("jupyter_collab.kernel.collab_cell")
    settings_mod = pytest.importorskip("jupyter_collab.kernel.kernel_settings")
    from jupyter_collab.core.config import CollabConfig
    from jupyter_collab.core.replay import RunMode
    from jupyter_collab.kernel.discovery import CellInfo, NotebookFinder

    disconnects = Disconnects(anthropic_env)
    door = door_mod.KernelDoor(
        settings_mod.KernelSettings(
            config=CollabConfig(provider="anthropic", anthropic_base_url=anthropic_env.url),
            run_mode=RunMode.live,
            update_interval=0.0,
        ),
        finder=NotebookFinder(env={}, cwd=tmp_path),
        publish=lambda *args: None,
        warn=lambda message: None,
    )
    anthropic_env.script(SLOW)
    interrupted: list[float] = []

    def interrupt_when_streaming() -> None:
        for _ in range(1000):
            if anthropic_env.message_requests():
                break
            time.sleep(0.01)
        time.sleep(0.3)
        interrupted.append(time.monotonic())
        _thread.interrupt_main()

    threading.Thread(target=interrupt_when_streaming, daemon=True).start()
    try:
        with pytest.raises(KeyboardInterrupt):
            door.run_cell("", "go", namespace={}, cell=CellInfo(code="%%collab\ngo"))
        asyncio.run(disconnects.after(interrupted[0]))
        # The door keeps working after an interrupt.
        anthropic_env.script(Reply.text("fine"))
        run = door.run_cell("", "again", namespace={}, cell=CellInfo(code="%%collab\nagain"))
        assert run.result.answer == "fine"
    finally:
        door.close()
    figures.add("R11", "kernel door (in process) interrupt closed it, door usable after")


@pytest.mark.timeout(120)
def test_r11_real_kernel_interrupt(tmp_path, anthropic_env, figures):
    pytest.importorskip("jupyter_collab.kernel.magic")
    from jupyter_client.manager import KernelManager

    disconnects = Disconnects(anthropic_env)
    env = {
        **os.environ,
        "ANTHROPIC_API_KEY": FAKE_API_KEY,
        "ANTHROPIC_BASE_URL": anthropic_env.url,
        "JUPYTER_COLLAB_PROVIDER": "anthropic",
        "JUPYTER_COLLAB_MODE": "live",
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    for name in ("JUPYTER_COLLAB_NOTEBOOK", "JUPYTER_COLLAB_TRUST_EMBEDDED"):
        env.pop(name, None)
    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(env=env, cwd=str(tmp_path))
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=60)
        reply = client.execute_interactive("%load_ext jupyter_collab", timeout=60)
        assert reply["content"]["status"] == "ok", reply["content"]
        anthropic_env.script(SLOW)
        msg_id = client.execute("%%collab\nWrite a long answer.")
        for _ in range(3000):  # until the answer streams
            if anthropic_env.message_requests():
                break
            time.sleep(0.01)
        assert anthropic_env.message_requests(), "the kernel never called the model"
        time.sleep(0.3)
        interrupted = time.monotonic()
        manager.interrupt_kernel()
        asyncio.run(disconnects.after(interrupted, timeout=10))
        while True:  # the cell ends with KeyboardInterrupt, and the kernel lives on
            message = client.get_shell_msg(timeout=30)
            if message["parent_header"].get("msg_id") == msg_id:
                break
        assert message["content"]["status"] == "error"
        assert message["content"]["ename"] == "KeyboardInterrupt"
        # ipykernel aborts requests that arrive right after an error (stop_on_error),
        # so ask again until one runs: the kernel must live on.
        for _ in range(10):
            reply = client.execute_interactive("1 + 1", timeout=30)
            if reply["content"]["status"] != "aborted":
                break
            time.sleep(0.3)
        assert reply["content"]["status"] == "ok"
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    figures.add("R11", "real kernel interrupt_kernel() closed it, kernel alive after")
