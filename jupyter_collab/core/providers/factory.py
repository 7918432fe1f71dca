"""Build the provider a configuration asks for.

Provider modules are imported lazily, so a machine without llama-cpp-python
(or without a key) only pays for the provider it uses.
"""

from __future__ import annotations

from ..config import CollabConfig
from ..errors import ConfigurationError
from .base import Provider


def create_provider(config: CollabConfig) -> Provider:
    """The provider for ``config.resolved_provider()``: anthropic, openai or local.

    Raises :class:`ConfigurationError` (one sentence for the user) when the
    chosen provider cannot work, e.g. no key and no embedded model installed.
    """
    name = config.resolved_provider()
    if name == "anthropic":
        from .anthropic import AnthropicProvider

        return AnthropicProvider(config)
    if name == "openai":
        from .openai_compat import OpenAICompatProvider

        return OpenAICompatProvider(config)
    if name == "local":
        from .local import LocalProvider

        return LocalProvider(config)
    raise ConfigurationError(
        f"Unknown provider {name!r}: use 'auto', 'anthropic', 'openai' or 'local'."
    )
