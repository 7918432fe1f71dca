"""Which notebook is this kernel running? Finding it with no flags.

A kernel is not told which notebook it serves, yet ``%%collab`` needs the
notebook's context file (``X.collab.json`` beside ``X.ipynb``, or the copy
embedded in ``X.ipynb``), its stored answers and its earlier collaborator
turns. The first of these that gives an answer wins, and the answer is kept for
the life of the kernel (until ``%collab context PATH``):

1. ``%collab context PATH`` (or ``c.CollabMagics.notebook_path``).
2. The environment variable ``JUPYTER_COLLAB_NOTEBOOK`` (a path to the
   ``.ipynb``). Both of these must name an existing notebook or the cell fails.
3. ``JPY_SESSION_NAME``: jupyter-server (2.x, so JupyterLab, Notebook 7 and
   JupyterHub) sets it in the environment of every kernel it starts for a
   session. For a notebook session it is the absolute OS path of the notebook
   (``SessionManager.get_kernel_env`` joins the kernel's working directory and
   the session name); without a session name it is the API path, relative to
   the server's root, which is resolved from the kernel's working directory
   upwards. A stale value (the notebook was renamed) is skipped.
4. ``__vsc_ipynb_file__``: VS Code's Jupyter extension puts the notebook path
   in the kernel namespace.
5. The running cell. JupyterLab sends the cell's id as ``cellId`` in the
   ``execute_request`` metadata (``kernel.get_parent()["metadata"]``), and every
   frontend sends the cell's exact source (``content.code``). nbclient, and so
   ``jupyter nbconvert --execute`` and papermill, send no cell id (checked with
   nbclient 0.11), so the source is what identifies the cell there. Candidate
   notebooks are the ``.ipynb`` arguments of the process that launched the
   kernel (``JPY_PARENT_PID``; read from ``/proc`` on Linux: the command line
   of ``jupyter nbconvert ... X.ipynb`` or ``papermill IN.ipynb OUT.ipynb``,
   resolved in that process's working directory) and the ``.ipynb`` files in the
   kernel's working directory (nbconvert starts the kernel in the notebook's
   folder; papermill starts it in its own working directory unless ``--cwd``).
   A papermill output notebook that is still running names its input
   (``metadata.papermill.input_path``): the input notebook is used, since the
   context sidecar and the stored answers are beside and inside it. When several
   notebooks contain the cell, one named on the launcher's command line wins,
   then one with a sidecar; otherwise the cell fails and asks for
   ``JUPYTER_COLLAB_NOTEBOOK``.
6. Exactly one notebook in the working directory has ``%%collab`` cells.

When nothing is found the cell runs without a notebook context (and says so
once on stderr).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.context_format import sidecar_path_for
from ..core.history import cell_source
from ..core.notebook import NotebookFileError, is_collab_cell, read_notebook_file
from .errors import CollabNotebookError

NOTEBOOK_ENV = "JUPYTER_COLLAB_NOTEBOOK"
SESSION_ENV = "JPY_SESSION_NAME"
PARENT_PID_ENV = "JPY_PARENT_PID"
VSCODE_VARIABLE = "__vsc_ipynb_file__"


@dataclass
class NotebookLocation:
    path: Path
    how: str  # which rule found it (shown by ``%collab status``)


@dataclass
class CellInfo:
    """What the kernel knows about the cell being run."""

    code: str
    cell_id: str | None = None  # JupyterLab's cellId, when the frontend sent one


def read_notebook_json(path: Path) -> dict[str, Any] | None:
    """The raw notebook JSON, or ``None`` when it cannot be read as a notebook."""
    try:
        return read_notebook_file(path)
    except NotebookFileError:
        return None


def locate_cell(
    notebook: Mapping[str, Any], cell: CellInfo, after: int | None = None
) -> int | None:
    """The index of the running cell in ``notebook``: by id, else by exact source.

    Cells with the same source are told apart by run order: the first one after
    ``after`` (the index last run in this notebook), else the first one.
    """
    cells = list(notebook.get("cells") or [])
    if cell.cell_id:
        for index, nb_cell in enumerate(cells):
            if nb_cell.get("id") == cell.cell_id:
                return index
    matches = [i for i, c in enumerate(cells) if _same_source(cell_source(c), cell.code)]
    if not matches:
        return None
    if after is not None:
        later = [i for i in matches if i > after]
        if later:
            return later[0]
    return matches[0]


def _same_source(a: str, b: str) -> bool:
    return a == b or a.strip() == b.strip()


def _contains(notebook: Mapping[str, Any], cell: CellInfo) -> tuple[bool, bool]:
    """(matches the cell at all, matches by cell id)."""
    cells = list(notebook.get("cells") or [])
    if cell.cell_id and any(c.get("id") == cell.cell_id for c in cells):
        return True, True
    return any(_same_source(cell_source(c), cell.code) for c in cells), False


def _has_collab_cells(notebook: Mapping[str, Any]) -> bool:
    return any(is_collab_cell(dict(c)) for c in notebook.get("cells") or [])


def resolve_session_name(value: str, cwd: Path) -> Path | None:
    """``JPY_SESSION_NAME`` as an existing ``.ipynb`` path, or ``None``."""
    if not value or not value.endswith(".ipynb"):
        return None
    candidate = Path(value)
    if candidate.is_absolute():
        return candidate if candidate.is_file() else None
    # An API path, relative to the server root: the root is the working
    # directory or one of its parents (kernels start in the notebook's folder).
    found: list[Path] = []
    for root in (cwd, *cwd.parents):
        path = root / candidate
        if path.is_file():
            found.append(path)
    if not found:
        return None
    in_cwd = [p for p in found if p.parent.resolve() == cwd.resolve()]
    return (in_cwd or found)[0]


def launcher_notebooks(env: Mapping[str, str]) -> list[Path]:
    """``.ipynb`` arguments of the process that started this kernel (Linux ``/proc``)."""
    pids: list[str] = []
    for pid in (env.get(PARENT_PID_ENV), str(os.getppid())):
        if pid and pid.isdigit() and pid not in pids:
            pids.append(pid)
    found: list[Path] = []
    for pid in pids:
        proc = Path("/proc") / pid
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            cwd = Path(os.readlink(proc / "cwd"))
        except OSError:
            continue
        for raw in argv:
            arg = raw.decode("utf-8", "replace")
            if "=" in arg and arg.startswith("-"):
                arg = arg.split("=", 1)[1]
            if not arg.endswith(".ipynb"):
                continue
            path = Path(arg) if Path(arg).is_absolute() else cwd / arg
            if path.is_file() and path not in found:
                found.append(path)
    return found


def papermill_input(path: Path, notebook: Mapping[str, Any], bases: Sequence[Path]) -> Path:
    """For a papermill output notebook still being written, its input notebook."""
    info = (notebook.get("metadata") or {}).get("papermill") or {}
    input_path = info.get("input_path")
    if not input_path or not info.get("start_time") or info.get("end_time"):
        return path
    candidate = Path(str(input_path))
    options = [candidate] if candidate.is_absolute() else [b / candidate for b in bases]
    for option in options:
        if option.is_file() and option.suffix == ".ipynb":
            return option
    return path


@dataclass
class NotebookFinder:
    """Finds (and remembers) the notebook of this kernel; see the module docstring."""

    env: Mapping[str, str] = field(default_factory=lambda: os.environ)
    cwd: Path | None = None
    override: Path | None = None
    located: NotebookLocation | None = None
    last_index: dict[Path, int] = field(default_factory=dict)

    def working_dir(self) -> Path:
        return self.cwd or Path.cwd()

    def set_override(self, path: str | os.PathLike[str] | None) -> NotebookLocation | None:
        """``%collab context PATH``: use this notebook from now on (``None`` resets)."""
        self.located = None
        self.last_index.clear()
        if path is None:
            self.override = None
            return None
        self.override = self._checked(Path(path), "%collab context")
        self.located = NotebookLocation(self.override, "%collab context")
        return self.located

    def _checked(self, path: Path, what: str) -> Path:
        path = path.expanduser()
        if not path.is_absolute():
            path = self.working_dir() / path
        if path.suffix != ".ipynb":
            raise CollabNotebookError(f"{what}: {path} is not a notebook (expected a .ipynb file)")
        if not path.is_file():
            raise CollabNotebookError(f"{what}: the notebook {path} does not exist")
        return path

    def find(
        self, cell: CellInfo | None = None, user_ns: Mapping[str, Any] | None = None
    ) -> NotebookLocation | None:
        if self.override is not None:
            return NotebookLocation(self._checked(self.override, "%collab context"), "override")
        explicit = self.env.get(NOTEBOOK_ENV)
        if explicit:
            return NotebookLocation(self._checked(Path(explicit), NOTEBOOK_ENV), NOTEBOOK_ENV)
        if self.located is not None and self.located.path.is_file():
            return self.located
        self.located = self._discover(cell, user_ns or {})
        return self.located

    def _discover(
        self, cell: CellInfo | None, user_ns: Mapping[str, Any]
    ) -> NotebookLocation | None:
        cwd = self.working_dir()
        session = resolve_session_name(self.env.get(SESSION_ENV, ""), cwd)
        if session is not None:
            return NotebookLocation(session, SESSION_ENV)
        vscode = user_ns.get(VSCODE_VARIABLE)
        if isinstance(vscode, str) and vscode.endswith(".ipynb") and Path(vscode).is_file():
            return NotebookLocation(Path(vscode), VSCODE_VARIABLE)
        launcher = launcher_notebooks(self.env)
        local = sorted(p for p in cwd.glob("*.ipynb") if p.is_file())
        if cell is not None:
            found = self._by_cell(cell, launcher, local)
            if found is not None:
                return found
        with_cells = [p for p in local if _has_collab_cells(read_notebook_json(p) or {})]
        if len(with_cells) == 1:
            return NotebookLocation(with_cells[0], "only notebook with %%collab cells")
        return None

    def _by_cell(
        self, cell: CellInfo, launcher: Sequence[Path], local: Sequence[Path]
    ) -> NotebookLocation | None:
        bases = [self.working_dir(), *{p.parent for p in launcher}]
        scored: dict[Path, tuple[int, int, int]] = {}
        for path, from_launcher in _unique([(p, 1) for p in launcher] + [(p, 0) for p in local]):
            notebook = read_notebook_json(path)
            if notebook is None:
                continue
            matches, by_id = _contains(notebook, cell)
            if not matches:
                continue
            target = papermill_input(path, notebook, bases).resolve()
            has_sidecar = int(Path(sidecar_path_for(str(target))).is_file())
            score = (by_id, from_launcher, has_sidecar)
            scored[target] = max(score, scored.get(target, (0, 0, 0)))
        if not scored:
            return None
        ranked = sorted(scored.items(), key=lambda item: item[1], reverse=True)
        if len(ranked) > 1 and ranked[0][1] == ranked[1][1]:
            tied = [str(p) for p, s in ranked if s == ranked[0][1]]
            raise CollabNotebookError(
                "this cell appears in several notebooks ("
                + ", ".join(tied)
                + f"); say which one this kernel runs with {NOTEBOOK_ENV}=PATH or "
                "`%collab context PATH`"
            )
        path, score = ranked[0]
        how = "cell id" if score[0] else "cell source"
        if score[1]:
            how += " (launcher command line)"
        return NotebookLocation(path, how)

    def remember_index(self, path: Path, index: int | None) -> None:
        if index is not None:
            self.last_index[path] = index


def _unique(items: Iterable[tuple[Path, int]]) -> list[tuple[Path, int]]:
    seen: dict[Path, int] = {}
    for path, flag in items:
        key = path.resolve()
        seen[key] = max(flag, seen.get(key, 0))
    return list(seen.items())
