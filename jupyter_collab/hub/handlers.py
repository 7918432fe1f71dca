"""The broker's routes under its service prefix.

``POST v1/messages`` and ``POST v1/messages/count_tokens`` are the Anthropic
Messages API: the caller's hub token is checked, a metered call (``messages``)
is refused once the user's budget is used up, and the call is forwarded with the
broker's key. Streamed answers pass through event by event, metered on the way;
the usage is recorded when the answer ends (or the caller leaves).
``GET usage`` tells the caller their own usage and budget.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import httpx
from tornado import web
from tornado.iostream import StreamClosedError
from tornado.log import app_log

from ..core.hub.ledger import BudgetExceededError, UsageLedger
from ..core.hub.metering import StreamMeter, usage_of_message
from .auth import calling_user
from .forwarding import Forwarder, response_headers
from .wire_errors import WireError, budget_exceeded, not_found

if TYPE_CHECKING:
    from jupyterhub.services.auth import HubAuth

HUB_AUTH_SETTING = "collab_hub_auth"
LEDGER_SETTING = "collab_ledger"
FORWARDER_SETTING = "collab_forwarder"


class BrokerHandler(web.RequestHandler):
    """Token-authenticated JSON routes; errors in the Messages API's shape."""

    @property
    def hub_auth(self) -> HubAuth:
        return self.settings[HUB_AUTH_SETTING]

    @property
    def ledger(self) -> UsageLedger:
        return self.settings[LEDGER_SETTING]

    @property
    def forwarder(self) -> Forwarder:
        return self.settings[FORWARDER_SETTING]

    def check_xsrf_cookie(self) -> None:
        """Tokens only, never cookies: there is no cross-site form to guard against."""

    def fail(self, error: WireError) -> None:
        self.set_status(error.status)
        self.set_header("Content-Type", "application/json")
        self.finish(error.body())


class MessagesHandler(BrokerHandler):
    async def post(self, route: str) -> None:
        try:
            user = await calling_user(self.hub_auth, self)
            metered = route == "messages"
            if metered:
                try:
                    self.ledger.check(user)
                except BudgetExceededError as err:
                    raise budget_exceeded(str(err)) from None
            await self._forward(user, route, metered)
        except WireError as err:
            self.fail(err)
        except StreamClosedError:
            return  # the caller left; its upstream call was closed on the way out

    async def _forward(self, user: str, route: str, metered: bool) -> None:
        async with self.forwarder.open(route, self.request.body, self.request.headers) as answer:
            self.set_status(answer.status_code)
            for name, value in response_headers(answer.headers).items():
                self.set_header(name, value)
            streamed = answer.headers.get("content-type", "").startswith("text/event-stream")
            meter = StreamMeter()
            body: list[bytes] = []
            try:
                async for chunk in answer.aiter_bytes():
                    if streamed:
                        meter.feed(chunk)
                        self.write(chunk)
                        await self.flush()
                    else:
                        body.append(chunk)
            except httpx.TransportError as err:
                # Upstream dropped mid-answer: drop ours too, so the caller's SDK
                # reports a dropped connection as it would without the broker.
                app_log.warning("upstream dropped the answer for %s: %s", user, err)
                self.request.connection.close()
                return
            finally:
                if metered and answer.status_code == 200:
                    usage = meter.usage if streamed else usage_of_message(b"".join(body))
                    self.ledger.record(user, usage)
            if body:
                self.write(b"".join(body))
        self.finish()


class UsageHandler(BrokerHandler):
    """``GET usage``: the caller's own usage and budget."""

    async def get(self) -> None:
        try:
            user = await calling_user(self.hub_auth, self)
        except WireError as err:
            self.fail(err)
            return
        usage = self.ledger.usage(user)
        budget, setting = self.ledger.budget_for(user)
        self.set_header("Content-Type", "application/json")
        self.finish(
            json.dumps(
                {
                    "user": user,
                    "usage": usage.model_dump(mode="json"),
                    "total_tokens": usage.total_tokens,
                    "budget_tokens": budget,
                    "budget_setting": setting,
                }
            )
        )


class AboutHandler(BrokerHandler):
    """``GET`` at the prefix: what this service is (the hub's readiness probe lands here)."""

    def get(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(
            json.dumps(
                {
                    "service": "jupyter-collab hub broker",
                    "routes": ["POST v1/messages", "POST v1/messages/count_tokens", "GET usage"],
                }
            )
        )


class UnknownRouteHandler(BrokerHandler):
    def _unknown(self, *args: Any) -> None:
        self.fail(not_found(f"{self.request.method} {self.request.path}"))

    get = post = put = patch = delete = _unknown
