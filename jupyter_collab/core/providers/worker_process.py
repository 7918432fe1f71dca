"""A supervised child process spoken to in JSON lines, usable from any event loop.

The embedded model runs in such a process (see :mod:`.llama_worker`) so that a
crash, a hang or an out-of-memory kill of native code never takes the Jupyter
server or a kernel with it. This module owns the supervision:

- the process is started on first use, in its own session (a kernel interrupt
  signals the kernel's process group; it must not reach the model), and waited
  for until it reports ``ready``;
- one reader thread routes each event line to the request that owns it, on
  that request's event loop (the kernel door and ``asyncio.run`` callers use
  different loops, so nothing here is bound to one);
- a watchdog kills a process that has work outstanding yet has sent nothing for
  ``stall_timeout`` seconds;
- when the process ends for any reason, every outstanding request gets a
  :class:`WorkerDied` that says what happened (signal, exit code, hang, the
  tail of its stderr), and the next request starts a fresh process.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import json
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import IO, Any

log = logging.getLogger(__name__)

#: Lines of the child's stderr kept for error messages.
STDERR_TAIL = 20
#: How often the watchdog looks at the clock.
WATCHDOG_PERIOD = 0.5


class WorkerDied(Exception):
    """The child process ended while requests were outstanding (or while starting)."""

    def __init__(self, message: str, *, returncode: int | None, hung: bool = False):
        self.returncode = returncode
        self.hung = hung
        super().__init__(message)

    @property
    def signal_name(self) -> str | None:
        return ExitReport(self.returncode).signal_name


class WorkerFailedToStart(WorkerDied):
    """The child said it cannot start (e.g. the model file does not load)."""


@dataclass
class ExitReport:
    """How a child process ended, in words for the user."""

    returncode: int | None
    hung_after: float | None = None

    @property
    def signal_name(self) -> str | None:
        if self.returncode is None or self.returncode >= 0:
            return None
        try:
            return signal.Signals(-self.returncode).name
        except ValueError:
            return f"signal {-self.returncode}"

    def describe(self) -> str:
        if self.hung_after is not None:
            return f"stopped responding for {self.hung_after:.0f} s and was stopped"
        name = self.signal_name
        if name == "SIGKILL":
            return "was killed (SIGKILL; usually the system ran out of memory)"
        if name in ("SIGSEGV", "SIGBUS", "SIGILL", "SIGFPE", "SIGABRT"):
            return f"crashed ({name})"
        if name is not None:
            return f"was stopped by {name}"
        return f"exited unexpectedly (exit code {self.returncode})"


class _Listener:
    """Where one request's events go: a queue on the caller's event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.queue: asyncio.Queue[dict[str, Any] | WorkerDied] = asyncio.Queue()

    def deliver(self, item: dict[str, Any] | WorkerDied) -> None:
        with contextlib.suppress(RuntimeError):  # that loop is closed: nobody is listening
            self.loop.call_soon_threadsafe(self.queue.put_nowait, item)


@dataclass
class _Child:
    """One running process and what is known about it."""

    process: subprocess.Popen[bytes]
    ready: Future[dict[str, Any]] = field(default_factory=Future)
    listeners: dict[str, _Listener] = field(default_factory=dict)
    active: set[str] = field(default_factory=set)  # requests the child has started
    stderr_tail: collections.deque[str] = field(
        default_factory=lambda: collections.deque(maxlen=STDERR_TAIL)
    )
    # When the child last wrote anything, or was given work: the watchdog's clock.
    last_activity: float = field(default_factory=time.monotonic)
    hung_after: float | None = None
    stopping: bool = False
    exited: bool = False
    write_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def pid(self) -> int:
        return self.process.pid


#: Events after which the child has finished with a request.
FINAL_EVENTS = frozenset({"end", "count", "error", "cancelled"})


