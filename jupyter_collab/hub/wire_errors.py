"""Errors in the Anthropic Messages API's own shape, so the SDK on the other side
raises them with their type and message (and retries only what it should:
401, 402 and 403 are not retried)."""

from __future__ import annotations

import json


class WireError(Exception):
    """An error the broker answers itself, before or instead of forwarding."""

    def __init__(self, status: int, error_type: str, message: str):
        self.status = status
        self.error_type = error_type
        self.message = message
        super().__init__(message)

    def body(self) -> bytes:
        return json.dumps(
            {"type": "error", "error": {"type": self.error_type, "message": self.message}}
        ).encode()


def unauthenticated(detail: str) -> WireError:
    return WireError(401, "authentication_error", f"jupyter-collab hub broker: {detail}")


def forbidden(detail: str) -> WireError:
    return WireError(403, "permission_error", f"jupyter-collab hub broker: {detail}")


def hub_unavailable(detail: str) -> WireError:
    return WireError(
        503,
        "api_error",
        f"jupyter-collab hub broker: could not check the token with the hub ({detail})",
    )


def budget_exceeded(message: str) -> WireError:
    return WireError(402, "billing_error", message)


def not_found(path: str) -> WireError:
    return WireError(
        404,
        "not_found_error",
        f"jupyter-collab hub broker: {path} is not a route; it forwards "
        "POST v1/messages and POST v1/messages/count_tokens",
    )


def upstream_unreachable(url: str, detail: str) -> WireError:
    return WireError(
        502, "api_error", f"jupyter-collab hub broker: could not reach {url} ({detail})"
    )
