"""The one mapping from exceptions to HTTP (no server needed)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from tornado import web

from jupyter_collab.core.errors import (
    ConfigurationError,
    ContextFileError,
    InvalidRequestError,
    NotFoundError,
    ProviderError,
    ReplayMissError,
    StaleRevisionError,
    StructuredOutputError,
)
from jupyter_collab.server.completion_request import CompletionRequest
from jupyter_collab.server.errors import CollabHTTPError, describe_error, scrub
from jupyter_collab.server.notebook_paths import validate_notebook_path
from jupyter_collab.server.route_models import ContextPatch, ErrorReply


@pytest.mark.parametrize(
    ("error", "status", "reason"),
    [
        (InvalidRequestError("bad"), 400, "invalid_request"),
        (NotFoundError("gone"), 404, "not_found"),
        (StaleRevisionError("x.collab.json", 1, 2), 409, "stale_revision"),
        (ContextFileError("x.collab.json", "invalid JSON"), 409, "invalid_context_file"),
        (ReplayMissError("no stored answer"), 409, "replay_miss"),
        (ConfigurationError("no key"), 503, "not_configured"),
        (ProviderError("overloaded", status=529), 502, "provider_error"),
        (StructuredOutputError("probes", "{", "not JSON"), 502, "provider_error"),
        (web.HTTPError(403), 403, "forbidden"),
        (web.HTTPError(405), 405, "method_not_allowed"),
        (CollabHTTPError(429, "slow down 100%", "too_many_requests"), 429, "too_many_requests"),
        (KeyError("secret internals"), 500, "internal_error"),
    ],
)
def test_mapping(error, status, reason):
    info = describe_error(error)
    assert (info.status, info.reason) == (status, reason)
    assert ErrorReply(message=info.message, reason=info.reason).reason == reason
    assert info.message


def test_unexpected_errors_say_nothing_of_their_internals():
    info = describe_error(KeyError("secret internals"))
    assert info.unexpected
    assert "secret internals" not in info.message


def test_validation_errors_name_the_field():
    with pytest.raises(ValidationError) as caught:
        ContextPatch.model_validate({"revision": -1, "operations": []})
    message = describe_error(caught.value).message
    assert "field 'revision'" in message and "field 'operations'" in message
    with pytest.raises(ValidationError) as caught:
        CompletionRequest.model_validate({"prompt": "x", "source": "%%collab\nx"})
    assert "exactly one of 'source'" in describe_error(caught.value).message


def test_provider_messages_are_kept_and_secrets_scrubbed():
    key = "sk-ant-api03-abcdefghijklmnop"
    info = describe_error(ProviderError(f"401 invalid x-api-key {key}"))
    assert scrub(info.message, [key, None]) == "401 invalid x-api-key [secret]"
    assert scrub("short keys are left alone: abc", ["abc"]) == "short keys are left alone: abc"


def test_completion_request_takes_options_from_the_cell():
    request = CompletionRequest(
        source="%%collab --mode learning -t 0.5 --no-history\nExplain {x} to me.",
        variables={"x": "'entropy'"},
        model="claude-x",
        max_tokens=50,
    )
    completion = request.to_input()
    assert completion.prompt == "Explain 'entropy' to me."
    assert completion.mode.value == "learning"
    assert completion.temperature == 0.5
    assert completion.model == "claude-x" and completion.max_tokens == 50
    assert completion.use_history is False and completion.use_context is True


@pytest.mark.parametrize("path", ["nb.ipynb", "a/b c/d.ipynb", "ünï/cödé.ipynb"])
def test_good_paths(path):
    assert validate_notebook_path(path) == path


def test_hidden_paths_follow_the_contents_manager():
    with pytest.raises(InvalidRequestError):
        validate_notebook_path(".config/nb.ipynb")
    assert validate_notebook_path(".config/nb.ipynb", allow_hidden=True) == ".config/nb.ipynb"
    with pytest.raises(InvalidRequestError):
        validate_notebook_path("../nb.ipynb", allow_hidden=True)
    with pytest.raises(InvalidRequestError):
        validate_notebook_path("nb\u202eblm.ipynb")  # right-to-left override
