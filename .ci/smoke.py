"""Smoke test of the README's first command, as a new user meets it.

Starts ``jupyter lab`` on a copy of ``examples/`` with no API key in the
environment (so the embedded model answers), then, as the lab page would:

1. asks a collaborator cell of examples/citations.ipynb over the WebSocket and
   checks that an answer streams in from the embedded model;
2. SIGKILLs the model's process in the middle of a long answer and checks the
   cell gets a clear error (what happened, what to do) after the text streamed;
3. asks again and checks a fresh model process answers, and the server is up;
4. stops JupyterLab and checks no model process is left behind.

Run with the Python of the environment under test (``.ci/run`` runs it for the
editable development install and for a user's ``pip install
"jupyter-collab[local]"`` in a clean virtualenv). Exit code 0 when all holds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tornado.httpclient import AsyncHTTPClient, HTTPClientError
from tornado.websocket import websocket_connect

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from tests.local_model import is_alive, llama_workers, wait_for_worker  # noqa: E402

KEY_VARIABLES = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "OPENAI_API_KEY", "OPENAI_BASE_URL")
NOTEBOOK = "citations.ipynb"


def say(message: str) -> None:
    print(f"smoke: {message}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Lab:
    def __init__(self, root: Path, log: Path):
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.base = f"127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if k not in KEY_VARIABLES}
        env["JUPYTER_CONFIG_DIR"] = str(root.parent / "jupyter-config")  # no user config
        self.log = log.open("w")
        self.process = subprocess.Popen(
            [
                # The README's `jupyter lab`, from the environment under test.
                str(Path(sys.executable).parent / "jupyter"),
                "lab",
                str(root),
                "--no-browser",
                "--ip=127.0.0.1",
                f"--port={self.port}",
                f"--IdentityProvider.token={self.token}",
                "--LabApp.news_url=",
                "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                # CI machines run as root, which jupyter refuses without this.
                *(["--allow-root"] if os.geteuid() == 0 else []),
            ],
            env=env,
            # Not the repository: `python -m` would import jupyter_collab from the
            # source tree instead of the installation under test.
            cwd=root,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    async def get(self, path: str) -> tuple[int, bytes]:
        try:
            response = await AsyncHTTPClient().fetch(
                f"http://{self.base}/{path}", headers={"Authorization": f"token {self.token}"}
            )
        except HTTPClientError as exc:
            return exc.code, exc.response.body if exc.response else b""
        return response.code, response.body

    async def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"jupyter lab exited with {self.process.returncode}")
            try:
                code, _ = await self.get("api/status")
            except OSError:
                code = 0
            if code == 200:
                return
            await asyncio.sleep(0.5)
        raise AssertionError(f"jupyter lab did not answer within {timeout} s")

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


async def ask(ws, request_id: str, prompt: str, max_tokens: int, fault=None) -> list[dict]:
    """One collaborator cell, as the lab page sends it; ``fault()`` after 3 deltas."""
    source = f"%%collab --max-tokens {max_tokens}\n{prompt}"
    await ws.write_message(
        json.dumps({"type": "complete", "id": request_id, "path": NOTEBOOK, "source": source})
    )
    messages: list[dict] = []
    while True:
        raw = await asyncio.wait_for(ws.read_message(), timeout=300)
        assert raw is not None, "the server closed the WebSocket"
        message = json.loads(raw)
        if message.get("id") != request_id:
            continue
        messages.append(message)
        if message["type"] != "delta":
            return messages
        if fault is not None and sum(m["type"] == "delta" for m in messages) == 3:
            fault()


async def run(lab: Lab) -> None:
    await lab.wait_ready()
    say(f"jupyter lab is up on {lab.base} (no API key in its environment)")
    code, body = await lab.get("lab/api/extensions")
    assert code == 200, code
    names = [extension["name"] for extension in json.loads(body)]
    assert "jupyter-collab" in names, f"the lab extension is not installed: {names}"

    ws = await websocket_connect(f"ws://{lab.base}/jupyter-collab/stream?token={lab.token}")
    started = time.monotonic()
    messages = await ask(ws, "first", "In one sentence, what is a citation?", 48)
    final = messages[-1]
    assert final["type"] == "result", f"no answer: {final}"
    result = final["result"]
    assert result["provider"] == "local", f"answered by {result['provider']}, not the local model"
    assert result["answer"].strip(), "the answer is empty"
    deltas = sum(m["type"] == "delta" for m in messages)
    say(
        f"answer from {result['model']} in {time.monotonic() - started:.1f} s "
        f"({deltas} deltas): {result['answer'].strip()[:80]!r}"
    )

    server_pid = lab.process.pid
    worker = wait_for_worker(server_pid, timeout=5)
    messages = await ask(
        ws,
        "killed",
        "Write a long story about a dragon who learns to read.",
        400,
        fault=lambda: os.kill(worker, signal.SIGKILL),
    )
    final = messages[-1]
    streamed = "".join(m["text"] for m in messages if m["type"] == "delta")
    assert final["type"] == "error", f"expected an error after SIGKILL, got {final}"
    assert "was killed (SIGKILL" in final["message"], final["message"]
    assert "run the cell again" in final["message"], final["message"]
    assert streamed, "no text streamed before the kill"
    say(f"SIGKILL of the model process mid-answer: {final['message']!r}")

    code, _ = await lab.get("api/status")
    assert code == 200, f"the server stopped answering after the model died ({code})"
    messages = await ask(ws, "again", "Say hello.", 16)
    final = messages[-1]
    assert final["type"] == "result" and final["result"]["answer"].strip(), final
    fresh = wait_for_worker(server_pid, timeout=5)
    assert fresh != worker, "the same model process answered"
    say(f"recovered: a fresh model process (pid {fresh}) answered")
    ws.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", type=Path, default=REPO / ".ci" / "out" / "smoke-lab.log")
    args = parser.parse_args()
    args.log.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="collab-smoke-") as scratch:
        root = Path(scratch) / "examples"
        shutil.copytree(REPO / "examples", root)
        lab = Lab(root, args.log)
        try:
            asyncio.run(run(lab))
        except Exception as exc:
            say(f"FAILED: {type(exc).__name__}: {exc} (server log: {args.log})")
            lab.stop()
            return 1
        workers = llama_workers(lab.process.pid)
        code = lab.stop()
        deadline = time.monotonic() + 10
        while any(is_alive(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = [pid for pid in workers if is_alive(pid)]
        if left:
            say(f"FAILED: model processes left after JupyterLab stopped: {left}")
            return 1
        say(f"JupyterLab stopped (exit code {code}); no model process left. OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
