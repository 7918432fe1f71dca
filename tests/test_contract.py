"""The committed wire contract is what the pydantic models generate now."""

from __future__ import annotations

import json
from pathlib import Path

from jupyter_collab.server.contract import REGENERATE, SCHEMA_PATH, build_schema, main

ROOT = Path(__file__).resolve().parent.parent


def test_committed_schema_matches_the_models():
    committed = json.loads((ROOT / SCHEMA_PATH).read_text(encoding="utf-8"))
    assert committed == build_schema(), (
        f"{SCHEMA_PATH} is stale: the wire models changed. "
        f"Run `{REGENERATE}` and commit labextension/src/api/wire.schema.json and wire.ts."
    )


def test_the_context_carries_its_tombstones():
    context = build_schema()["$defs"]["CollabContext"]
    assert "removed" in context["properties"]
    assert "removed" in context["required"]  # the server always sends it


def test_requests_leave_defaults_out_and_replies_carry_every_field():
    defs = build_schema()["$defs"]
    assert "required" not in defs["CompletionRequest"]  # every field has a default
    sent = defs["CollabContextSent"]  # a PUT body may leave defaults out
    assert "required" not in sent or "removed" not in sent["required"]
    result = defs["CompletionResult"]
    assert set(result["required"]) == set(result["properties"])


def test_the_stream_messages_are_one_tagged_union():
    message = build_schema()["$defs"]["StreamMessage"]
    tags = set(message["discriminator"]["mapping"])
    assert tags == {"delta", "result", "progress", "check", "cancelled", "error"}


def test_main_writes_the_schema(tmp_path):
    target = tmp_path / "wire.schema.json"
    assert main([str(target)]) == 0
    assert json.loads(target.read_text(encoding="utf-8")) == build_schema()
