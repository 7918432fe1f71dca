"""The kernel door: what one ``%%collab`` cell does, without IPython in the way.

The magic (``magic.py``) only gathers the inputs (options line, prompt, user
namespace, the running cell's id and source) and hands them to
:class:`KernelDoor`, which:

1. parses the options with ``core.cellsource.parse_options`` (the server's parser)
   and fills ``{name}`` from the namespace (``variables.py``);
2. finds the notebook (``discovery.py``) and loads its context
   (``notebook_state.py``), checking its constitution first when the settings
   ask for it (``check_before_run.py``);
3. builds the history: the answered collaborator cells above this one
   (``core.history``), unless ``--no-history``;
4. prepares the request without calling (``Broker.prepare``) and decides,
   by run mode and input hash, whether to reuse a stored answer
   (``core/answer_reuse.py`` on ``core.replay.decide``). Stored answers, in
   order: this session's answer of the cell, the cell's output in the notebook
   on disk (matched by cell id or source), and the cell's output in
   ``X.nbconvert.ipynb`` (what an earlier
   ``jupyter nbconvert --to notebook --execute X.ipynb`` wrote,
   ``executed_copies.py``);
5. reuses (re-displays the stored bundle byte for byte) or streams a new answer
   (``loop_thread.py`` + ``display.py``) and shows the final bundle from
   ``core.outputs.build_bundle``: the very bundle the server door writes. A
   call with embedded context nobody accepted is refused first
   (``NotebookState.require_reviewed``); reuse needs no trust.
6. embeds the context in effect in the output's metadata
   (``executed_copies.carrying_context``), so an executed copy written under another name
   carries it.

Every failure raises a kernel error (``errors.py``).
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.answer_reuse import decide_reuse
from ..core.broker import Broker
from ..core.context_model import CollabContext
from ..core.errors import CollabError
from ..core.history import cell_key, turns_for_cell
from ..core.layer_sharing import embedded_layers, missing_layers
from ..core.layers import context_in_effect, resolve_layers
from ..core.operation_models import CheckReport, CompletionInput, CompletionResult
from ..core.outputs import CollabOutput, build_bundle
from ..core.providers.base import TextDelta
from ..core.replay import (
    Action,
    StoredAnswer,
    cell_highlights,
    redisplay_bundle,
    stored_answer_of_cell,
)
from .check_before_run import require_holding, run_check
from .discovery import CellInfo, NotebookFinder, NotebookLocation, locate_cell
from .display import Publisher, StreamingDisplay, ipython_publisher
from .errors import CollabUsageError, for_kernel
from .executed_copies import carrying_context, nbconvert_answer
from .kernel_settings import KernelSettings
from .loop_thread import LoopThread, stream_events
from .notebook_state import NotebookState, load_state
from .variables import fill_prompt


@dataclass
class CellRun:
    """What one cell run did (kept as ``door.last`` for ``%collab review``)."""

    action: Action
    reason: str
    result: CompletionResult
    data: dict[str, Any]
    metadata: dict[str, Any]
    cell_id: str | None
    location: NotebookLocation | None
    state: NotebookState | None
    request: CompletionInput
    filled: list[str] = field(default_factory=list)
    updates: int = 0


def _warn(message: str) -> None:
    print(message, file=sys.stderr)


class KernelDoor:
    def __init__(
        self,
        settings: KernelSettings | None = None,
        *,
        broker: Broker | None = None,
        runner: LoopThread | None = None,
        finder: NotebookFinder | None = None,
        publish: Publisher = ipython_publisher,
        warn: Callable[[str], None] = _warn,
    ):
        self.settings = settings or KernelSettings()
        self._broker = broker
        self.runner = runner or LoopThread()
        self.finder = finder or NotebookFinder()
        if self.settings.notebook_path:
            self.finder.set_override(self.settings.notebook_path)
        self.publish = publish
        self.warn = warn
        self.answers: dict[str, StoredAnswer] = {}
        self.order: list[str] = []
        self.last: CellRun | None = None
        self._warned_no_notebook = False
        self._warned_layers: set[tuple[Path, tuple[str, ...]]] = set()
        self._prefixes: dict[Path, str] = {}
        self._checked: dict[Path, CheckReport] = {}

    # -- shared objects --------------------------------------------------------

    @property
    def broker(self) -> Broker:
        if self._broker is None:
            self._broker = Broker(self.settings.config)
        return self._broker

    def reset_broker(self) -> None:
        """Forget the broker (after a configuration change); the next cell builds a new one."""
        old, self._broker = self._broker, None
        if old is not None:
            try:
                self.runner.run(old.aclose())
            except Exception:  # closing an unused client must not break the kernel
                pass

    def close(self) -> None:
        self.reset_broker()
        self.runner.close()

    # -- one cell ----------------------------------------------------------------

    def run_cell(
        self,
        line: str,
        body: str,
        *,
        namespace: Mapping[str, Any],
        cell: CellInfo,
    ) -> CellRun:
        try:
            return self._run_cell(line, body, namespace, cell)
        except CollabError as err:
            raise for_kernel(err) from None

    def _run_cell(
        self, line: str, body: str, namespace: Mapping[str, Any], cell: CellInfo
    ) -> CellRun:
        from ..core.cellsource import parse_options

        options = parse_options(line)
        prompt = body.strip()
        if not prompt:
            raise CollabUsageError("the collaborator cell has no prompt below %%collab")
        filled_prompt, filled = fill_prompt(prompt, namespace, self.settings.value_max_chars)

        location = self.finder.find(cell, namespace)
        state: NotebookState | None = None
        index: int | None = None
        if location is None:
            if not self._warned_no_notebook:
                self._warned_no_notebook = True
                self.warn(
                    "jupyter-collab: could not tell which notebook this kernel runs, so this "
                    "cell has no notebook context, stored answers or history from disk; set "
                    "JUPYTER_COLLAB_NOTEBOOK=PATH or run `%collab context PATH`."
                )
        else:
            state = load_state(location.path, trust_embedded=self.settings.trust_embedded)
            for conflict in state.conflicts:
                self.warn(f"jupyter-collab: {state.path.name}: {conflict}")
            self._warn_missing_layers(state)
            index = locate_cell(state.notebook, cell, self.finder.last_index.get(location.path))
            self.finder.remember_index(location.path, index)
            if self.settings.check != "off":
                self._check_constitution(state)

        cell_id = self._cell_id(state, index, cell)
        key = self._key(location, state, index, cell)
        history = []
        if not options.no_history:
            prefix = self._prefix(location)
            history = turns_for_cell(
                state.notebook if state is not None else None,
                index,
                self._session_results(location),
                [k for k in self.order if k.startswith(prefix)],
                key,
            )
        request = CompletionInput(
            prompt=filled_prompt,
            cell_id=cell_id,
            mode=options.mode,
            model=options.model,
            temperature=options.temperature,
            max_tokens=options.max_tokens,
            history=history,
            use_context=not options.no_context,
            use_history=not options.no_history,
        )
        # The notebook's context with its project and personal layers (the project
        # layer is looked for up to the repository or file system root).
        context = context_in_effect(state.path, state.context) if state is not None else None
        on_disk = None
        if state is not None and index is not None:
            on_disk = stored_answer_of_cell(state.notebook["cells"][index], "notebook")
        where = f"cell {cell_id}" if cell_id else "this cell"
        if state is not None:
            where += f" of {state.path.name}"
        earlier = nbconvert_answer(state.path, cell_id) if state is not None else None
        decision = decide_reuse(
            self.settings.run_mode,
            self.settings.config,
            lambda: self.broker,
            request,
            context,
            [self.answers.get(key), on_disk, earlier],
            where,
            cell_id,
        )
        carried = state.carried if state is not None else None
        if decision.action == Action.reuse and decision.stored is not None:
            data, metadata = redisplay_bundle(decision.stored, context, cell_id)
            metadata = carrying_context(metadata, carried)
            StreamingDisplay(self.settings.update_interval, self.publish).finish(data, metadata)
            stored = decision.stored
            self._keep(key, StoredAnswer(stored.output, data, metadata, "session"))
            run = CellRun(
                Action.reuse,
                decision.reason,
                stored.output.result,
                data,
                metadata,
                cell_id,
                location,
                state,
                request,
                filled,
            )
        else:
            if state is not None:
                state.require_reviewed()
            result, data, metadata, updates = self._stream(request, context, cell_id, carried)
            output = CollabOutput(
                result=result, highlights=cell_highlights(context, cell_id, result.answer)
            )
            answer = StoredAnswer(output, data, metadata, "session", decision.keep_for_reuse)
            self._keep(key, answer)
            run = CellRun(
                Action.call,
                decision.reason,
                result,
                data,
                metadata,
                cell_id,
                location,
                state,
                request,
                filled,
                updates,
            )
        self.last = run
        return run

    def _stream(
        self,
        request: CompletionInput,
        context: Any,
        cell_id: str | None,
        carried: CollabContext | None,
    ) -> tuple[CompletionResult, dict[str, Any], dict[str, Any], int]:
        display = StreamingDisplay(self.settings.update_interval, self.publish)
        results: list[CompletionResult] = []

        def on_event(event: Any) -> None:
            if isinstance(event, TextDelta):
                display.add(event.text)
            elif isinstance(event, CompletionResult):
                results.append(event)

        broker = self.broker
        try:
            stream_events(
                self.runner,
                lambda: broker.complete(request, context),
                on_event,
                on_idle=display.tick,
            )
        finally:
            display.flush()  # whatever arrived stays visible, also on errors
        if not results:
            raise CollabError("the model stream ended without a result")
        result = results[0]
        highlights = cell_highlights(context, cell_id, result.answer)
        data, metadata = build_bundle(CollabOutput(result=result, highlights=highlights))
        metadata = carrying_context(metadata, carried)
        display.finish(data, metadata)
        return result, data, metadata, display.updates

    # -- the check before a run ---------------------------------------------------------

    def _check_constitution(self, state: NotebookState) -> None:
        """Check the notebook's enabled amendments once per session (the first
        collaborator cell runs it); one that does not hold fails this cell and
        every later one, so a headless run stops."""
        report = self._checked.get(state.path)
        if report is None:
            report = self._checked[state.path] = run_check(
                state, self.settings, lambda: self.broker, self.runner, self.warn
            )
        require_holding(report, state.path.name)

    # -- session bookkeeping -------------------------------------------------------

    def _prefix(self, location: NotebookLocation | None) -> str:
        if location is None:
            return "?::"
        # Resolved once per path (symlinks: a few system calls, three times a cell).
        prefix = self._prefixes.get(location.path)
        if prefix is None:
            prefix = self._prefixes[location.path] = f"{location.path.resolve()}::"
        return prefix

    def _key(
        self,
        location: NotebookLocation | None,
        state: NotebookState | None,
        index: int | None,
        cell: CellInfo,
    ) -> str:
        if state is not None and index is not None:
            local = cell_key(state.notebook["cells"][index], index)
        elif cell.cell_id:
            local = cell.cell_id
        else:
            local = "src:" + hashlib.sha256(cell.code.encode("utf-8")).hexdigest()[:16]
        return self._prefix(location) + local

    def _warn_missing_layers(self, state: NotebookState) -> None:
        """Say once per notebook which shared layers it was shared with are lacking here."""
        try:
            carried = embedded_layers(state.notebook, str(state.path))
            if not carried:
                return
            missing = missing_layers(carried, resolve_layers(state.path, state.context))
        except CollabError as err:
            missing = [str(err)]
        key = (state.path, tuple(missing))
        if missing and key not in self._warned_layers:
            self._warned_layers.add(key)
            for message in missing:
                self.warn(f"jupyter-collab: {state.path.name}: {message}")

    @staticmethod
    def _cell_id(state: NotebookState | None, index: int | None, cell: CellInfo) -> str | None:
        if state is not None and index is not None:
            found = state.notebook["cells"][index].get("id")
            if found:
                return str(found)
        return cell.cell_id

    def _session_results(self, location: NotebookLocation | None) -> dict[str, CompletionResult]:
        prefix = self._prefix(location)
        return {
            key[len(prefix) :]: answer.output.result
            for key, answer in self.answers.items()
            if key.startswith(prefix)
        }

    def _keep(self, key: str, answer: StoredAnswer) -> None:
        self.answers[key] = answer
        if key in self.order:
            self.order.remove(key)
        self.order.append(key)

    # -- information -----------------------------------------------------------

    def status(
        self, cell: CellInfo | None = None, namespace: Mapping[str, Any] | None = None
    ) -> str:
        try:
            location = self.finder.find(cell, namespace)
        except CollabError as err:
            location, problem = None, str(err)
        else:
            problem = ""
        lines = [f"run mode: {self.settings.run_mode.value}"]
        if location is None:
            lines.append("notebook: not found" + (f" ({problem})" if problem else ""))
        else:
            lines.append(f"notebook: {location.path} (found by {location.how})")
            sidecar = Path(str(location.path)[: -len(".ipynb")] + ".collab.json")
            lines.append(f"sidecar: {sidecar}{'' if sidecar.exists() else ' (none)'}")
        lines.append(f"provider: {self.settings.config.resolved_provider()}")
        if self.settings.config.model:
            lines.append(f"model: {self.settings.config.model}")
        lines.append(f"answers this session: {len(self.answers)}")
        return "\n".join(lines)
