"""R6: two writers on one context (two tabs, or the CLI plus a tab): the stale
write gets 409, and no amendment is lost.

The server and the CLI are separate processes here, as they are for users: the
CLI subprocesses write with ``LocalContextStore`` (flock on the folder) while
the server's handlers write through ``ContentsContextStore``, which takes the
same lock (polling, off the event loop) around read-check-write.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import sys
from pathlib import Path

import pytest

from jupyter_collab.core.store import LocalContextStore

REPO = Path(__file__).resolve().parents[2]


def add(text: str, revision: int) -> dict:
    return {
        "revision": revision,
        "operations": [{"op": "add_amendment", "kind": "fact", "text": text}],
    }


async def test_r06_two_tabs_the_stale_write_gets_409(
    collab_api, make_notebook, jp_root_dir, figures
):
    make_notebook("nb.ipynb")
    params = {"path": "nb.ipynb"}
    # Both tabs open the notebook at revision 0.
    _, tab_a = await collab_api("context", params=params)
    _, tab_b = await collab_api("context", params=params)
    assert tab_a["revision"] == tab_b["revision"] == 0
    code, body = await collab_api("context", method="PATCH", params=params, body=add("A.", 0))
    assert code == 200 and body["revision"] == 1
    stale = 0
    for method, route, payload in (
        ("PATCH", "context", add("B.", 0)),
        ("PUT", "context", {"context": tab_b["context"], "revision": 0}),
        (
            "POST",
            "finalize",
            {"path": "nb.ipynb", "revision": 0, "amendment": {"kind": "fact", "text": "B."}},
        ),
        ("POST", "context/accept", {"revision": 0}),
    ):
        code, body = await collab_api(
            route, method=method, params=None if route == "finalize" else params, body=payload
        )
        assert code == 409, (method, route, body)
        assert body["reason"] == "stale_revision"
        assert "revision 1 on disk" in body["message"] and "reload" in body["message"]
        stale += 1
    # Tab B reloads and applies its change again: both amendments are kept.
    _, tab_b = await collab_api("context", params=params)
    code, body = await collab_api(
        "context", method="PATCH", params=params, body=add("B.", tab_b["revision"])
    )
    assert code == 200, body
    texts = [
        a["text"] for a in json.loads((jp_root_dir / "nb.collab.json").read_text())["amendments"]
    ]
    assert texts == ["A.", "B."]

    # Ten tabs write at once on the same revision: exactly one wins, nine get 409.
    revision = body["revision"]
    results = await asyncio.gather(
        *(
            collab_api("context", method="PATCH", params=params, body=add(f"race {i}.", revision))
            for i in range(10)
        )
    )
    codes = sorted(code for code, _ in results)
    assert codes == [200] + [409] * 9, codes
    stale += 9
    figures.add(
        "R6", f"two tabs: {stale} stale writes (PATCH, PUT, finalize, accept, 9-way race) got 409"
    )


CLI_LOOP = """
import sys
from jupyter_collab.cli import main
notebook, tag, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
for i in range(count):
    code = main(["context", "add", notebook, "--kind", "fact", "--text", f"cli {tag} {i}."])
    assert code == 0, code
"""


@pytest.mark.timeout(180)
async def test_r06_cli_and_tabs_at_once_lose_nothing(
    collab_api, make_notebook, jp_root_dir, figures
):
    notebook = make_notebook("nb.ipynb")
    params = {"path": "nb.ipynb"}
    per_writer = 25
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), *sys.path])}
    clis = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", CLI_LOOP, str(notebook), tag, str(per_writer), env=env
        )
        for tag in ("x", "y")
    ]
    sidecar = jp_root_dir / "nb.collab.json"
    for _ in range(600):  # start the tabs once the CLIs are writing
        if sidecar.exists():
            break
        await asyncio.sleep(0.01)
    conflicts = 0

    async def tab_with_patches(tag: str) -> None:
        nonlocal conflicts
        for i in range(per_writer):
            while True:  # a real tab: reload on 409 and apply the change again
                _, opened = await collab_api("context", params=params)
                code, body = await collab_api(
                    "context",
                    method="PATCH",
                    params=params,
                    body=add(f"tab {tag} {i}.", opened["revision"]),
                )
                if code == 409:
                    assert body["reason"] == "stale_revision", body
                    conflicts += 1
                    continue
                assert code == 200, body
                break

    async def tab_with_finalize(tag: str) -> None:
        for i in range(per_writer):
            code, body = await collab_api(
                "finalize",
                method="POST",
                body={
                    "path": "nb.ipynb",
                    "amendment": {"kind": "process", "text": f"tab {tag} {i}."},
                },
            )
            assert code == 200, body

    await asyncio.gather(tab_with_patches("p"), tab_with_finalize("f"))
    for proc in clis:
        assert await asyncio.wait_for(proc.wait(), timeout=120) == 0

    context = LocalContextStore(notebook).load()
    texts = {a.text for a in context.amendments}
    expected = {f"cli {t} {i}." for t in ("x", "y") for i in range(per_writer)}
    expected |= {f"tab {t} {i}." for t in ("p", "f") for i in range(per_writer)}
    lost = expected - texts
    assert not lost, f"{len(lost)} amendments lost: {sorted(lost)[:5]}"
    assert len(context.amendments) == len(expected)
    assert context.revision == len(expected)  # every write was one revision
    # The writers really overlapped: CLI and tab entries alternate in the file.
    sources = [a.text.split()[0] for a in context.amendments]
    switches = sum(1 for a, b in itertools.pairwise(sources) if a != b)
    assert switches >= 2, sources
    figures.add(
        "R6",
        f"CLI x2 + tab x2 writing at once: {len(expected)} amendments from 4 writers, "
        f"interleaved {switches} times, 0 lost, {conflicts} stale tab writes got 409 "
        "and were re-applied",
    )


async def test_r06_a_lock_held_elsewhere_is_waited_for_then_refused_clearly(
    collab_api, collab_app, make_notebook, jp_root_dir
):
    """Another program holding the folder lock: the server waits off its loop, and
    after ``lock_timeout`` answers 503 with the reason; a waiter that gives up
    (cancelled or timed out) releases the lock as soon as it gets it."""
    from jupyter_collab.core.local_files import (
        acquire_folder_lock,
        release_folder_lock,
        try_folder_lock,
    )

    make_notebook("nb.ipynb")
    store = collab_app.contexts.store
    store.lock_timeout = 0.3
    held = acquire_folder_lock(jp_root_dir)
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        tick = asyncio.create_task(ticker())
        code, body = await collab_api(
            "context", method="PATCH", params={"path": "nb.ipynb"}, body=add("Blocked.", 0)
        )
        tick.cancel()
        assert code == 503 and body["reason"] == "context_locked", body
        assert "another program" in body["message"]
        assert ticks >= 10  # the loop kept running while the request waited
        assert loop.time() - started < 5
        assert not (jp_root_dir / "nb.collab.json").exists()
        waiter = asyncio.create_task(store._folder_lock(str(jp_root_dir), "nb.ipynb"))
        await asyncio.sleep(0.05)
        waiter.cancel()
    finally:
        release_folder_lock(held)
    for _ in range(100):  # the abandoned waiters get the lock and let it go
        fd = try_folder_lock(jp_root_dir)
        if fd is not None:
            release_folder_lock(fd)
            break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("an abandoned waiter kept the folder lock")
    store.lock_timeout = 30
    code, body = await collab_api(
        "context", method="PATCH", params={"path": "nb.ipynb"}, body=add("Now.", 0)
    )
    assert code == 200, body
