"""jupyter-collab on a real JupyterHub: two users, the key held by the broker service.

The hub (tests/hub/jupyterhub_config.py) runs DummyAuthenticator,
SimpleLocalProcessSpawner and configurable-http-proxy from npm
(tests/hub/node_modules, installed by .ci/setup), on ports 9000-9019. The
provider is the wire-level Anthropic server of tests/wire, which answers only
the broker's key. alice and bob log in with the password, start their servers
and use every jupyter-collab route under /user/NAME/ with their own tokens.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
import requests
import websocket

from jupyter_collab.core.context_format import context_to_jsonable
from jupyter_collab.core.context_model import Amendment, CollabContext
from tests.wire.serve import CliWireServer

pytestmark = [pytest.mark.hub, pytest.mark.slow]

HERE = Path(__file__).resolve().parent / "hub"
PROXY = HERE / "node_modules" / ".bin" / "configurable-http-proxy"
HUB = "http://127.0.0.1:9000"
WIRE_PORT = 9004
KEY = "sk-ant-hub-held-" + uuid.uuid4().hex
PASSWORD = "correct horse " + uuid.uuid4().hex[:8]
BOB_BUDGET = 40
USERS = ("alice", "bob")

ANSWER = "The baseline comes from Jones 2018, and the effect size is 0.4."
SPAN = "Jones 2018"
DRAFT = {"kind": "fact", "text": "The baseline comes from Smith 2020, not Jones 2018."}
PROBES = [
    {"prompt": "Where does the baseline come from?", "kind": "original"},
    {"prompt": "What is 2 + 2?", "kind": "should_not_change"},
]


def highlight() -> dict:
    start = ANSWER.index(SPAN)
    return {
        "answer": ANSWER,
        "prompt": "Where does the baseline come from?",
        "position": {"start": start, "end": start + len(SPAN)},
        "quote": {"exact": SPAN, "prefix": ANSWER[:start], "suffix": ANSWER[start + len(SPAN) :]},
        "cell_id": "cell-1",
        "response_id": "msg_1",
    }


@dataclass
class HubUser:
    name: str
    token: str
    session: requests.Session

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}

    def url(self, path: str, owner: str | None = None) -> str:
        return f"{HUB}/user/{owner or self.name}/{path}"

    def collab(self, method: str, route: str, owner: str | None = None, **kwargs):
        """A jupyter-collab route on ``owner``'s server (default: one's own), by token."""
        url = self.url(f"jupyter-collab/{route}", owner)
        return requests.request(
            method, url, headers=self.headers, timeout=60, allow_redirects=False, **kwargs
        )


@dataclass
class Hub:
    root: Path
    wire: CliWireServer
    users: dict[str, HubUser]

    def usage(self) -> dict:
        return json.loads((self.root / "usage.json").read_text())["users"]


def _require_proxy() -> None:
    if PROXY.exists():
        return
    reason = f"configurable-http-proxy is not installed ({PROXY}); run bash .ci/setup"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def _wait_for(what: str, check, timeout: float = 120.0, process=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"the hub exited ({process.returncode}) while waiting for {what}")
        try:
            value = check()
        except requests.ConnectionError:
            value = None
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def _log_in(name: str, process) -> HubUser:
    """Log in with the password as a browser does, then ask the hub for a token."""
    session = requests.Session()
    session.get(f"{HUB}/hub/login", timeout=30).raise_for_status()
    reply = session.post(
        f"{HUB}/hub/login",
        data={"username": name, "password": PASSWORD, "_xsrf": session.cookies["_xsrf"]},
        allow_redirects=False,
        timeout=30,
    )
    assert reply.status_code == 302, reply.text
    wrong = requests.Session()
    wrong.get(f"{HUB}/hub/login", timeout=30)
    refused = wrong.post(
        f"{HUB}/hub/login",
        data={"username": name, "password": "wrong", "_xsrf": wrong.cookies["_xsrf"]},
        allow_redirects=False,
        timeout=30,
    )
    assert refused.status_code != 302  # the password is checked
    reply = session.post(
        f"{HUB}/hub/api/users/{name}/tokens",
        json={"note": "test_hub"},
        headers={"X-XSRFToken": session.cookies["_xsrf"]},
        timeout=30,
    )
    assert reply.status_code == 201, reply.text
    user = HubUser(name, reply.json()["token"], session)
    started = requests.post(f"{HUB}/hub/api/users/{name}/server", headers=user.headers, timeout=30)
    assert started.status_code in (201, 202), started.text

    def ready() -> bool:
        model = requests.get(f"{HUB}/hub/api/users/{name}", headers=user.headers, timeout=30)
        return bool(model.json()["servers"].get("", {}).get("ready"))

    _wait_for(f"{name}'s server", ready, process=process)
    return user


@pytest.fixture(scope="module")
def hub(tmp_path_factory) -> Iterator[Hub]:
    _require_proxy()
    root = tmp_path_factory.mktemp("hub")
    key_file = root / "provider-key"
    key_file.write_text(KEY)
    key_file.chmod(0o600)
    wire = CliWireServer(WIRE_PORT, required_api_key=KEY).start()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("ANTHROPIC_", "JUPYTER_COLLAB_", "JUPYTERHUB_", "OPENAI_"))
    }
    env.update(
        COLLAB_HUB_DIR=str(root),
        COLLAB_HUB_PASSWORD=PASSWORD,
        COLLAB_HUB_BOB_BUDGET=str(BOB_BUDGET),
        COLLAB_HUB_UPSTREAM=wire.url,
    )
    log = (root / "hub.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyterhub", "-f", str(HERE / "jupyterhub_config.py")],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for(
            "the hub",
            lambda: requests.get(f"{HUB}/hub/api/", timeout=5).ok,
            process=process,
        )
        users = {name: _log_in(name, process) for name in USERS}
        yield Hub(root, wire, users)
    except BaseException:
        log.flush()
        print((root / "hub.log").read_text()[-6000:])
        raise
    finally:
        process.terminate()  # the hub stops the users' servers and the broker
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        wire.stop()
        shutil.rmtree(root / "home", ignore_errors=True)


def _put_notebook(user: HubUser, path: str, context: dict | None = None) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("# notes")]
    if context is not None:
        notebook.metadata["jupyter_collab"] = {"context": context}
    reply = requests.put(
        user.url(f"api/contents/{path}"),
        headers=user.headers,
        json={"type": "notebook", "content": notebook},
        timeout=30,
    )
    assert reply.status_code in (200, 201), reply.text


def _events(reply: requests.Response) -> list[tuple[str, dict]]:
    """The ``event:``/``data:`` pairs of a server-sent-event body."""
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/event-stream")
    events = []
    for block in reply.text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in fields:
            events.append((fields["event"], json.loads(fields["data"])))
    return events


def _ws_url(user: HubUser, path: str, owner: str | None = None) -> str:
    return user.url(path, owner).replace("http://", "ws://", 1)


def _stream_complete(user: HubUser, prompt: str) -> list[dict]:
    """One completion over the WebSocket route; the messages until its result."""
    socket = websocket.create_connection(
        _ws_url(user, "jupyter-collab/stream"),
        header=[f"Authorization: token {user.token}"],
        timeout=60,
    )
    try:
        socket.send(
            json.dumps(
                {
                    "type": "complete",
                    "id": "w1",
                    "path": "nb.ipynb",
                    "source": f"%%collab\n{prompt}",
                }
            )
        )
        messages = []
        while not messages or messages[-1]["type"] not in ("result", "error"):
            messages.append(json.loads(socket.recv()))
        return messages
    finally:
        socket.close()


def _run_in_kernel(user: HubUser, code: str) -> tuple[str, list[dict]]:
    """Run ``code`` in a new kernel of ``user``'s server: its stdout and error contents."""
    started = requests.post(
        user.url("api/kernels"), headers=user.headers, json={"name": "python3"}, timeout=60
    )
    assert started.status_code == 201, started.text
    kernel = started.json()["id"]
    socket = websocket.create_connection(
        _ws_url(user, f"api/kernels/{kernel}/channels"),
        header=[f"Authorization: token {user.token}"],
        timeout=120,
    )
    msg_id = uuid.uuid4().hex
    try:
        socket.send(
            json.dumps(
                {
                    "header": {
                        "msg_id": msg_id,
                        "msg_type": "execute_request",
                        "session": uuid.uuid4().hex,
                        "username": user.name,
                        "version": "5.3",
                    },
                    "parent_header": {},
                    "metadata": {},
                    "channel": "shell",
                    "content": {"code": code, "silent": False, "allow_stdin": False},
                }
            )
        )
        stdout, errors = [], []
        while True:
            message = json.loads(socket.recv())
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = message["msg_type"]
            if kind == "stream":
                stdout.append(message["content"]["text"])
            elif kind == "error":
                errors.append(message["content"])
            elif kind == "status" and message["content"]["execution_state"] == "idle":
                return "".join(stdout), errors
    finally:
        socket.close()
        requests.delete(user.url(f"api/kernels/{kernel}"), headers=user.headers, timeout=30)


