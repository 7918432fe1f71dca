"""The fan-out the preview and the check share: bounded concurrency with required
calls before speculative ones, cache warming (one request per prompt prefix
first), a cache of answers by input hash, and running tasks to completion in
the order they finish, with cancellation.

See ``preview.py`` for why each exists; the check (``check.py``) runs many
amendments' probes through the same machinery.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from ..errors import ProviderError
from ..local_files import atomic_write_text
from ..lru import LRU
from ..providers.base import ChatRequest, Provider, StreamEnd, TextDelta

T = TypeVar("T")

CACHE_FILE_VERSION = 1


class BaselineCache(LRU[str]):
    """A small LRU of baseline answers keyed by input hash."""

    def __init__(self, maxsize: int = 512):
        super().__init__(maxsize)

    # A headless door (the CLI) keeps baselines between runs in a file.

    @classmethod
    def load(cls, path: Path, maxsize: int = 512) -> BaselineCache:
        """The cache stored at ``path``; empty when the file is missing or unreadable."""
        cache = cls(maxsize)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cache
        if isinstance(data, dict) and data.get("version") == CACHE_FILE_VERSION:
            for key, value in (data.get("answers") or {}).items():
                if isinstance(key, str) and isinstance(value, str):
                    cache.put(key, value)
        return cache

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"version": CACHE_FILE_VERSION, "answers": self.items()}
        atomic_write_text(path, json.dumps(payload, ensure_ascii=False))


async def answer_text(
    provider: Provider, request: ChatRequest, on_first_event: Callable[[], None] | None = None
) -> str:
    """Run one request to its end and return the answer text.

    The one choice between a streamed and a whole answer: only a caller that
    needs ``on_first_event`` (called when the answer starts, i.e. once the
    provider has read the prompt: the warm-up call of a prefix) streams; every
    other answer is read by nobody until it has ended, so it is asked whole
    (:meth:`Provider.complete`), which spares parsing an event per token.
    """
    if on_first_event is None:
        return (await provider.complete(request)).text
    parts: list[str] = []
    ended = False
    async with aclosing(provider.stream(request)) as stream:
        async for event in stream:
            if on_first_event is not None:
                on_first_event()
                on_first_event = None
            if isinstance(event, TextDelta):
                parts.append(event.text)
            elif isinstance(event, StreamEnd):
                ended = True
    if not ended:
        raise ProviderError(f"{provider.name}: the stream ended without a final message")
    return "".join(parts)


# A provider that refuses for load (429 rate limited, 529 overloaded) after the
# SDK's own retries: the fan-out halves its bound and asks again after a pause.
# From a ceiling of 256 down to one call in flight is 8 halvings, each needing a
# call refused under the bound before it, hence the retries.
RATE_LIMITED_STATUSES = frozenset({429, 529})
RATE_LIMIT_RETRIES = 8
RATE_LIMIT_PAUSE_S = 1.0


def is_rate_limited(error: BaseException) -> bool:
    """Whether the provider refused a call for load rather than for the request itself."""
    return isinstance(error, ProviderError) and error.status in RATE_LIMITED_STATUSES


class Slots:
    """The concurrency bound, with required calls served before speculative ones.

    Speculative calls (the noise floor's extra samples, started with a probe's
    first answers in case they are needed) take a slot only when more slots are
    free than required calls (answers, needed samples, judge calls) are announced
    and still waiting, so they fill idle slots and never push an answer the
    preview must have into a second wave.

    The bound adapts to the provider: configured concurrency is a ceiling, and a
    refusal for load halves the bound, then each ``bound`` answers that come back
    raise it by one again (additive increase, multiplicative decrease). Calls
    admitted under a larger bound are refused together when the account's limit
    is reached, so only a refusal of a call admitted under the current bound
    halves it again (each slot carries the generation of the bound it was taken
    under). A check can then start with every answer in flight and still settle
    at what a rate-limited account allows.
    """

    def __init__(self, concurrency: int):
        self.ceiling = max(1, concurrency)
        self.bound = self.ceiling
        self._generation = 0
        self._in_flight = 0
        self._answered_since_change = 0
        self._required_waiting = 0
        self._changed = asyncio.Condition()

    def _free(self) -> int:
        return self.bound - self._in_flight

    def announce_required(self) -> None:
        """A required call is on its way (it may first wait for its prefix's warm-up)."""
        self._required_waiting += 1

    async def withdraw_required(self) -> None:
        """An announced required call ended before it took a slot (cancelled, failed)."""
        async with self._changed:
            self._required_waiting -= 1
            self._changed.notify_all()

    async def answered(self) -> None:
        """A call came back: one step towards raising the bound to its ceiling."""
        if self.bound >= self.ceiling:
            return
        async with self._changed:
            self._answered_since_change += 1
            if self._answered_since_change >= self.bound:
                self.bound += 1
                self._answered_since_change = 0
                self._changed.notify_all()

    def refused_for_load(self, generation: int) -> None:
        """The provider refused a call admitted under bound ``generation``: halve the
        bound, unless it was halved since that call was admitted."""
        if generation != self._generation:
            return
        self._generation += 1
        # The refused call has left its slot already: it was in flight too.
        self.bound = max(1, min(self.bound, self._in_flight + 1) // 2)
        self._answered_since_change = 0

    @contextlib.asynccontextmanager
    async def hold(self, speculative: bool) -> AsyncIterator[int]:
        """A slot, as the generation of the bound it was taken under; a required
        caller must have announced itself first."""
        async with self._changed:
            if speculative:
                await self._changed.wait_for(lambda: self._free() > self._required_waiting)
            else:
                await self._changed.wait_for(lambda: self._free() > 0)
                self._required_waiting -= 1
            self._in_flight += 1
        try:
            yield self._generation
        finally:
            async with self._changed:
                self._in_flight -= 1
                self._changed.notify_all()


class Limiter:
    """The slots plus the warm-up rule: one request per prompt prefix first."""

    def __init__(self, concurrency: int):
        self._slots = Slots(concurrency)
        self._warmed: dict[str, asyncio.Event] = {}

    @property
    def bound(self) -> int:
        """How many calls may be in flight now (the ceiling unless refused for load)."""
        return self._slots.bound

    async def run(
        self,
        prefix: str,
        call: Callable[[Callable[[], None] | None], Awaitable[T]],
        speculative: bool = False,
    ) -> T:
        """Run ``call(warmed)``; the first call of a prefix signals ``warmed()`` when the
        provider has read its prompt (or when it ends), releasing the others, which
        are given None (nobody waits for their start). A call refused for load is
        asked again (up to ``RATE_LIMIT_RETRIES`` times, ``RATE_LIMIT_PAUSE_S``
        apart) under a halved bound."""
        announced = not speculative
        if announced:
            self._slots.announce_required()
        event = self._warmed.get(prefix)
        first = event is None
        if event is None:
            event = self._warmed[prefix] = asyncio.Event()
        try:
            if not first:
                await event.wait()
            warmed = event.set if first else None
            attempt = 0
            while True:
                attempt += 1
                generation = None
                try:
                    async with self._slots.hold(speculative) as generation:
                        announced = False
                        result = await call(warmed)
                except ProviderError as error:
                    if not is_rate_limited(error) or attempt > RATE_LIMIT_RETRIES:
                        raise
                    if generation is not None:
                        self._slots.refused_for_load(generation)
                    if not speculative:
                        self._slots.announce_required()
                        announced = True
                    await asyncio.sleep(RATE_LIMIT_PAUSE_S)
                else:
                    await self._slots.answered()
                    return result
        finally:
            if first:
                event.set()  # on failure too: the others then try for themselves
            if announced:
                await self._slots.withdraw_required()


@dataclass
class Finished(Generic[T]):
    """What :func:`in_completion_order` yields: the index of a task and its result."""

    index: int
    result: T


async def in_completion_order(
    coroutines: Iterable[Awaitable[T]], cancel_event: asyncio.Event | None = None
) -> AsyncIterator[Finished[T] | None]:
    """Run ``coroutines`` concurrently and yield each result as it finishes (ties in
    index order). A failure cancels the others and raises. When ``cancel_event``
    is set while some are still running, the rest are cancelled and ``None`` is
    yielded last; closing the iterator cancels everything still running."""
    tasks = {asyncio.ensure_future(c): i for i, c in enumerate(coroutines)}
    waiter = asyncio.ensure_future(cancel_event.wait()) if cancel_event is not None else None
    pending = set(tasks)
    try:
        while pending:
            watch = pending | ({waiter} if waiter is not None else set())
            done, _ = await asyncio.wait(watch, return_when=asyncio.FIRST_COMPLETED)
            for task in sorted(done - {waiter}, key=tasks.__getitem__):
                pending.discard(task)
                yield Finished(tasks[task], task.result())  # a failure propagates
            if waiter is not None and waiter in done:
                if pending:
                    yield None
                break
    finally:
        leftovers = [*pending, *([waiter] if waiter is not None else [])]
        for task in leftovers:
            task.cancel()
        if leftovers:
            await asyncio.gather(*leftovers, return_exceptions=True)
