"""The broker role's rules on a JupyterHub, without a hub: which endpoint a user's
server or kernel uses, how usage is read from responses, and budgets."""

from __future__ import annotations

import json

import pytest

from jupyter_collab.core.config import CollabConfig
from jupyter_collab.core.errors import ConfigurationError
from jupyter_collab.core.hub.endpoint import hub_broker, through_hub
from jupyter_collab.core.hub.ledger import BudgetExceededError, UsageLedger
from jupyter_collab.core.hub.metering import StreamMeter, usage_of_message
from jupyter_collab.core.providers.base import Usage

HUB_ENV = {
    "JUPYTERHUB_SERVICE_PREFIX": "/user/alice/",
    "JUPYTERHUB_API_TOKEN": "hub-token-alice",
    "JUPYTER_COLLAB_HUB_BROKER_URL": "http://127.0.0.1:9003/services/jupyter-collab/",
}


# -- endpoint ---------------------------------------------------------------------


def test_under_a_hub_with_a_broker_anthropic_calls_go_to_it_with_the_hub_token():
    config = through_hub(CollabConfig(), HUB_ENV)
    assert config.resolved_provider() == "anthropic"
    assert config.anthropic_base_url == "http://127.0.0.1:9003/services/jupyter-collab"
    assert config.anthropic_key() == "hub-token-alice"


def test_the_broker_is_used_only_under_a_hub_and_only_for_anthropic():
    assert hub_broker({}) is None
    outside = {k: v for k, v in HUB_ENV.items() if k != "JUPYTERHUB_SERVICE_PREFIX"}
    assert hub_broker(outside) is None
    no_broker = {k: v for k, v in HUB_ENV.items() if k != "JUPYTER_COLLAB_HUB_BROKER_URL"}
    assert through_hub(CollabConfig(), no_broker) == CollabConfig()
    local = CollabConfig(provider="local")
    assert through_hub(local, HUB_ENV) == local
    assert through_hub(CollabConfig(provider="anthropic"), HUB_ENV).anthropic_base_url


def test_a_misconfigured_broker_is_named():
    with pytest.raises(ConfigurationError, match="JUPYTERHUB_API_TOKEN is not"):
        hub_broker({**HUB_ENV, "JUPYTERHUB_API_TOKEN": ""})
    with pytest.raises(ConfigurationError, match="not an http"):
        hub_broker({**HUB_ENV, "JUPYTER_COLLAB_HUB_BROKER_URL": "127.0.0.1:9003"})


# -- metering ---------------------------------------------------------------------


def _sse(*events: dict) -> bytes:
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)


STREAM = _sse(
    {
        "type": "message_start",
        "message": {
            "id": "msg_1",
            "usage": {
                "input_tokens": 12,
                "output_tokens": 1,
                "cache_read_input_tokens": 300,
                "cache_creation_input_tokens": None,
            },
        },
    },
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "hi"}},
    {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 9}},
    {"type": "message_stop"},
)


@pytest.mark.parametrize("size", [1, 7, 64, len(STREAM)])
def test_a_streamed_answers_usage_is_read_whatever_the_chunking(size):
    meter = StreamMeter()
    for start in range(0, len(STREAM), size):
        meter.feed(STREAM[start : start + size])
    assert meter.usage == Usage(
        input_tokens=12,
        output_tokens=9,
        cache_read_input_tokens=300,
        cache_creation_input_tokens=0,
    )


def test_a_json_answers_usage_is_read():
    body = json.dumps(
        {"type": "message", "usage": {"input_tokens": 5, "output_tokens": 7}}
    ).encode()
    assert usage_of_message(body) == Usage(input_tokens=5, output_tokens=7)
    assert usage_of_message(b"not json") == Usage()


# -- ledger -----------------------------------------------------------------------


def test_usage_is_kept_per_user_and_survives_a_restart(tmp_path):
    path = tmp_path / "usage.json"
    ledger = UsageLedger(path)
    ledger.record("alice", Usage(input_tokens=10, output_tokens=5, cache_read_input_tokens=100))
    ledger.record("alice", Usage(input_tokens=1, cache_creation_input_tokens=2))
    ledger.record("bob", Usage(output_tokens=3))
    again = UsageLedger(path)
    alice = again.usage("alice")
    assert (alice.requests, alice.total_tokens) == (2, 118)
    assert alice.cache_read_input_tokens == 100 and alice.cache_creation_input_tokens == 2
    assert again.usage("bob").total_tokens == 3
    assert again.usage("carol").requests == 0


def test_a_used_up_budget_refuses_the_next_call_and_names_the_budget(tmp_path):
    ledger = UsageLedger(tmp_path / "usage.json", budget=100, user_budgets={"bob": 10, "eve": 0})
    ledger.check("alice")
    ledger.record("alice", Usage(input_tokens=99))
    ledger.check("alice")  # 99 of 100: one more call may start
    ledger.record("alice", Usage(output_tokens=30))
    with pytest.raises(BudgetExceededError) as exceeded:
        ledger.check("alice")
    assert str(exceeded.value) == (
        "The jupyter-collab token budget of 100 tokens for hub user 'alice' is used up "
        "(129 tokens used; CollabBrokerService.budget_tokens); ask the hub's administrator "
        "to raise it."
    )
    ledger.record("bob", Usage(input_tokens=10))
    with pytest.raises(BudgetExceededError, match=r"user_budgets\['bob'\]"):
        ledger.check("bob")
    ledger.record("eve", Usage(input_tokens=10_000))
    ledger.check("eve")  # 0: no limit for eve


def test_a_usage_file_that_does_not_read_is_never_started_over(tmp_path):
    path = tmp_path / "usage.json"
    path.write_text('{"users": {"alice": {"requests": "many"}}}')
    with pytest.raises(ConfigurationError, match="usage file does not validate"):
        UsageLedger(path)
    assert "many" in path.read_text()
