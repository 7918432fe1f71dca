"""Whether this process runs under a JupyterHub whose broker service holds the key.

The hub's administrator sets ``JUPYTER_COLLAB_HUB_BROKER_URL`` in every
single-user server's environment (``c.Spawner.environment``); kernels inherit it.
The hub sets ``JUPYTERHUB_SERVICE_PREFIX`` and ``JUPYTERHUB_API_TOKEN`` there
itself. With all three, Anthropic calls go to the broker with the user's hub
token in place of a key: the broker checks the token with the hub and forwards
the call with the key only it holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..config import CollabConfig
from ..errors import ConfigurationError

BROKER_URL_ENV = "JUPYTER_COLLAB_HUB_BROKER_URL"
HUB_PREFIX_ENV = "JUPYTERHUB_SERVICE_PREFIX"
HUB_TOKEN_ENV = "JUPYTERHUB_API_TOKEN"


@dataclass(frozen=True)
class HubBroker:
    """The broker service's base URL (it speaks the Anthropic Messages API) and the
    token this user's server or kernel proves itself with."""

    url: str
    token: str


def hub_broker(env: Mapping[str, str]) -> HubBroker | None:
    """The hub's broker, or None outside a hub or when none is configured."""
    url = (env.get(BROKER_URL_ENV) or "").strip()
    if not url or not env.get(HUB_PREFIX_ENV):
        return None
    if not url.startswith(("http://", "https://")):
        raise ConfigurationError(
            f"{BROKER_URL_ENV}={url!r} is not an http(s) URL; set it to the broker "
            "service's URL, e.g. http://127.0.0.1:8000/services/jupyter-collab"
        )
    token = env.get(HUB_TOKEN_ENV)
    if not token:
        raise ConfigurationError(
            f"{BROKER_URL_ENV} is set but {HUB_TOKEN_ENV} is not: the hub broker needs "
            "the token JupyterHub gives each single-user server"
        )
    return HubBroker(url=url.rstrip("/"), token=token)


def through_hub(config: CollabConfig, env: Mapping[str, str]) -> CollabConfig:
    """``config`` with Anthropic calls sent to the hub's broker, when there is one.

    Only the providers that would reach Anthropic change ('auto' and
    'anthropic'); a user who chose the embedded model or their own endpoint keeps it.
    """
    broker = hub_broker(env)
    if broker is None or config.provider not in ("auto", "anthropic"):
        return config
    return config.model_copy(
        update={
            "provider": "anthropic",
            "anthropic_base_url": broker.url,
            "anthropic_api_key": broker.token,
        }
    )
