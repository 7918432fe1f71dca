"""The hub door on its own: the broker service between the official Anthropic SDK
and an upstream API, with JupyterHub's HubAuth asking a stand-in hub API whose
token is whose. (tests/test_hub.py runs it inside a real JupyterHub.)"""

from __future__ import annotations

import asyncio
import json

import anthropic
import pytest
from tornado import web
from tornado.httpserver import HTTPServer

from jupyter_collab.hub.app import CollabBrokerService

KEY = "sk-ant-held-by-the-broker"
SERVICE = "jupyter-collab"
PREFIX = f"/services/{SERVICE}/"
# Ports of this test (the project's tests on this machine keep to 9000-9019).
HUB_PORT, UPSTREAM_PORT, BROKER_PORT = 9005, 9006, 9007
TOKENS = {
    "tok-alice": {
        "kind": "user",
        "name": "alice",
        "scopes": [f"access:services!service={SERVICE}"],
    },
    "tok-bob": {"kind": "user", "name": "bob", "scopes": [f"access:services!service={SERVICE}"]},
    "tok-noscope": {"kind": "user", "name": "carol", "scopes": ["read:users!user=carol"]},
    "tok-service": {
        "kind": "service",
        "name": "other",
        "scopes": [f"access:services!service={SERVICE}"],
    },
}


class CountTokens(web.RequestHandler):
    def post(self) -> None:
        if self.request.headers.get("x-api-key") != KEY:
            raise web.HTTPError(401)
        self.finish({"input_tokens": 42})


class HubUserAPI(web.RequestHandler):
    """``GET /hub/api/user``: the hub's answer to "whose token is this"."""

    def get(self) -> None:
        token = self.request.headers.get("Authorization", "").removeprefix("token ")
        if token not in TOKENS:
            raise web.HTTPError(403)
        self.finish(TOKENS[token])


