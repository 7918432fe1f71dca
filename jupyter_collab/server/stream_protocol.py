"""The stream protocol: the events of a streamed request, as server-sent events
carry them; on the WebSocket each one also carries the ``id`` of the request it
belongs to."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, RootModel

from ..core.operation_models import CheckProgress, CompletionResult, PreviewProgress
from ..core.outputs import CollabDisplayData
from .route_models import ContextView, WireModel


class DeltaEvent(WireModel):
    """A piece of the answer."""

    type: Literal["delta"] = "delta"
    text: str


class ResultEvent(WireModel):
    """The finished answer and the nbformat output both doors write for it."""

    type: Literal["result"] = "result"
    result: CompletionResult
    output: CollabDisplayData


class ProgressEvent(PreviewProgress):
    """One progress event of a running preview."""

    type: Literal["progress"] = "progress"


class CheckEvent(CheckProgress):
    """One progress event of a running check. The ``finished`` event comes once the
    results are stored, with the context as it now is."""

    type: Literal["check"] = "check"
    context: ContextView | None = Field(
        default=None, description="on ``finished``: the context with the results recorded"
    )


class ErrorEvent(WireModel):
    """The request failed after it started (or, on the WebSocket, at any point)."""

    type: Literal["error"] = "error"
    status: int
    reason: str
    message: str


StreamEvent = DeltaEvent | ResultEvent | ProgressEvent | CheckEvent | ErrorEvent


class DeltaMessage(DeltaEvent):
    id: str


class ResultMessage(ResultEvent):
    id: str


class ProgressMessage(ProgressEvent):
    id: str


class CheckMessage(CheckEvent):
    id: str


class CancelledMessage(WireModel):
    """The request was cancelled by the client."""

    type: Literal["cancelled"] = "cancelled"
    id: str


class ErrorMessage(ErrorEvent):
    # ``None`` when the message that failed had no readable id.
    id: str | None


class StreamMessage(
    RootModel[
        Annotated[
            DeltaMessage
            | ResultMessage
            | ProgressMessage
            | CheckMessage
            | CancelledMessage
            | ErrorMessage,
            Field(discriminator="type"),
        ]
    ]
):
    """A message the server sends on the ``stream`` WebSocket."""


_MESSAGE_OF_EVENT: dict[type[BaseModel], type[BaseModel]] = {
    DeltaEvent: DeltaMessage,
    ResultEvent: ResultMessage,
    ProgressEvent: ProgressMessage,
    CheckEvent: CheckMessage,
    ErrorEvent: ErrorMessage,
}


def stream_message(event: StreamEvent, request_id: str | None) -> BaseModel:
    """The WebSocket message of ``event``: the event and its request's id."""
    message_type = _MESSAGE_OF_EVENT[type(event)]
    return message_type.model_validate({**dict(event), "id": request_id})
