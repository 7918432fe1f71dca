"""The call to the real Anthropic API, made with the key only the broker holds.

The caller's body goes upstream byte for byte; of its headers only those that
describe the request (content type, API version and betas) go along, never its
credentials. The response comes back with its status and the headers a client
acts on (content type, retry-after, request id, rate limits), uncompressed so
its usage can be read on the way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx

from .wire_errors import upstream_unreachable

_REQUEST_HEADERS = ("content-type", "anthropic-version", "anthropic-beta", "accept")
_RESPONSE_HEADERS = (
    "content-type",
    "retry-after",
    "retry-after-ms",
    "request-id",
    "x-should-retry",
    "cache-control",
)
_RESPONSE_HEADER_PREFIXES = ("anthropic-ratelimit-",)


@dataclass(frozen=True)
class Upstream:
    url: str
    key: str = field(repr=False)
    timeout: float = 600.0


def response_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The upstream response headers passed back to the caller."""
    return {
        name: value
        for name, value in headers.items()
        if name.lower() in _RESPONSE_HEADERS or name.lower().startswith(_RESPONSE_HEADER_PREFIXES)
    }


class Forwarder:
    """One HTTP client (one connection pool) for every call the broker forwards."""

    def __init__(self, upstream: Upstream):
        self.upstream = upstream
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(upstream.timeout, connect=30.0),
            # A retry is the caller's SDK's decision; it sees the upstream status.
            transport=httpx.AsyncHTTPTransport(retries=0),
        )

    @asynccontextmanager
    async def open(
        self, route: str, body: bytes, headers: Mapping[str, str]
    ) -> AsyncIterator[httpx.Response]:
        """POST ``body`` to ``v1/{route}`` upstream; the response streams."""
        sent = {name: headers[name] for name in _REQUEST_HEADERS if name in headers}
        sent["x-api-key"] = self.upstream.key
        sent["accept-encoding"] = "identity"
        url = f"{self.upstream.url.rstrip('/')}/v1/{route}"
        request = self._client.build_request("POST", url, content=body, headers=sent)
        try:
            response = await self._client.send(request, stream=True)
        except httpx.TransportError as err:
            raise upstream_unreachable(self.upstream.url, str(err) or type(err).__name__) from err
        try:
            yield response
        finally:
            await response.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()