class Upstream(web.RequestHandler):
    """The Anthropic API: checks the key, streams an answer in three parts and
    holds the rest until the test opens ``gate``."""

    gate: asyncio.Event
    seen: list[dict]

    async def post(self) -> None:
        self.seen.append(dict(self.request.headers))
        if self.request.headers.get("x-api-key") != KEY:
            self.set_status(401)
            self.finish({"type": "error", "error": {"type": "authentication_error"}})
            return
        body = json.loads(self.request.body)
        if not body.get("stream"):
            self.finish(
                {
                    "id": "msg_1",
                    "type": "message",
                    "role": "assistant",
                    "model": body["model"],
                    "content": [{"type": "text", "text": "whole"}],
                    "stop_reason": "end_turn",
                    "usage": {"input_tokens": 7, "output_tokens": 3},
                }
            )
            return
        self.set_header("Content-Type", "text/event-stream")
        start = {
            "type": "message_start",
            "message": {
                "id": "msg_2",
                "type": "message",
                "role": "assistant",
                "model": body["model"],
                "content": [],
                "usage": {
                    "input_tokens": 11,
                    "output_tokens": 1,
                    "cache_read_input_tokens": 500,
                    "cache_creation_input_tokens": 20,
                },
            },
        }
        self._event(start)
        self._event(
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            }
        )
        self._event(
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": "first "},
            }
        )
        await self.flush()
        if body["model"] == "drop":
            self.request.connection.close()  # the connection dies mid-answer
            return
        await self.gate.wait()
        self._event(
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": "second"},
            }
        )
        self._event({"type": "content_block_stop", "index": 0})
        self._event(
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn"},
                "usage": {"output_tokens": 6},
            }
        )
        self._event({"type": "message_stop"})
        self.finish()

    def _event(self, event: dict) -> None:
        self.write(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n")


@pytest.fixture
async def broker(tmp_path, monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_API_URL", f"http://127.0.0.1:{HUB_PORT}/hub/api")
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "broker-own-token")
    monkeypatch.setenv("JUPYTERHUB_SERVICE_NAME", SERVICE)
    monkeypatch.delenv("JUPYTERHUB_OAUTH_ACCESS_SCOPES", raising=False)
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    gate = asyncio.Event()
    seen: list[dict] = []
    upstream = type("Up", (Upstream,), {"gate": gate, "seen": seen})
    service = CollabBrokerService(
        usage_file=str(tmp_path / "usage.json"),
        upstream_url=f"http://127.0.0.1:{UPSTREAM_PORT}",
        user_budgets={"bob": 10},
    )
    servers = []
    for port, app in (
        (HUB_PORT, web.Application([("/hub/api/user", HubUserAPI)])),
        (
            UPSTREAM_PORT,
            web.Application(
                [("/v1/messages", upstream), ("/v1/messages/count_tokens", CountTokens)]
            ),
        ),
        (BROKER_PORT, service.web_app(PREFIX)),
    ):
        server = HTTPServer(app)
        server.listen(port, "127.0.0.1")
        servers.append(server)
    try:
        yield gate, seen, tmp_path / "usage.json"
    finally:
        for server in servers:
            server.stop()


def client(token: str) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(
        api_key=token, base_url=f"http://127.0.0.1:{BROKER_PORT}{PREFIX}", max_retries=0
    )


async def test_a_streamed_answer_passes_through_as_it_comes_and_is_metered(broker):
    gate, seen, usage_file = broker
    sdk = client("tok-alice")

    async def first_delta():
        stream = await sdk.messages.create(
            model="claude-test",
            max_tokens=50,
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
        )
        events = stream.__aiter__()
        async for event in events:
            if event.type == "content_block_delta":
                return event, events
        raise AssertionError("the stream ended without a delta")

    # The first delta arrives while upstream still holds the rest of the answer
    # (a broker that buffered the answer would never send it: the wait fails).
    event, events = await asyncio.wait_for(first_delta(), timeout=30)
    assert event.delta.text == "first "
    assert not gate.is_set()
    gate.set()
    rest = [event async for event in events]
    assert [e.delta.text for e in rest if e.type == "content_block_delta"] == ["second"]
    await sdk.close()

    # Upstream saw the broker's key, never alice's token.
    assert seen[-1]["X-Api-Key"] == KEY
    assert "tok-alice" not in json.dumps(seen)
    alice = json.loads(usage_file.read_text())["users"]["alice"]
    assert alice["requests"] == 1
    assert (alice["input_tokens"], alice["output_tokens"]) == (11, 6)
    assert alice["cache_read_input_tokens"] == 500
    assert alice["cache_creation_input_tokens"] == 20


async def test_a_json_answer_is_metered_and_the_budget_stops_the_next_call(broker):
    _, _, usage_file = broker
    sdk = client("tok-bob")
    message = await sdk.messages.create(
        model="claude-test", max_tokens=50, messages=[{"role": "user", "content": "hi"}]
    )
    assert message.content[0].text == "whole"
    assert json.loads(usage_file.read_text())["users"]["bob"]["output_tokens"] == 3
    with pytest.raises(anthropic.APIStatusError) as refused:
        await sdk.messages.create(
            model="claude-test", max_tokens=50, messages=[{"role": "user", "content": "again"}]
        )
    assert refused.value.status_code == 402
    assert refused.value.body["error"]["type"] == "billing_error"
    assert "token budget of 10 tokens for hub user 'bob' is used up (10 tokens used" in str(
        refused.value
    )
    await sdk.close()


@pytest.mark.parametrize(
    ("token", "status", "says"),
    [
        ("not-a-token", 401, "does not recognise this token"),
        ("tok-noscope", 403, f"does not grant access:services!service={SERVICE}"),
        ("tok-service", 403, "is a service"),
    ],
)
async def test_callers_without_a_users_token_for_this_service_are_refused(
    broker, token, status, says
):
    _, seen, usage_file = broker
    sdk = client(token)
    with pytest.raises(anthropic.APIStatusError) as refused:
        await sdk.messages.create(
            model="claude-test", max_tokens=5, messages=[{"role": "user", "content": "hi"}]
        )
    assert refused.value.status_code == status
    assert says in str(refused.value)
    assert seen == [] and not usage_file.exists()
    await sdk.close()


async def test_counting_tokens_is_forwarded_and_costs_nothing(broker):
    _, _, usage_file = broker
    sdk = client("tok-alice")
    counted = await sdk.messages.count_tokens(
        model="claude-test", messages=[{"role": "user", "content": "hi"}]
    )
    assert counted.input_tokens == 42
    assert not usage_file.exists()
    await sdk.close()


async def test_an_answer_cut_upstream_is_cut_for_the_caller_and_what_it_used_is_recorded(broker):
    _, _, usage_file = broker
    sdk = client("tok-alice")
    stream = await sdk.messages.create(
        model="drop", max_tokens=50, messages=[{"role": "user", "content": "hi"}], stream=True
    )
    kinds = []
    with pytest.raises(anthropic.APIConnectionError):
        async for event in stream:
            kinds.append(event.type)
    assert "message_stop" not in kinds
    await sdk.close()
    alice = json.loads(usage_file.read_text())["users"]["alice"]
    assert (alice["requests"], alice["input_tokens"], alice["cache_read_input_tokens"]) == (
        1,
        11,
        500,
    )
