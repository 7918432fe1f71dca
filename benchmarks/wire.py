"""The wire-level Anthropic server (from ``tests/wire``) and a notebook folder to serve.

The server runs in this (the benchmark) process, on 127.0.0.1; the jupyter server
subprocess reaches it through ``ANTHROPIC_BASE_URL`` and a fake key, exactly as a
user's server reaches the real API.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.wire.anthropic_server import FAKE_API_KEY, AnthropicWireServer, Reply, message_text

from .common import OUT

__all__ = [
    "FAKE_API_KEY",
    "AnthropicWireServer",
    "Reply",
    "anthropic_env",
    "message_text",
    "notebook_folder",
    "small_context",
]


def anthropic_env(wire: AnthropicWireServer) -> dict[str, str]:
    return {"ANTHROPIC_API_KEY": FAKE_API_KEY, "ANTHROPIC_BASE_URL": wire.url}


def small_context(n: int = 30):
    """A typical notebook context: ``n`` short amendments (facts and process rules)."""
    from jupyter_collab.core.context_model import Amendment, CollabContext

    amendments = []
    for i in range(n):
        if i % 3 == 2:
            text = (
                f"Process rule {i}: before writing a report, ask one clarifying question "
                "about the audience and the decision it supports; keep answers under 200 words."
            )
            amendments.append(Amendment(kind="process", text=text))
        else:
            text = (
                f"Fact {i}: yields of run {i} are reported in grams per litre (g/L), measured "
                f"after 72 h at 30 °C; sample {i} was re-assayed on 2026-03-{1 + i % 28:02d}."
            )
            amendments.append(Amendment(kind="fact", text=text))
    return CollabContext(revision=1, amendments=amendments)


def empty_notebook() -> dict:
    return {
        "cells": [],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def notebook_folder(name: str, context=None) -> Path:
    """A fresh folder holding ``nb.ipynb`` and (optionally) its sidecar context."""
    from jupyter_collab.core.context_format import serialize_context

    folder = OUT / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    (folder / "nb.ipynb").write_text(json.dumps(empty_notebook()))
    if context is not None:
        (folder / "nb.collab.json").write_text(serialize_context(context))
    return folder
