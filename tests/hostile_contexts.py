"""Hostile context files, shared by the store's unit tests and the reliability
suite's R4 (which plants each one in front of every door): name -> (content or
a special kind planted by :func:`plant`, text expected in the error)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from jupyter_collab.core.context_format import MAX_CONTEXT_BYTES, serialize_context
from jupyter_collab.core.context_model import Amendment, CollabContext
from tests.reliability.helpers import fingerprint

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


def truncations() -> dict[str, bytes]:
    cuts = [1, 2, 17, len(VALID) // 3, len(VALID) // 2, len(VALID) - 40, len(VALID) - 2]
    return {f"truncated at byte {n}": VALID[:n] for n in cuts}


# name -> (content or a special kind, text expected in the message)
HOSTILE: dict[str, tuple[bytes | str, str]] = {
    "empty file": (b"", "invalid JSON"),
    "whitespace only": (b"  \n\t\n", "invalid JSON"),
    "not JSON": (b"{not json", "invalid JSON at line 1 column 2"),
    **{name: (data, "invalid JSON") for name, data in truncations().items()},
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
    """What must not change: a file's fingerprint, or a folder's or special file's."""
    if path.is_dir():
        return ("dir", sorted(os.listdir(path)), os.stat(path).st_mtime_ns)
    if not path.is_file():
        st = os.stat(path)
        return ("special", st.st_mode, st.st_mtime_ns)
    return fingerprint(path)
