"""Domain errors -> HTTP, in one place.

Every handler (REST and WebSocket) turns an exception into a status, a short
machine-readable ``reason`` and a sentence for the user through
:func:`describe_error`, so the mapping cannot differ between routes:

=====================================  ======  =========================
exception                              status  reason
=====================================  ======  =========================
pydantic ``ValidationError``           400     ``invalid_request``
:class:`InvalidRequestError`           400     ``invalid_request``
:class:`NotFoundError`                 404     ``not_found``
:class:`StaleRevisionError`            409     ``stale_revision``
:class:`ContextFileError`              409     ``invalid_context_file``
:class:`ReplayMissError`               409     ``replay_miss``
:class:`ConfigurationError`            503     ``not_configured``
:class:`ProviderError`                 502     ``provider_error``
:class:`CollabHTTPError`               its own its own (e.g. a busy WebSocket)
``tornado.web.HTTPError``              its own its standard phrase
anything else                          500     ``internal_error``
=====================================  ======  =========================

A context file that does not parse is a *conflict with the stored state*, not
bad input, so it is a 409 like a stale revision (the ``reason`` tells them
apart); the file is never overwritten while it is broken. Messages never carry
a traceback, and known secrets are scrubbed from every message.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from http.client import responses

from pydantic import ValidationError
from tornado import web

from ..core.errors import (
    CollabError,
    ConfigurationError,
    ContextFileError,
    InvalidRequestError,
    NotFoundError,
    ProviderError,
    ReplayMissError,
    StaleRevisionError,
)

SECRET_PLACEHOLDER = "[secret]"


@dataclass(frozen=True)
class ErrorInfo:
    status: int
    reason: str
    message: str
    # True for exceptions nobody anticipated: logged with a traceback (server
    # side only) and answered with a generic sentence.
    unexpected: bool = False


def describe_validation_error(error: ValidationError, prefix: str = "") -> str:
    """Name the offending field(s): ``field 'context.amendments.0.text': ...``."""
    parts = []
    for item in error.errors()[:3]:
        location = ".".join(str(p) for p in item["loc"])
        where = ".".join(p for p in (prefix, location) if p) or "(request body)"
        parts.append(f"field '{where}': {item['msg']}")
    more = error.error_count() - len(parts)
    if more > 0:
        parts.append(f"and {more} more problem(s)")
    return "invalid request: " + "; ".join(parts)


_DOMAIN: list[tuple[type[BaseException], int, str]] = [
    (InvalidRequestError, 400, "invalid_request"),
    (NotFoundError, 404, "not_found"),
    (StaleRevisionError, 409, "stale_revision"),
    (ContextFileError, 409, "invalid_context_file"),
    (ReplayMissError, 409, "replay_miss"),
    (ConfigurationError, 503, "not_configured"),
    (ProviderError, 502, "provider_error"),
]


def describe_error(error: BaseException) -> ErrorInfo:
    """The one mapping from an exception to what a client is told."""
    if isinstance(error, CollabHTTPError):
        return error.info
    if isinstance(error, ValidationError):
        return ErrorInfo(400, "invalid_request", describe_validation_error(error))
    for kind, status, reason in _DOMAIN:
        if isinstance(error, kind):
            return ErrorInfo(status, reason, str(error) or responses.get(status, "Error"))
    if isinstance(error, CollabError):
        return ErrorInfo(400, "invalid_request", str(error))
    if isinstance(error, web.HTTPError):
        status = error.status_code
        phrase = responses.get(status, "Unknown HTTP Error")
        message = _http_error_message(error) or phrase
        return ErrorInfo(status, phrase.lower().replace(" ", "_"), message)
    return ErrorInfo(
        500,
        "internal_error",
        "An internal error occurred in the jupyter-collab server extension; "
        "the server log has the details.",
        unexpected=True,
    )


def _http_error_message(error: web.HTTPError) -> str:
    if not error.log_message:
        return ""
    try:
        return error.log_message % error.args if error.args else error.log_message
    except (TypeError, ValueError):
        return error.log_message


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """Replace every known secret in ``text`` (keys are never shown, not even in errors)."""
    for secret in secrets:
        if secret and len(secret) >= 8 and secret in text:
            text = text.replace(secret, SECRET_PLACEHOLDER)
    return text


class CollabHTTPError(web.HTTPError):
    """An HTTP error whose JSON body is already decided (status, reason, message)."""

    def __init__(self, status: int, message: str, reason: str):
        # ``log_message`` is %-formatted by tornado's logger: escape it.
        super().__init__(status, message.replace("%", "%%"))
        self.info = ErrorInfo(status, reason, message)
