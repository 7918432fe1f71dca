"""Anthropic SDK and transport failures as :class:`ProviderError` messages.

Every failure carries the API's own error type and message, says whether a retry
may help, and never contains the API key.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from ..errors import ConfigurationError, ProviderError

if TYPE_CHECKING:
    import anthropic

# The HTTP status the API uses for each error type; a mid-stream ``error`` event
# arrives on a 200 response, so its status is recovered from its type.
_STATUS_BY_ERROR_TYPE = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}


@dataclass(frozen=True)
class ClientSettings:
    """What an error message may mention about the client that failed."""

    base_url: str
    request_timeout: float
    max_retries: int
    key: str | None


def public_url(url: str) -> str:
    """A base URL safe to show: any ``user:password@`` part removed."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(invalid URL)"
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


@functools.cache
def _transport_errors() -> tuple[type[BaseException], ...]:
    """HTTP transport failures raised while reading a streamed body."""
    found: list[type[BaseException]] = []
    for module_name in ("httpx2", "httpx"):
        try:
            module = __import__(module_name)
        except ImportError:
            continue
        error = getattr(module, "TransportError", None)
        if isinstance(error, type):
            found.append(error)
    return tuple(found)


def provider_error(
    err: BaseException,
    settings: ClientSettings,
    *,
    streaming: bool = False,
    started: bool = True,
) -> Exception:
    """Map an SDK or transport failure to a :class:`ProviderError` (others pass through).

    ``streaming``: the failure happened while reading a streamed answer;
    ``started``: text of that answer had already been shown.
    """
    if isinstance(err, (ProviderError, ConfigurationError)):
        return err
    import anthropic  # already imported by the provider whose call failed

    transport_errors = _transport_errors()
    cause = err.__cause__ or err.__context__
    if (
        streaming
        and isinstance(err, anthropic.APIConnectionError)
        and transport_errors
        and isinstance(cause, transport_errors)
    ):
        # Newer SDKs (2.x) wrap a transport error raised while reading the
        # stream (a drop or a read timeout after the request was answered) in
        # APIConnectionError / APITimeoutError; older ones let it through.
        # Either way it happened mid-stream, not while connecting.
        err = cause
    if isinstance(err, anthropic.APIStatusError):
        mapped = _status_error(err)
    elif isinstance(err, anthropic.APITimeoutError):
        mapped = ProviderError(
            f"The Anthropic API did not answer within {settings.request_timeout:g} s "
            f"(tried {settings.max_retries + 1} times).",
            retryable=True,
        )
    elif isinstance(err, anthropic.APIConnectionError):
        cause = err.__cause__ or err.__context__
        detail = f" ({cause})" if cause else ""
        mapped = ProviderError(
            f"Could not connect to the Anthropic API at {public_url(settings.base_url)}{detail}; "
            "check the network and ANTHROPIC_BASE_URL.",
            retryable=True,
        )
    elif transport_errors and isinstance(err, transport_errors):
        if not streaming:
            where = "during the request"
        else:
            where = "in the middle of the answer" if started else "before the answer started"
        if "Timeout" in type(err).__name__:
            mapped = ProviderError(
                f"The Anthropic API sent nothing for {settings.request_timeout:g} s "
                f"{where}; gave up (request_timeout).",
                retryable=True,
            )
        else:
            detail = str(err) or type(err).__name__
            mapped = ProviderError(
                f"The connection to the Anthropic API dropped {where} ({detail}).",
                retryable=True,
            )
    elif isinstance(err, anthropic.APIError):
        mapped = ProviderError(f"Anthropic API error: {err.message}", retryable=False)
    else:
        return err if isinstance(err, Exception) else RuntimeError(str(err))
    return _redacted(mapped, settings.key)


def _redacted(error: ProviderError, key: str | None) -> ProviderError:
    message = str(error)
    if key and key in message:
        return ProviderError(
            message.replace(key, "[redacted]"), status=error.status, retryable=error.retryable
        )
    return error


def _status_error(err: anthropic.APIStatusError) -> ProviderError:
    error_type = err.type or _body_field(err.body, "type")
    message = err.api_message or _body_field(err.body, "message")
    if not message:
        body = err.body if isinstance(err.body, str) else None
        message = (body or err.message or "no error message").strip()[:300]
    status = err.status_code
    during_stream = status < 400
    if during_stream:
        status = _STATUS_BY_ERROR_TYPE.get(str(error_type), 500)
    retryable = status in (408, 409, 429) or status >= 500
    kind = f" ({error_type})" if error_type else ""
    where = " during the streamed answer" if during_stream else ""
    request_id = f" (request id {err.request_id})" if err.request_id else ""
    text = f"Anthropic API error {status}{kind}{where}: {message.rstrip('.')}{request_id}."
    return ProviderError(text, status=status, retryable=retryable)


def _body_field(body: object, name: str) -> str | None:
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get(name), str):
            return error[name]
    return None
