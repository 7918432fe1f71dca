"""R12: the embedded model's process crashes, hangs or is killed mid-answer.

The real SmolLM2 runs in a worker process of the server (or of the kernel).
Each fault is played on that process from outside, as the operating system
would: SIGSEGV (native crash), SIGKILL (the out-of-memory killer), SIGSTOP (a
hang, caught by the stall watchdog). Each time the request fails with an error
that says what happened and what to do, the text already streamed is kept, the
server (or kernel) keeps working, and the next request starts a fresh process.
A kernel interrupt (SIGINT to the kernel's process group) does not reach the model.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time

import pytest
from jupyter_client.manager import start_new_kernel

from tests.local_model import is_alive, llama_workers, require_local_model, wait_for_worker
from tests.reliability.helpers import ws_send, ws_until

pytestmark = [pytest.mark.local_model, pytest.mark.slow]

LONG_PROMPT = "Write a long story about a dragon who learns to read, in many paragraphs."
STALL_TIMEOUT = 15.0  # generous: prompt processing on a busy 2-core machine takes seconds


@pytest.fixture
def collab_extension_config():
    require_local_model()
    return {"provider": "local", "max_tokens": 600, "local_stall_timeout": STALL_TIMEOUT}


async def _ask(ws, request_id: str, prompt: str, *, max_tokens: int, fault=None):
    """One completion over the WebSocket; ``fault(worker_pid)`` is played after 3 deltas."""
    await ws_send(
        ws,
        {"type": "complete", "id": request_id, "prompt": prompt, "max_tokens": max_tokens},
    )
    messages = []
    pid = None
    while True:
        batch = await ws_until(ws, request_id, "delta", "result", "error", timeout=120)
        message = batch[-1]
        messages.append(message)
        if message["type"] != "delta":
            return messages, pid
        deltas = sum(m["type"] == "delta" for m in messages)
        if fault is not None and deltas == 3:
            pid = wait_for_worker(os.getpid(), timeout=5)
            fault(pid)


@pytest.mark.timeout(600)
async def test_r12_server_survives_model_process_faults(jp_ws_fetch, jp_fetch, figures):
    ws = await jp_ws_fetch("jupyter-collab", "stream")
    messages, _ = await _ask(ws, "warm", "Say hello.", max_tokens=8)
    assert messages[-1]["type"] == "result", messages[-1]
    faults = [
        ("SIGSEGV", lambda pid: os.kill(pid, signal.SIGSEGV), "crashed (SIGSEGV)"),
        ("SIGKILL", lambda pid: os.kill(pid, signal.SIGKILL), "was killed (SIGKILL"),
        ("hang", lambda pid: os.kill(pid, signal.SIGSTOP), "stopped responding"),
    ]
    seen = []
    for name, fault, words in faults:
        started = time.monotonic()
        messages, pid = await _ask(ws, name, LONG_PROMPT, max_tokens=600, fault=fault)
        final = messages[-1]
        deltas = [m["text"] for m in messages if m["type"] == "delta"]
        assert final["type"] == "error", (name, final)
        assert final["status"] == 502 and final["reason"] == "provider_error", final
        assert words in final["message"], (name, final["message"])
        assert "run the cell again" in final["message"], final["message"]
        assert "Traceback" not in final["message"]
        assert len(deltas) >= 3, (name, deltas)  # streamed text reached the client first
        for _ in range(100):  # the watchdog reaps a hung process with SIGKILL
            if not is_alive(pid):
                break
            await asyncio.sleep(0.1)
        assert not is_alive(pid), f"{name}: the old model process is still there"
        # The server still answers other requests...
        response = await jp_fetch("api", "status")
        assert response.code == 200
        # ...and the next completion starts a fresh model process.
        messages, _ = await _ask(ws, f"{name}-after", "Say hello.", max_tokens=8)
        assert messages[-1]["type"] == "result", (name, messages[-1])
        assert messages[-1]["result"]["answer"].strip()
        fresh = llama_workers(os.getpid())
        assert fresh and pid not in fresh, (name, pid, fresh)
        seen.append(f"{name} after {len(deltas)} deltas ({time.monotonic() - started:.1f} s)")
    ws.close()
    figures.add(
        "R12",
        "server door: " + ", ".join(seen) + ": clear errors, partial text kept, "
        "server up, next answer from a fresh process",
    )


def _execute(client, code: str, timeout: float = 180) -> tuple[dict, list[dict]]:
    msg_id = client.execute(code, stop_on_error=False)
    outputs = []
    while True:
        message = client.get_iopub_msg(timeout=timeout)
        if message["parent_header"].get("msg_id") != msg_id:
            continue
        kind = message["msg_type"]
        if kind in ("display_data", "update_display_data", "stream", "error"):
            outputs.append({"type": kind, **message["content"]})
        elif kind == "status" and message["content"]["execution_state"] == "idle":
            break
    reply = client.get_shell_msg(timeout=timeout)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = client.get_shell_msg(timeout=timeout)
    return reply["content"], outputs


def _shown_text(outputs: list[dict]) -> str:
    shown = [o for o in outputs if o["type"] in ("display_data", "update_display_data")]
    return shown[-1]["data"].get("text/markdown", "") if shown else ""


@pytest.mark.timeout(600)
def test_r12_kernel_survives_model_process_faults(tmp_path, figures):
    require_local_model()
    env = {
        **os.environ,
        "JUPYTER_COLLAB_PROVIDER": "local",
        "JUPYTER_COLLAB_MODE": "live",
        "PYTHONPATH": os.pathsep.join(sys.path),
    }
    env.pop("ANTHROPIC_API_KEY", None)
    manager, client = start_new_kernel(kernel_name="python3", cwd=str(tmp_path), env=env)
    try:
        kernel_pid = manager.provisioner.process.pid
        reply, _ = _execute(client, "%load_ext jupyter_collab")
        assert reply["status"] == "ok", reply
        reply, outputs = _execute(client, "%%collab --max-tokens 8\nSay hello.")
        assert reply["status"] == "ok", (reply, outputs)
        first = wait_for_worker(kernel_pid, timeout=5)

        # A kernel interrupt signals the kernel's process group: the model is not in it.
        manager.interrupt_kernel()
        time.sleep(0.5)
        assert is_alive(first), "a kernel interrupt killed the model process"

        # SIGSEGV in the middle of an answer: a clear error in the cell, partial text kept.
        msg_id = client.execute(f"%%collab --max-tokens 600\n{LONG_PROMPT}", stop_on_error=False)
        outputs = []
        crashed = False
        while True:
            message = client.get_iopub_msg(timeout=180)
            if message["parent_header"].get("msg_id") != msg_id:
                continue
            kind = message["msg_type"]
            if kind in ("display_data", "update_display_data", "error"):
                outputs.append({"type": kind, **message["content"]})
            if kind == "update_display_data" and not crashed and len(outputs) >= 3:
                os.kill(first, signal.SIGSEGV)
                crashed = True
            if kind == "status" and message["content"]["execution_state"] == "idle":
                break
        errors = [o for o in outputs if o["type"] == "error"]
        assert crashed and errors, outputs
        assert "crashed (SIGSEGV)" in errors[0]["evalue"], errors[0]
        assert _shown_text(outputs).strip(), "the partial answer was not kept"

        # The kernel is alive and keeps its state; the next cell gets a fresh model.
        reply, outputs = _execute(client, "x = 41\nprint(x + 1)")
        assert reply["status"] == "ok"
        assert any(o.get("text", "").strip() == "42" for o in outputs), outputs
        reply, outputs = _execute(client, "%%collab --max-tokens 8\nSay hello.")
        assert reply["status"] == "ok", (reply, outputs)
        assert _shown_text(outputs).strip()
        second = wait_for_worker(kernel_pid, timeout=5)
        assert second != first and not is_alive(first)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    # The kernel's model process goes with the kernel (its stdin closes).
    deadline = time.monotonic() + 10
    while is_alive(second) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not is_alive(second), "the model process outlived its kernel"
    figures.add(
        "R12",
        "kernel door: interrupt spared the model; SIGSEGV mid-answer -> clear cell error, "
        "partial answer kept, kernel state intact, fresh process next cell, "
        "no orphan after shutdown",
    )
