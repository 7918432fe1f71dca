"""Who is calling: the caller's hub token, checked with the hub.

A single-user server or kernel sends the token JupyterHub gave it
(``JUPYTERHUB_API_TOKEN``) where the Anthropic SDK puts a key (``x-api-key``);
``Authorization: token …`` or ``Bearer …`` work too. The hub says whose it is and
which scopes it carries; the token must grant access to this service
(``access:services!service=NAME``, see the README) and belong to a user.
"""

from __future__ import annotations

from typing import Any

from jupyterhub.services.auth import HubAuth
from tornado.web import HTTPError, RequestHandler

from .wire_errors import forbidden, hub_unavailable, unauthenticated


def request_token(hub_auth: HubAuth, handler: RequestHandler) -> str | None:
    return handler.request.headers.get("x-api-key") or hub_auth.get_token(handler, in_cookie=False)


async def calling_user(hub_auth: HubAuth, handler: RequestHandler) -> str:
    """The hub user name behind the request's token, or a 401/403 :class:`WireError`."""
    token = request_token(hub_auth, handler)
    if not token:
        raise unauthenticated(
            "no hub token: send the JUPYTERHUB_API_TOKEN of your server as the API key"
        )
    try:
        model: dict[str, Any] | None = await hub_auth.user_for_token(token, sync=False)
    except HTTPError as err:  # the hub is down or refused the broker's own token
        raise hub_unavailable(err.log_message or str(err)) from err
    if model is None:
        raise unauthenticated("the hub does not recognise this token")
    name = model.get("name", "?")
    if model.get("kind", "user") != "user":
        raise forbidden(f"{name!r} is a service; only hub users' tokens are accepted")
    required = hub_auth.access_scopes
    if required and not hub_auth.check_scopes(required, model):
        raise forbidden(
            f"the token of {name!r} does not grant {' or '.join(sorted(required))}; "
            "the hub's 'user' and 'server' roles need that scope"
        )
    return name