# -- the tests ----------------------------------------------------------------------


def test_every_route_works_behind_the_user_prefix(hub: Hub):
    alice = hub.users["alice"]
    _put_notebook(alice, "nb.ipynb")

    reply = alice.collab("GET", "version")
    assert reply.status_code == 200 and reply.json()["provider"] == "anthropic"
    models = alice.collab("GET", "models")
    assert models.status_code == 200 and models.json()["key_configured"] is True
    assert KEY not in models.text and alice.token not in models.text

    reply = alice.collab("POST", "cell", json={"source": "%%collab --mode learning\nHi {x}"})
    assert reply.status_code == 200 and reply.json()["options"]["mode"] == "learning"
    item = {"id": "h", "text": ANSWER, "quote": {"exact": SPAN}}
    reply = alice.collab("POST", "anchors", json={"items": [item]})
    assert reply.status_code == 200 and reply.json()["anchors"][0]["status"] == "moved"

    context = context_to_jsonable(
        CollabContext(amendments=[Amendment(kind="process", text="Be terse.")])
    )
    reply = alice.collab(
        "PUT", "context", params={"path": "nb.ipynb"}, json={"context": context, "revision": 0}
    )
    assert reply.status_code == 200 and reply.json()["revision"] == 1, reply.text
    reply = alice.collab(
        "PATCH",
        "context",
        params={"path": "nb.ipynb"},
        json={
            "revision": 1,
            "operations": [{"op": "add_amendment", "kind": "fact", "text": "n=412"}],
        },
    )
    assert reply.status_code == 200 and reply.json()["revision"] == 2, reply.text
    reply = alice.collab("GET", "context", params={"path": "nb.ipynb"})
    assert [a["text"] for a in reply.json()["context"]["amendments"]] == ["Be terse.", "n=412"]

    # A notebook someone else wrote (unsigned): its embedded context waits for review.
    shared = nbformat.v4.new_notebook()
    shared.metadata["jupyter_collab"] = {
        "context": context_to_jsonable(
            CollabContext(amendments=[Amendment(kind="fact", text="Shared.")])
        )
    }
    nbformat.write(shared, hub.root / "home" / "alice" / "shared.ipynb")
    review = alice.collab("GET", "context", params={"path": "shared.ipynb"}).json()
    assert review["needs_review"] is True
    reply = alice.collab(
        "POST",
        "context/accept",
        params={"path": "shared.ipynb"},
        json={"revision": 0, "pending_hash": review["pending_hash"]},
    )
    assert reply.status_code == 200 and reply.json()["revision"] == 1, reply.text

    events = _events(
        alice.collab(
            "POST", "complete", json={"path": "nb.ipynb", "source": "%%collab\nHello over SSE"}
        )
    )
    assert events[-1][0] == "result" and any(kind == "delta" for kind, _ in events)
    assert "Hello over SSE" in events[-1][1]["result"]["answer"]
    messages = _stream_complete(alice, "Hello over the socket")
    assert messages[-1]["type"] == "result", messages[-1]
    assert "Hello over the socket" in messages[-1]["result"]["answer"]
    assert any(m["type"] == "delta" for m in messages)

    body = {"path": "nb.ipynb", "highlight": highlight(), "n": 2}
    reply = alice.collab("POST", "suggest", json=body)
    assert reply.status_code == 200 and reply.json()["suggestions"], reply.text
    correction = {"operation": "replace", "text": "Smith 2020"}
    reply = alice.collab(
        "POST",
        "propose",
        json={"path": "nb.ipynb", "highlight": highlight(), "correction": correction},
    )
    assert reply.status_code == 200 and reply.json()["amendments"], reply.text
    reply = alice.collab(
        "POST",
        "probes",
        json={"amendment": DRAFT, "notebook_prompts": ["Summarize."], "original_prompt": "Why?"},
    )
    assert reply.status_code == 200 and reply.json()["probes"], reply.text
    events = _events(
        alice.collab(
            "POST", "preview", json={"path": "nb.ipynb", "amendment": DRAFT, "probes": PROBES}
        )
    )
    assert events[-1][1]["event"] == "finished", events[-1]
    reply = alice.collab(
        "POST",
        "finalize",
        json={
            "path": "nb.ipynb",
            "revision": 2,
            "amendment": DRAFT,
            "highlight": highlight(),
            "correction": correction,
        },
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["context"]["revision"] == 3
    events = _events(alice.collab("POST", "check", json={"path": "nb.ipynb"}))
    assert events[-1][1]["event"] == "finished", events[-1]


def test_a_user_cannot_reach_another_users_context_or_stream(hub: Hub):
    alice, bob = hub.users["alice"], hub.users["bob"]
    _put_notebook(bob, "nb.ipynb")
    context = context_to_jsonable(CollabContext(amendments=[Amendment(kind="fact", text="Bob's.")]))
    reply = bob.collab(
        "PUT", "context", params={"path": "nb.ipynb"}, json={"context": context, "revision": 0}
    )
    assert reply.status_code == 200, reply.text

    attempts = [
        alice.collab("GET", "context", owner="bob", params={"path": "nb.ipynb"}),
        alice.collab(
            "PUT",
            "context",
            owner="bob",
            params={"path": "nb.ipynb"},
            json={"context": context, "revision": 1},
        ),
        alice.collab(
            "POST", "finalize", owner="bob", json={"path": "nb.ipynb", "amendment": DRAFT}
        ),
        alice.collab(
            "POST", "complete", owner="bob", json={"path": "nb.ipynb", "source": "%%collab\nhi"}
        ),
        alice.collab("GET", "version", owner="bob"),
    ]
    assert [r.status_code for r in attempts] == [403] * len(attempts)
    assert all("Bob's." not in r.text for r in attempts)
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(
            _ws_url(alice, "jupyter-collab/stream", owner="bob"),
            header=[f"Authorization: token {alice.token}"],
            timeout=30,
        )
    assert refused.value.status_code == 403
    # Without a token, and with alice's browser session, bob's server sends her to log in.
    anonymous = requests.get(
        alice.url("jupyter-collab/context?path=nb.ipynb", "bob"),
        allow_redirects=False,
        timeout=30,
    )
    assert anonymous.status_code in (302, 403)
    browser = alice.session.get(
        alice.url("jupyter-collab/context?path=nb.ipynb", "bob"), allow_redirects=True, timeout=30
    )
    assert browser.status_code == 403 and "Bob's." not in browser.text
    # Bob's context is as he wrote it.
    reply = bob.collab("GET", "context", params={"path": "nb.ipynb"})
    assert [a["text"] for a in reply.json()["context"]["amendments"]] == ["Bob's."]


def test_the_key_stays_in_the_broker_and_usage_is_recorded_per_user(hub: Hub):
    alice = hub.users["alice"]
    before = len(hub.wire.message_requests())
    code = "\n".join(
        [
            "import os",
            "from pathlib import Path",
            f"key = {KEY!r}",
            "server = Path(f'/proc/{os.getppid()}')",
            "server_env = (server / 'environ').read_bytes()",
            "print('server:', (server / 'cmdline').read_bytes().replace(b'\\0', b' ').decode())",
            "print('key in kernel env:', any(key in v for v in os.environ.values()))",
            "print('key in server env:', key.encode() in server_env)",
            "print('broker:', os.environ.get('JUPYTER_COLLAB_HUB_BROKER_URL'))",
            "print('anthropic env:', sorted(k for k in os.environ if k.startswith('ANTHROPIC')))",
            "get_ipython().run_line_magic('load_ext', 'jupyter_collab')",
            "get_ipython().run_line_magic('collab', 'context nb.ipynb')",
            "get_ipython().run_cell_magic('collab', '', 'Hello from the kernel')",
            "print('answered')",
        ]
    )
    stdout, errors = _run_in_kernel(alice, code)
    assert not errors, errors
    assert "key in kernel env: False" in stdout
    assert "server: " in stdout and " -m jupyterhub.singleuser" in stdout  # the kernel's parent
    assert "key in server env: False" in stdout
    assert "broker: http://127.0.0.1:9003/services/jupyter-collab" in stdout
    assert "anthropic env: []" in stdout
    assert "answered" in stdout
    kernel_call = hub.wire.message_requests()[before:]
    assert len(kernel_call) == 1
    assert "Hello from the kernel" in json.dumps(kernel_call[0].body)

    # Every call that reached the provider came with the broker's key, none
    # with a user's token, and each was counted for the user who made it.
    requests_seen = hub.wire.message_requests()
    assert requests_seen and all(r.api_key == KEY for r in requests_seen)
    usage = hub.usage()
    assert usage["alice"]["requests"] == len(requests_seen)
    assert usage["alice"]["input_tokens"] > 0 and usage["alice"]["output_tokens"] > 0
    assert {"cache_read_input_tokens", "cache_creation_input_tokens"} <= set(usage["alice"])
    assert "bob" not in usage
    reply = requests.get(f"{HUB}/services/jupyter-collab/usage", headers=alice.headers, timeout=30)
    assert reply.status_code == 200
    assert reply.json()["user"] == "alice"
    assert reply.json()["total_tokens"] == sum(
        usage["alice"][k]
        for k in (
            "input_tokens",
            "output_tokens",
            "cache_read_input_tokens",
            "cache_creation_input_tokens",
        )
    )
    # The broker refuses callers without a hub token, whatever key they bring.
    for headers in ({}, {"x-api-key": KEY}, {"x-api-key": "not-a-token"}):
        reply = requests.post(
            f"{HUB}/services/jupyter-collab/v1/messages",
            headers={**headers, "content-type": "application/json"},
            data=b"{}",
            timeout=30,
        )
        assert reply.status_code == 401
        assert reply.json()["error"]["type"] == "authentication_error"


def test_a_budget_stops_the_next_call_with_a_named_error(hub: Hub):
    bob = hub.users["bob"]
    _put_notebook(bob, "budget.ipynb")
    calls = len(hub.wire.message_requests())
    events = _events(
        bob.collab("POST", "complete", json={"path": "budget.ipynb", "source": "%%collab\nFirst"})
    )
    assert events[-1][0] == "result"
    used = hub.usage()["bob"]
    assert used["requests"] == 1
    spent = sum(v for k, v in used.items() if k.endswith("tokens"))
    assert spent > BOB_BUDGET

    reply = bob.collab("POST", "complete", json={"path": "budget.ipynb", "source": "%%collab\nNo"})
    assert reply.status_code == 502, reply.text
    message = reply.json()["message"]
    assert f"token budget of {BOB_BUDGET} tokens for hub user 'bob' is used up" in message
    assert f"{spent:,} tokens used" in message
    assert "CollabBrokerService.user_budgets['bob']" in message
    messages = _stream_complete(bob, "Nor over the socket")
    assert messages[-1]["type"] == "error"
    assert "token budget" in messages[-1]["message"]
    # The refused calls never reached the provider, and alice is not limited.
    assert len(hub.wire.message_requests()) == calls + 1
    assert hub.usage()["bob"]["requests"] == 1
    events = _events(
        hub.users["alice"].collab(
            "POST", "complete", json={"path": "nb.ipynb", "source": "%%collab\nStill fine"}
        )
    )
    assert events[-1][0] == "result"