class WorkerProcess:
    """Starts, feeds, watches and restarts one child process (see the module docstring)."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        what: str,
        stall_timeout: float,
        env: dict[str, str] | None = None,
    ):
        self._argv = list(argv)
        self._what = what  # e.g. "The embedded model's process"
        self._stall_timeout = stall_timeout
        self._env = env
        self._lock = threading.Lock()
        self._child: _Child | None = None
        self._ids = itertools.count(1)
        self._closed = False

    # -- state -------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        child = self._child
        return child.pid if child is not None and child.process.poll() is None else None

    @property
    def ready(self) -> bool:
        child = self._child
        return (
            child is not None
            and child.process.poll() is None
            and child.ready.done()
            and child.ready.exception() is None
        )

    @property
    def busy(self) -> bool:
        """True while the child is working on a request it has started."""
        child = self._child
        return child is not None and bool(child.active) and child.process.poll() is None

    # -- requests ----------------------------------------------------------------

    async def start(self) -> dict[str, Any]:
        """The child's ``ready`` event, starting the process if none is running."""
        if self._closed:
            raise WorkerDied(f"{self._what} is closed", returncode=None)
        child = self._current_or_new()
        return await asyncio.wrap_future(child.ready)

    async def open(self, request: dict[str, Any]) -> tuple[str, _Listener]:
        """Send ``request`` (an ``op`` and its fields); events arrive on the listener."""
        await self.start()
        child = self._current_or_new()
        await asyncio.wrap_future(child.ready)
        request_id = str(next(self._ids))
        listener = _Listener(asyncio.get_running_loop())
        with self._lock:  # _on_exit takes the listeners under the same lock
            if not child.exited:
                child.listeners[request_id] = listener
        if request_id not in child.listeners or not self._write(
            child, {**request, "id": request_id}
        ):
            child.listeners.pop(request_id, None)
            raise self._died(child)
        return request_id, listener

    def cancel(self, request_id: str) -> None:
        """Ask the child to stop (or skip) a request; its final event still arrives."""
        child = self._child
        if child is not None and request_id in child.listeners:
            self._write(child, {"op": "cancel", "id": request_id})

    def forget(self, request_id: str) -> None:
        child = self._child
        if child is not None:
            child.listeners.pop(request_id, None)

    async def next_event(self, listener: _Listener) -> dict[str, Any]:
        item = await listener.queue.get()
        if isinstance(item, WorkerDied):
            raise item
        return item

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the running child (tests use it to play a crash)."""
        pid = self.pid
        if pid is not None:
            os.kill(pid, sig)

    async def aclose(self) -> None:
        self._closed = True
        with self._lock:
            child, self._child = self._child, None
        if child is None:
            return
        child.stopping = True
        with contextlib.suppress(OSError):
            child.process.stdin.close()  # type: ignore[union-attr]
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self._reap, child)

    # -- process side --------------------------------------------------------------

    def _current_or_new(self) -> _Child:
        with self._lock:
            child = self._child
            if child is not None and child.process.poll() is None:
                return child
            if self._closed:
                raise WorkerDied(f"{self._what} is closed", returncode=None)
            child = self._spawn()
            self._child = child
            return child

    def _spawn(self) -> _Child:
        process = subprocess.Popen(
            self._argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self._env,
            start_new_session=True,
        )
        child = _Child(process)
        log.info("started %s (pid %d)", self._what.lower(), process.pid)
        for target, name in (
            (self._read_events, "events"),
            (self._read_stderr, "stderr"),
            (self._watch, "watchdog"),
        ):
            threading.Thread(
                target=target, args=(child,), name=f"collab-worker-{name}", daemon=True
            ).start()
        return child

    def _write(self, child: _Child, message: dict[str, Any]) -> bool:
        data = (json.dumps(message) + "\n").encode("utf-8")
        with child.write_lock:
            try:
                child.process.stdin.write(data)  # type: ignore[union-attr]
                child.process.stdin.flush()  # type: ignore[union-attr]
            except (OSError, ValueError):
                return False
        child.last_activity = time.monotonic()
        return True

    def _read_events(self, child: _Child) -> None:
        stream: IO[bytes] = child.process.stdout  # type: ignore[assignment]
        for line in stream:
            child.last_activity = time.monotonic()
            try:
                event = json.loads(line)
            except ValueError:
                log.warning("%s wrote a line that is not JSON: %r", self._what, line[:200])
                continue
            self._route(child, event)
        child.process.wait()
        self._on_exit(child)

    def _route(self, child: _Child, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "ready":
            child.ready.set_result(event)
            return
        if kind == "fatal":
            if not child.ready.done():
                child.ready.set_exception(
                    WorkerFailedToStart(str(event.get("message", "")), returncode=None)
                )
            return
        request_id = str(event.get("id"))
        if kind == "started":
            child.active.add(request_id)
        elif kind in FINAL_EVENTS:
            child.active.discard(request_id)
        listener = (
            child.listeners.pop(request_id, None)
            if kind in FINAL_EVENTS
            else child.listeners.get(request_id)
        )
        if listener is not None and kind != "started":
            listener.deliver(event)

    def _read_stderr(self, child: _Child) -> None:
        stream: IO[bytes] = child.process.stderr  # type: ignore[assignment]
        for raw in stream:
            line = raw.decode("utf-8", "replace").rstrip()
            if line:
                child.stderr_tail.append(line)
                log.debug("%s: %s", self._what, line)

    def _watch(self, child: _Child) -> None:
        while child.process.poll() is None:
            time.sleep(WATCHDOG_PERIOD)
            waiting = bool(child.listeners) or not child.ready.done()
            silent = time.monotonic() - child.last_activity
            if waiting and silent > self._stall_timeout and child.process.poll() is None:
                child.hung_after = silent
                log.warning("%s sent nothing for %.0f s: stopping it", self._what, silent)
                with contextlib.suppress(OSError):
                    child.process.kill()
                return

    def _on_exit(self, child: _Child) -> None:
        with self._lock:
            if self._child is child:
                self._child = None
            child.exited = True
            listeners, child.listeners = child.listeners, {}
        error = self._died(child)
        if not child.ready.done():
            child.ready.set_exception(error)
        child.active.clear()
        if listeners or not child.stopping:
            log.warning("%s", error)
        for listener in listeners.values():
            listener.deliver(error)

    def _died(self, child: _Child) -> WorkerDied:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.process.wait(timeout=5)
        report = ExitReport(child.process.returncode, hung_after=child.hung_after)
        if child.ready.done() and isinstance(child.ready.exception(), WorkerFailedToStart):
            return child.ready.exception()  # type: ignore[return-value]
        message = f"{self._what} (pid {child.pid}) {report.describe()}"
        tail = [line for line in child.stderr_tail if line.strip()]
        if tail and report.hung_after is None:
            message += f"; its last words: {tail[-1][:300]}"
        return WorkerDied(message, returncode=report.returncode, hung=report.hung_after is not None)

    @staticmethod
    def _reap(child: _Child) -> None:
        try:
            child.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            child.process.kill()
            child.process.wait()
