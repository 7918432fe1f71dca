"""Options the model-calling commands share (``preview``, ``check``, ``context show
--layers --contradictions``): which provider and model, sampling and fan-out, and
where answers are kept between runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..core.config import CollabConfig, cache_dir


def add_provider_options(parser: argparse.ArgumentParser, ops_help: str) -> argparse._ArgumentGroup:
    """Which provider and models a command calls (every model-calling command)."""
    model = parser.add_argument_group("model")
    model.add_argument(
        "--provider",
        choices=["auto", "anthropic", "local", "openai"],
        default="auto",
        help="auto: Anthropic when ANTHROPIC_API_KEY is set, else the embedded model",
    )
    model.add_argument("--model", help="model for the answers")
    model.add_argument("--ops-model", help=ops_help)
    model.add_argument("--local-model", metavar="GGUF", help="a GGUF file for the local model")
    model.add_argument("--openai-base-url", metavar="URL", help="an OpenAI-compatible endpoint")
    return model


def add_model_options(parser: argparse.ArgumentParser, concurrency_help: str) -> None:
    """The provider options and those of commands that fan answers out (sampling,
    concurrency)."""
    model = add_provider_options(parser, "model for probe generation and judging")
    model.add_argument("--max-tokens", type=int, help="answer length limit per probe")
    model.add_argument("--temperature", type=float, help="preview temperature (default 0)")
    model.add_argument("--concurrency", type=int, help=concurrency_help)
    model.add_argument(
        "--noise-samples",
        type=int,
        metavar="N",
        help="extra baseline samples per probe whose answers differ, to measure how much "
        "answers vary by sampling alone (1-4, default 1)",
    )


def build_config(
    args: argparse.Namespace, concurrency_field: str = "preview_concurrency"
) -> CollabConfig:
    # A command with only the provider options has no sampling or fan-out ones.
    values = {
        "provider": args.provider,
        "model": args.model,
        "ops_model": args.ops_model,
        "max_tokens": getattr(args, "max_tokens", None),
        "preview_temperature": getattr(args, "temperature", None),
        concurrency_field: getattr(args, "concurrency", None),
        "preview_noise_samples": getattr(args, "noise_samples", None),
        "local_model_path": args.local_model,
        "openai_base_url": args.openai_base_url,
    }
    return CollabConfig(**{k: v for k, v in values.items() if v is not None})


def cache_path() -> Path:
    """Where baseline answers are kept between runs, keyed by input hash."""
    return cache_dir() / "preview-baselines.json"
