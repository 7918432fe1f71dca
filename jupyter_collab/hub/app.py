"""``python -m jupyter_collab.hub``: the broker service JupyterHub starts.

The hub gives a managed service its address (``JUPYTERHUB_SERVICE_URL``), its
prefix (``JUPYTERHUB_SERVICE_PREFIX``), its own API token and the hub's API URL;
the key comes from the service's environment (``ANTHROPIC_API_KEY``, set in the
``services`` entry of ``jupyterhub_config.py``) and nowhere else. Settings are
traitlets (``--CollabBrokerService.budget_tokens=200000`` or a config file).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from pathlib import Path
from urllib.parse import urlsplit

from jupyterhub.services.auth import HubAuth
from tornado import web
from traitlets import Dict, Float, Int, Unicode, default
from traitlets.config import Application

from ..core.hub.ledger import UsageLedger
from .forwarding import Forwarder, Upstream
from .handlers import (
    FORWARDER_SETTING,
    HUB_AUTH_SETTING,
    LEDGER_SETTING,
    AboutHandler,
    MessagesHandler,
    UnknownRouteHandler,
    UsageHandler,
)

DEFAULT_UPSTREAM = "https://api.anthropic.com"


class CollabBrokerService(Application):
    """Holds the provider key for a JupyterHub; users' servers call it with their tokens."""

    name = "jupyter-collab-hub-broker"
    description = __doc__

    upstream_url = Unicode(
        config=True,
        help="The Anthropic API the broker forwards to (default: $ANTHROPIC_BASE_URL, "
        "else https://api.anthropic.com).",
    )
    usage_file = Unicode(
        "jupyter-collab-usage.json",
        config=True,
        help="The JSON file of each user's token usage (relative to the working folder).",
    )
    budget_tokens = Int(
        0,
        config=True,
        help="Tokens (input, output, cache writes and reads) each user may use; 0: no limit.",
    )
    user_budgets = Dict(
        value_trait=Int(),
        config=True,
        help="Budgets for named users, overriding budget_tokens (0: no limit).",
    )
    request_timeout = Float(600.0, config=True, help="Seconds before an upstream call is dropped.")
    config_file = Unicode("", config=True, help="A traitlets config file to load.")

    aliases = {
        "budget-tokens": "CollabBrokerService.budget_tokens",
        "usage-file": "CollabBrokerService.usage_file",
        "upstream-url": "CollabBrokerService.upstream_url",
        "config": "CollabBrokerService.config_file",
    }

    @default("log_level")
    def _default_log_level(self) -> int:
        return logging.INFO

    @default("upstream_url")
    def _default_upstream(self) -> str:
        return os.environ.get("ANTHROPIC_BASE_URL") or DEFAULT_UPSTREAM

    def initialize(self, argv: list[str] | None = None) -> None:
        super().initialize(argv)
        if self.config_file:
            self.load_config_file(self.config_file)

    def web_app(self, prefix: str) -> web.Application:
        key = os.environ.get("ANTHROPIC_API_KEY")
        if not key:
            self.exit_with("ANTHROPIC_API_KEY is not set in the broker service's environment")
        prefix = "/" + prefix.strip("/") + "/" if prefix.strip("/") else "/"
        ledger = UsageLedger(Path(self.usage_file), self.budget_tokens, self.user_budgets)
        forwarder = Forwarder(Upstream(self.upstream_url, key, self.request_timeout))
        return web.Application(
            [
                (rf"{prefix}v1/(messages|messages/count_tokens)", MessagesHandler),
                (rf"{prefix}usage", UsageHandler),
                (rf"{prefix}?", AboutHandler),
                (r".*", UnknownRouteHandler),
            ],
            **{
                HUB_AUTH_SETTING: HubAuth(),
                LEDGER_SETTING: ledger,
                FORWARDER_SETTING: forwarder,
            },
        )

    def exit_with(self, message: str) -> None:
        self.log.critical("jupyter-collab hub broker: %s", message)
        self.exit(1)

    def start(self) -> None:
        service_url = os.environ.get("JUPYTERHUB_SERVICE_URL")
        if not service_url:
            self.exit_with(
                "JUPYTERHUB_SERVICE_URL is not set: run it as a JupyterHub service with a "
                "'url' (see the README's JupyterHub section)"
            )
        address = urlsplit(service_url)
        app = self.web_app(os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/"))
        asyncio.run(self._serve(app, address.hostname or "127.0.0.1", address.port or 80))

    async def _serve(self, app: web.Application, host: str, port: int) -> None:
        server = app.listen(port, host, xheaders=True)
        self.log.info(
            "jupyter-collab hub broker on %s:%d, forwarding to %s", host, port, self.upstream_url
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        server.stop()
        await app.settings[FORWARDER_SETTING].aclose()


def main() -> None:
    CollabBrokerService.launch_instance()
