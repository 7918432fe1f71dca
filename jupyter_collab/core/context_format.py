"""The context file's format: naming, parsing, serializing and the revision rule.

The sidecar for ``X.ipynb`` is ``X.collab.json``. These are plain functions
shared by every backend (local files in ``store.py``, the Jupyter
ContentsManager in the server door), so the rules cannot drift apart:

* data that does not parse or validate raises :class:`ContextFileError` naming
  the file and the problem;
* the file's text is stable (sorted keys, two-space indent, trailing newline);
* every save bumps ``revision``; a save based on an older revision raises
  :class:`StaleRevisionError`.

Nothing here touches the file system.
"""

from __future__ import annotations

import json
from pathlib import PurePosixPath

import orjson
from pydantic import BaseModel, ValidationError

from .context_evidence import (
    EvidenceRef,
    HotContext,
    hot_fields,
    serialize_evidence,
    split_jsonable,
)
from .context_model import SCHEMA_VERSION, CollabContext
from .errors import ContextFileError, StaleRevisionError
from .gc_pause import gc_paused

SIDECAR_SUFFIX = ".collab.json"
# A context of 10,000 amendments is a few MB; anything far larger is not ours.
MAX_CONTEXT_BYTES = 64 * 1024 * 1024


def sidecar_path_for(notebook_path: str) -> str:
    """``dir/analysis.ipynb`` -> ``dir/analysis.collab.json`` (API or OS path)."""
    if not notebook_path.endswith(".ipynb"):
        raise ValueError(f"not a notebook path (expected a .ipynb file): {notebook_path!r}")
    return notebook_path[: -len(".ipynb")] + SIDECAR_SUFFIX


def _describe_validation_error(error: ValidationError) -> str:
    parts = []
    for item in error.errors()[:5]:
        location = ".".join(str(p) for p in item["loc"]) or "(top level)"
        parts.append(f"{location}: {item['msg']}")
    more = error.error_count() - len(parts)
    if more > 0:
        parts.append(f"and {more} more problem(s)")
    return "; ".join(parts)


def parse_context(data: str | bytes | dict, source: str) -> CollabContext:
    """Validate context data; raise :class:`ContextFileError` naming ``source``.

    For a whole context in one piece (an embedded copy, a single-file sidecar):
    a hot file whose evidence is in a second file is refused here, since this
    data alone is not the whole context (the store reads both files).
    """
    with gc_paused():
        parsed = _parse_context(data, source, HotContext)
    if parsed.evidence is not None:
        raise ContextFileError(
            source,
            "holds the amendments without their evidence, which is in "
            f"{len(parsed.evidence)} evidence file(s); read it through the context store",
        )
    return whole_context(parsed)


def parse_hot_context(data: str | bytes, source: str) -> HotContext:
    """Validate a context file that may name an evidence file (``context_evidence.py``)."""
    with gc_paused():
        return _parse_context(data, source, HotContext)


def whole_context(parsed: HotContext) -> CollabContext:
    """A hot file without an evidence file, as the plain context it is."""
    fields = dict(parsed.__dict__)
    del fields["evidence"]
    return CollabContext.model_construct(
        _fields_set=set(parsed.model_fields_set) - {"evidence"}, **fields
    )


def _parse_context(data: str | bytes | dict, source: str, model: type[HotContext]) -> HotContext:
    if isinstance(data, (bytes, str)):
        if len(data) > MAX_CONTEXT_BYTES:
            unit = "bytes" if isinstance(data, bytes) else "characters"
            raise ContextFileError(source, f"file is {len(data)} {unit}, over the limit")
        try:
            # The common case, parsed and validated in one pass by pydantic-core,
            # straight from the bytes (no decoded copy of the file).
            return model.model_validate_json(data)
        except (ValidationError, ValueError, RecursionError):
            pass  # parse again step by step, to say exactly what is wrong
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ContextFileError(source, f"not UTF-8 text (byte {err.start})") from None
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as err:
            raise ContextFileError(
                source, f"invalid JSON at line {err.lineno} column {err.colno}: {err.msg}"
            ) from None
        except RecursionError:
            raise ContextFileError(source, "invalid JSON: nested too deeply") from None
        except ValueError as err:  # e.g. an integer literal of more than 4300 digits
            raise ContextFileError(source, f"invalid JSON: {err}") from None
    if not isinstance(data, dict):
        raise ContextFileError(source, f"expected a JSON object, found {type(data).__name__}")
    version = data.get("schema_version")
    if version is not None and version != SCHEMA_VERSION:
        raise ContextFileError(
            source,
            f"schema_version {version!r} is not supported (this version reads "
            f"{SCHEMA_VERSION}); upgrade jupyter-collab",
        )
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ContextFileError(source, _describe_validation_error(err)) from None
    except RecursionError:
        raise ContextFileError(source, "structure nested too deeply") from None


