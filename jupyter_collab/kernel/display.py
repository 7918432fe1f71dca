"""Streaming an answer into one notebook output through display updates.

The output is created when the first text arrives (``display`` with a
``display_id``) and then replaced in place (``update_display``) at most every
``interval`` seconds, so a fast stream cannot flood the frontend. While
streaming, the bundle is plain markdown; the final update is the full bundle
built by ``core.outputs.build_bundle``, the same one the server door writes.
If the stream fails, the text received so far stays visible.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

Publisher = Callable[..., None]


def ipython_publisher(
    data: dict[str, Any], metadata: dict[str, Any], display_id: str, update: bool
) -> None:
    from IPython.display import display, update_display

    if update:
        update_display(data, raw=True, metadata=metadata, display_id=display_id)
    else:
        display(data, raw=True, metadata=metadata, display_id=display_id)


class StreamingDisplay:
    def __init__(
        self,
        interval: float = 0.05,
        publish: Publisher = ipython_publisher,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.interval = interval
        self.display_id = f"collab-{uuid.uuid4().hex}"
        self._publish = publish
        self._clock = clock
        self._text = ""
        self._shown_text: str | None = None
        self._shown = False
        self._last = 0.0
        self.updates = 0

    @property
    def text(self) -> str:
        return self._text

    def add(self, delta: str) -> None:
        self._text += delta
        if not self._shown or self._clock() - self._last >= self.interval:
            self.flush()

    def tick(self) -> None:
        """Called while waiting: shows text held back by the throttle."""
        if self._shown_text != self._text and self._clock() - self._last >= self.interval:
            self.flush()

    def flush(self) -> None:
        if not self._text or self._shown_text == self._text:
            return
        bundle = {"text/markdown": self._text, "text/plain": self._text}
        self._show(bundle, {})
        self._shown_text = self._text

    def finish(self, data: dict[str, Any], metadata: dict[str, Any]) -> None:
        """Replace the streamed text with the final bundle (or show it, if nothing streamed)."""
        self._show(data, metadata)

    def _show(self, data: dict[str, Any], metadata: dict[str, Any]) -> None:
        self._publish(data, metadata, self.display_id, self._shown)
        if self._shown:
            self.updates += 1
        self._shown = True
        self._last = self._clock()
