"""A provider that only names a provider and a model: for work that must not call
one (replaying recorded answers, recomputing the input hash of a stored answer)."""

from __future__ import annotations

from typing import Any

from ..errors import ConfigurationError
from .base import Provider


class RecordedProvider(Provider):
    """Names the provider and model recorded answers came from; refuses every call."""

    def __init__(self, name: str, model: str):
        self.name = name
        self._model = model

    @property
    def default_model(self) -> str:
        return self._model

    def stream(self, request: Any) -> Any:
        raise ConfigurationError("a recorded answer cannot be asked again")

    async def complete_structured(self, request: Any, tool: Any) -> str:
        raise ConfigurationError("a recorded answer cannot be asked again")

    async def count_tokens(self, request: Any) -> int:
        raise ConfigurationError("a recorded answer cannot be asked again")