def context_to_jsonable(context: CollabContext) -> dict:
    with gc_paused():
        data = context.model_dump(mode="json", exclude_defaults=False)
    for amendment, entry in zip(context.amendments, data.get("amendments") or [], strict=True):
        _drop_unset(amendment, entry)
        _drop_unset(amendment.provenance, entry["provenance"])
        for result, stored in zip(amendment.preview, entry.get("preview") or [], strict=True):
            _drop_unset(result, stored)
    if not data.get("removed"):
        # Tombstones only appear once something was deleted, so a file without
        # deletions stays readable by versions that predate them.
        data.pop("removed", None)
    return data


FILE_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2


def _drop_unset(model: BaseModel, data: dict) -> None:
    """Leave out the fields ``model`` names in ``omit_when_unset`` while they are unset."""
    for name in getattr(model, "omit_when_unset", ()):
        if not data.get(name):
            data.pop(name, None)


def model_fields(value: object) -> dict:
    # A model's ``__dict__`` holds exactly its fields (extra fields are forbidden).
    if isinstance(value, BaseModel):
        fields = value.__dict__
        omit = getattr(value, "omit_when_unset", ())
        if omit and not all(fields[name] for name in omit):
            return {k: v for k, v in fields.items() if k not in omit or v}
        return fields
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")


def serialize_context_bytes(context: CollabContext) -> bytes:
    """The file's bytes: sorted keys, two-space indent, trailing newline.

    Byte for byte the text ``json.dumps(context_to_jsonable(context), sort_keys=True,
    indent=2, ensure_ascii=False) + "\\n"`` gives, written by orjson straight from
    the models (no intermediate dict of the whole context): orjson writes enums
    by value and datetimes in RFC 3339 with ``Z`` for UTC, as pydantic's JSON
    mode does.
    """
    return serialize_context_body(context) + b"\n"


def serialize_context_body(context: CollabContext) -> bytes:
    """The file's bytes but the trailing newline (a 33 MB file is not copied to add it):
    the whole context in one file (an embedded copy, a non-local sidecar)."""
    return serialize_hot_body(context, None)


def serialize_hot_body(context: CollabContext, evidence: list[EvidenceRef] | None) -> bytes:
    """The hot file's bytes but the trailing newline: with ``evidence``, the
    amendments without their evidence and the name of the file that holds it
    (``context_evidence.py``); without, the whole context."""
    top = hot_fields(context, evidence)
    try:
        return orjson.dumps(top, default=model_fields, option=FILE_OPTIONS | orjson.OPT_UTC_Z)
    except TypeError:  # a value outside the file format's types: pydantic's own dump
        data = context_to_jsonable(context)
        if evidence is not None:
            data = split_jsonable(data)[0]
            data["evidence"] = [ref.model_dump(mode="json") for ref in evidence]
        return orjson.dumps(data, option=FILE_OPTIONS)


def serialize_evidence_bytes(context: CollabContext) -> bytes:
    """An evidence file's bytes for ``context``, an evidence chunk
    (``context_evidence.evidence_chunks``), sorted and indented too."""
    try:
        return serialize_evidence(context, FILE_OPTIONS | orjson.OPT_UTC_Z, model_fields)
    except TypeError:  # as in serialize_hot_body
        data = split_jsonable(context_to_jsonable(context))[1]
        return orjson.dumps(data, option=FILE_OPTIONS) + b"\n"


def serialize_context(context: CollabContext) -> str:
    """Stable text: sorted keys, two-space indent, trailing newline (see
    :func:`serialize_context_bytes`)."""
    return serialize_context_bytes(context).decode("utf-8")


def next_revision(
    current: CollabContext | int | None, proposed: CollabContext, source: str
) -> CollabContext:
    """Apply the revision rule: ``proposed`` must be based on the current revision
    (``current`` is the stored context, its revision, or ``None`` when there is none).

    Returns the context to write, with the revision bumped.
    """
    if isinstance(current, CollabContext):
        current = current.revision
    current_revision = current or 0
    if proposed.revision != current_revision:
        raise StaleRevisionError(source, expected=proposed.revision, actual=current_revision)
    return proposed.model_copy(update={"revision": current_revision + 1})


def is_sidecar_path(path: str) -> bool:
    return PurePosixPath(path).name.endswith(SIDECAR_SUFFIX)
