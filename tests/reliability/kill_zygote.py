"""A helper process for R5: forks save loops and kills them with SIGKILL.

Started once per test (``python -m tests.reliability.kill_zygote``) so the
imports are paid once; for each line ``TARGET FOLDER DELAY`` on stdin it forks a
child that saves the context of ``FOLDER/nb.ipynb`` in a tight loop through
TARGET's real code path, sleeps DELAY seconds, kills the child with SIGKILL,
reaps it and answers ``killed``. The test then checks the files on disk.

Targets:

* ``local``: ``LocalContextStore.update`` (the CLI's and the kernel's writes);
* ``server``: ``ContentsContextStore.update`` over jupyter-server's
  ``AsyncFileContentsManager`` (the server door's writes);
* ``cli``: the CLI's change path, which also rewrites the copy embedded in the
  notebook (``cli.context.change_context``);
* ``cm-save``: for comparison, jupyter-server's own ``ContentsManager.save`` of
  the sidecar (what the server door did before it wrote local sidecars itself).

Every save sets each amendment's text to ``rev N …`` for the revision N it
writes, so a file mixing two saves is detectable even when it parses.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager

from jupyter_collab.cli.context import change_context
from jupyter_collab.core.context_format import serialize_context
from jupyter_collab.core.context_model import Amendment, CollabContext
from jupyter_collab.core.store import LocalContextStore
from jupyter_collab.server.contents_store import ContentsContextStore

ENTRIES = 12
FILLER = "x" * 4000


def stamp(context: CollabContext) -> CollabContext:
    revision = context.revision + 1
    if not context.amendments:
        context.amendments = [Amendment(kind="fact", text="rev 0") for _ in range(ENTRIES)]
    for index, amendment in enumerate(context.amendments):
        amendment.text = f"rev {revision} entry {index} {FILLER}"
    return context


def run_local(folder: Path) -> None:
    store = LocalContextStore(folder / "nb.ipynb")
    while True:
        store.update(stamp)


def run_cli(folder: Path) -> None:
    notebook = folder / "nb.ipynb"
    while True:
        change_context(notebook, stamp)


def run_server(folder: Path) -> None:
    store = ContentsContextStore(AsyncLargeFileManager(root_dir=str(folder)))

    async def loop() -> None:
        while True:
            await store.update("nb.ipynb", stamp)

    asyncio.run(loop())


def run_cm_save(folder: Path) -> None:
    manager = AsyncLargeFileManager(root_dir=str(folder))
    store = LocalContextStore(folder / "nb.ipynb")

    async def loop() -> None:
        while True:
            current = store.load() or CollabContext()
            context = stamp(current.model_copy(deep=True))
            context.revision += 1
            model = {"type": "file", "format": "text", "content": serialize_context(context)}
            await manager.save(model, "nb.collab.json")

    asyncio.run(loop())


TARGETS = {"local": run_local, "cli": run_cli, "server": run_server, "cm-save": run_cm_save}


def main() -> int:
    print("ready", flush=True)
    for line in sys.stdin:
        target, folder, delay = line.split()
        pid = os.fork()
        if pid == 0:  # the child: save until killed
            try:
                TARGETS[target](Path(folder))
            finally:
                os._exit(1)
        time.sleep(float(delay))
        os.kill(pid, signal.SIGKILL)
        _, status = os.waitpid(pid, 0)
        killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        print("killed" if killed else f"exited {status}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
