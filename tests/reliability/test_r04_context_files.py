"""R4: corrupt, truncated, wrong-schema, enormous and hostile context files give a
clear error naming the file, and the file is left byte-identical (content,
size and mtime), in every door: the server's routes (REST and WebSocket), the
CLI, the local store the kernel uses, and the kernel door itself."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest

from jupyter_collab.cli import main as cli_main
from jupyter_collab.core.errors import ContextFileError
from jupyter_collab.core.models import Amendment, CollabContext
from jupyter_collab.core.store import MAX_CONTEXT_BYTES, LocalContextStore, serialize_context
from tests.reliability.helpers import fingerprint, sample_bodies, ws_send, ws_until

VALID = serialize_context(
    CollabContext(
        revision=3,
        amendments=[
            Amendment(kind="fact", text="The cohort is patients admitted 2019-2021."),
            Amendment(kind="process", text="Ask one clarifying question first."),
            Amendment(kind="fact", text="Cite Smith et al. 2020 for the baseline."),
        ],
    )
).encode()


def _truncations() -> dict[str, bytes]:
    cuts = [1, 2, 17, len(VALID) // 3, len(VALID) // 2, len(VALID) - 40, len(VALID) - 2]
    return {f"truncated at byte {n}": VALID[:n] for n in cuts}


# name -> (content or a special kind, text expected in the message)
HOSTILE: dict[str, tuple[bytes | str, str]] = {
    "empty file": (b"", "invalid JSON"),
    "whitespace only": (b"  \n\t\n", "invalid JSON"),
    "not JSON": (b"{not json", "invalid JSON at line 1 column 2"),
    **{name: (data, "invalid JSON") for name, data in _truncations().items()},
    "a list": (b"[1, 2, 3]", "expected a JSON object, found list"),
    "a string": (b'"context"', "expected a JSON object, found str"),
    "null": (b"null", "expected a JSON object, found NoneType"),
    "future schema": (b'{"schema_version": 99}', "schema_version 99 is not supported"),
    "wrong kind": (
        b'{"schema_version": 1, "amendments": [{"kind": "opinion", "text": "x"}]}',
        "amendments.0.kind",
    ),
    "amendments not a list": (b'{"schema_version": 1, "amendments": 3}', "amendments"),
    "unknown field": (b'{"schema_version": 1, "surprise": true}', "surprise"),
    "blank text": (
        b'{"schema_version": 1, "amendments": [{"kind": "fact", "text": "   "}]}',
        "amendments.0.text",
    ),
    "duplicate ids": (
        b'{"schema_version": 1, "amendments": ['
        b'{"id": "a-1234", "kind": "fact", "text": "x"},'
        b'{"id": "a-1234", "kind": "fact", "text": "y"}]}',
        "duplicate id",
    ),
    "id with path characters": (
        b'{"schema_version": 1, "amendments": [{"id": "../../etc", "kind": "fact", "text": "x"}]}',
        "amendments.0.id",
    ),
    "not UTF-8": (b'{"schema_version": 1, "x": "\xff\xfe"}', "not UTF-8"),
    "UTF-16": ('{"schema_version": 1}'.encode("utf-16"), "not UTF-8"),
    "UTF-8 BOM": (b"\xef\xbb\xbf" + VALID, "BOM"),
    "deep nesting": (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    "deeply nested object": (
        b'{"schema_version": 1, "settings": ' + b'{"a": ' * 50_000 + b"1" + b"}" * 50_001,
        "nested too deeply",
    ),
    "negative revision": (b'{"schema_version": 1, "revision": -3}', "revision"),
    "huge integer": (b'{"schema_version": 1, "revision": ' + b"9" * 5000 + b"}", "invalid JSON"),
    "NaN temperature": (b'{"schema_version": 1, "settings": {"temperature": NaN}}', "temperature"),
    "infinite max_tokens": (
        b'{"schema_version": 1, "settings": {"max_tokens": 1e999}}',
        "max_tokens",
    ),
    "oversized entry": (
        json.dumps(
            {"schema_version": 1, "amendments": [{"kind": "fact", "text": "x" * 9000}]}
        ).encode(),
        "amendments.0.text",
    ),
    "enormous (sparse, over the limit)": ("sparse", "over the limit"),
    "a FIFO": ("fifo", "not a regular file"),
    "a folder": ("folder", "is a folder"),
}


def plant(path: Path, content: bytes | str) -> None:
    if content == "sparse":
        with open(path, "wb") as handle:
            handle.truncate(MAX_CONTEXT_BYTES + 1)
    elif content == "fifo":
        os.mkfifo(path)
    elif content == "folder":
        path.mkdir()
    else:
        path.write_bytes(content)  # type: ignore[arg-type]


def state(path: Path):
    if path.is_dir():
        return ("dir", sorted(os.listdir(path)), os.stat(path).st_mtime_ns)
    if not path.is_file():
        st = os.stat(path)
        return ("special", st.st_mode, st.st_mtime_ns)
    return fingerprint(path)


def remove(path: Path) -> None:
    if path.is_dir():
        path.rmdir()
    else:
        path.unlink()


@pytest.mark.timeout(240)
async def test_r04_hostile_context_files_through_the_server(
    collab_api, jp_ws_fetch, make_notebook, jp_root_dir, anthropic_env, figures
):
    make_notebook("nb.ipynb")
    sidecar = jp_root_dir / "nb.collab.json"
    ws = await jp_ws_fetch("jupyter-collab", "stream")
    checks = 0
    bodies = sample_bodies("nb.ipynb")
    for index, (name, (content, expected)) in enumerate(HOSTILE.items()):
        plant(sidecar, content)
        before = state(sidecar)
        calls = [
            ("context", "GET", None, True),
            ("context", "PATCH", bodies[("context", "PATCH")], True),
            ("context", "PUT", {"context": {"schema_version": 1}, "revision": 3}, True),
            ("finalize", "POST", bodies[("finalize", "POST")], False),
            ("complete", "POST", bodies[("complete", "POST")], False),
            ("suggest", "POST", bodies[("suggest", "POST")], False),
            ("preview", "POST", bodies[("preview", "POST")], False),
        ]
        for route, method, body, query in calls:
            params = {"path": "nb.ipynb"} if query else None
            code, reply = await collab_api(route, method=method, body=body, params=params)
            assert code == 409, (name, route, method, code, reply)
            assert reply["reason"] == "invalid_context_file", (name, route, reply)
            assert "nb.collab.json" in reply["message"], (name, reply)
            assert expected in reply["message"], (name, expected, reply["message"])
            checks += 1
        await ws_send(ws, {"type": "complete", "id": str(index), "path": "nb.ipynb", "prompt": "x"})
        error = (await ws_until(ws, str(index), "error", "result"))[-1]
        assert error["type"] == "error" and error["status"] == 409, (name, error)
        assert "nb.collab.json" in error["message"]
        checks += 1
        assert state(sidecar) == before, name  # byte-identical, not even touched
        assert sorted(p.name for p in jp_root_dir.iterdir()) == ["nb.collab.json", "nb.ipynb"]
        remove(sidecar)
    ws.close()
    assert anthropic_env.message_requests() == []  # a broken context never reaches a model
    figures.add(
        "R4",
        f"{len(HOSTILE)} hostile context files (corrupt, {len(_truncations())} truncations, "
        "wrong schema, 64 MB+, FIFO, folder, deep nesting…) x 8 server calls: "
        f"{checks} clear 409s naming the file, 0 files changed",
    )


async def test_r04_a_damaged_embedded_copy_is_reported_and_left_alone(
    collab_api, make_notebook, jp_root_dir
):
    path = make_notebook("nb.ipynb", context={"schema_version": 1, "amendments": "garbage"})
    before = fingerprint(path)
    code, body = await collab_api("context", params={"path": "nb.ipynb"})
    assert code == 200, body
    assert "nb.ipynb" in body["embedded_error"] and "amendments" in body["embedded_error"]
    assert body["needs_review"] is False and body["context"]["amendments"] == []
    assert fingerprint(path) == before


def test_r04_hostile_context_files_in_the_cli_and_local_store(tmp_path, capsys, figures):
    notebook = tmp_path / "nb.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), notebook)
    store = LocalContextStore(notebook)
    checks = 0
    for name, (content, expected) in HOSTILE.items():
        plant(store.path, content)
        before = state(store.path)
        with pytest.raises(ContextFileError) as info:
            store.load()
        assert str(store.path) in str(info.value) and expected in str(info.value), name
        for change in (lambda c: None, lambda c: c.amendments.clear()):
            with pytest.raises(ContextFileError):
                store.update(change)
        with pytest.raises(ContextFileError):
            store.save(CollabContext())
        checks += 4
        for argv in (
            ["context", "show", str(notebook)],
            ["context", "validate", str(notebook)],
            ["context", "add", str(notebook), "--kind", "fact", "--text", "New."],
            ["context", "import", str(notebook)],
        ):
            capsys.readouterr()
            code = cli_main(argv)
            err = capsys.readouterr().err
            assert code != 0, (name, argv)
            if argv[1] != "import":  # import first says there is nothing embedded
                assert "nb.collab.json" in err and expected in err, (name, argv, err)
            assert "Traceback" not in err
            checks += 1
        assert state(store.path) == before, name
        assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
        remove(store.path)
    figures.add("R4", f"{checks} CLI and local-store checks, 0 files changed")


def test_r04_the_kernel_door_names_the_file(tmp_path):
    notebook_state = pytest.importorskip("jupyter_collab.kernel.notebook_state")
    notebook = tmp_path / "nb.ipynb"
    nbformat.write(nbformat.v4.new_notebook(), notebook)
    sidecar = tmp_path / "nb.collab.json"
    for name, (content, expected) in HOSTILE.items():
        plant(sidecar, content)
        before = state(sidecar)
        with pytest.raises(Exception) as info:
            notebook_state.load_state(notebook)
        assert "nb.collab.json" in str(info.value) and expected in str(info.value), name
        assert state(sidecar) == before
        remove(sidecar)
