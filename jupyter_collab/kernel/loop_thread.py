"""Running the async broker from a synchronous magic.

ipykernel already runs an asyncio loop in the main thread, and a cell magic is
called synchronously from inside it, so the broker cannot run on that loop
(nesting loops breaks). It runs on a private event loop in a helper thread
that lives as long as the kernel (the provider's HTTP client stays bound to
it). Text deltas come back to the main thread through a queue; the main thread
publishes the display updates (ipykernel's display machinery belongs to it).

A kernel interrupt (SIGINT: ``KeyboardInterrupt`` in the main thread while it
waits on the queue) cancels the streaming task; closing the broker's stream
closes the provider's HTTP response. The main thread waits up to
``cancel_grace`` seconds (1 s) for that, then re-raises ``KeyboardInterrupt``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import queue
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from typing import Any, TypeVar

T = TypeVar("T")
_POLL = 0.02


class LoopThread:
    """A private asyncio loop in a daemon thread, started on first use."""

    def __init__(self, name: str = "jupyter-collab-loop"):
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                loop = asyncio.new_event_loop()
                ready = threading.Event()

                def run() -> None:
                    asyncio.set_event_loop(loop)
                    loop.call_soon(ready.set)
                    loop.run_forever()

                self._thread = threading.Thread(target=run, name=self._name, daemon=True)
                self._thread.start()
                ready.wait(5)
                self._loop = loop
            return self._loop

    def submit(self, coro: Awaitable[T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)  # type: ignore[arg-type]

    def run(self, coro: Awaitable[T], cancel_grace: float = 1.0) -> T:
        """Run ``coro`` to its end; a ``KeyboardInterrupt`` cancels it and is re-raised."""
        done = threading.Event()

        async def wrapped() -> T:
            try:
                return await coro
            finally:
                done.set()

        future = self.submit(wrapped())
        try:
            while True:
                try:
                    return future.result(timeout=0.05)
                except concurrent.futures.TimeoutError:
                    continue
        except KeyboardInterrupt:
            future.cancel()
            done.wait(cancel_grace)
            raise

    def close(self, timeout: float = 2.0) -> None:
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(timeout)
        if not loop.is_running():
            loop.close()


_DONE = object()


def stream_events(
    runner: LoopThread,
    make_stream: Callable[[], AsyncIterator[Any]],
    on_event: Callable[[Any], None],
    on_idle: Callable[[], None] = lambda: None,
    cancel_grace: float = 1.0,
) -> None:
    """Drive the async iterator ``make_stream()`` on the runner's loop.

    ``on_event`` runs in the calling (main) thread for every event, ``on_idle``
    whenever no event arrived for a short while. An exception of the stream is
    re-raised here after the events before it were handled.
    """
    events: queue.SimpleQueue[Any] = queue.SimpleQueue()
    closed = threading.Event()
    failure: list[BaseException] = []

    async def pump() -> None:
        try:
            async with aclosing(make_stream()) as stream:  # type: ignore[type-var]
                async for event in stream:
                    events.put(event)
        except asyncio.CancelledError:
            raise
        except BaseException as err:
            failure.append(err)
        finally:
            closed.set()
            events.put(_DONE)

    future = runner.submit(pump())
    try:
        while True:
            try:
                event = events.get(timeout=_POLL)
            except queue.Empty:
                on_idle()
                continue
            if event is _DONE:
                break
            on_event(event)
    except KeyboardInterrupt:
        future.cancel()
        closed.wait(cancel_grace)
        raise
    except BaseException:
        future.cancel()  # on_event failed: stop the stream too
        closed.wait(cancel_grace)
        raise
    if failure:
        raise failure[0]
