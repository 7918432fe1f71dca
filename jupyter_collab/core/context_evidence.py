"""The context file split in two: the entries every call reads, and their evidence.

A context of thousands of amendments is mostly evidence: where each came from
(provenance), what its preview found, its edit history and its last check, plus
the highlights and corrections it was made from. A completion only needs the
amendments themselves, so the evidence lives in a second file:

* ``X.collab.json`` (the hot file) holds settings, tombstones and the amendments
  without their evidence, plus ``evidence``: the names and SHA-256 hashes of the
  evidence files written with it;
* ``X.collab.evidence/<first 16 hex of the SHA-256>.json`` each hold the evidence
  of a run of :data:`CHUNK` amendments (keyed by id) and of as many highlights
  and corrections, in order. A file's name is its content, so an evidence file
  is never rewritten: a save writes the hot file and only the evidence files
  whose part of the evidence changed (an edit of one amendment: one file).

Two files cannot be replaced together atomically, so the order is the rule: the
evidence file is written (and fsynced) first under its new name, then the hot
file that names it. A crash between the two leaves the old hot file naming the
old evidence file, which is still there; the new evidence file is an orphan,
removed by the next save. A reader that finds the named evidence file missing
or different from its hash raises :class:`ContextFileError` saying so, and no
writer overwrites a context it could not read, so nothing is lost.

A context with no evidence at all is written as one file, exactly as before the
split; a single-file context (every file written before the split) is read as
it is and split on its next save.

Nothing here touches the file system.
"""

from __future__ import annotations

import hashlib
import operator
from typing import ClassVar

import orjson
from pydantic import Field, ValidationError

from .context_model import (
    SCHEMA_VERSION,
    Amendment,
    AmendmentRevision,
    CheckRecord,
    CollabContext,
    Correction,
    EntryId,
    Highlight,
    PreviewResult,
    Provenance,
    StrictModel,
)
from .errors import ContextFileError
from .gc_pause import gc_paused

#: The amendment fields kept in the evidence file.
EVIDENCE_FIELDS = ("provenance", "preview", "history", "check")
EVIDENCE_FOLDER_SUFFIX = ".evidence"
#: Entries per evidence file: at 10,000 amendments 40 files of about 1 MB, so an
#: edit rewrites about 1 MB instead of the whole evidence.
CHUNK = 256
#: More evidence files than a context within MAX_CONTEXT_BYTES can need.
MAX_EVIDENCE_FILES = 4096
_HEX = r"^[0-9a-f]{64}$"


class EvidenceRef(StrictModel):
    """The evidence file a hot file was written with."""

    file: str = Field(pattern=r"^[0-9a-f]{16}\.json$", description="name in the evidence folder")
    sha256: str = Field(pattern=_HEX)


class HotContext(CollabContext):
    """The hot file as read for prompts: the amendments without their evidence.

    A context read this way cannot be saved (its evidence is missing): the
    stores refuse it, so a prompt-path read can never drop evidence.
    """

    evidence: list[EvidenceRef] | None = Field(default=None, max_length=MAX_EVIDENCE_FILES)


class AmendmentEvidence(StrictModel):
    omit_when_unset: ClassVar[tuple[str, ...]] = ("check",)

    provenance: Provenance = Field(default_factory=Provenance)
    preview: list[PreviewResult] = Field(default_factory=list, max_length=200)
    history: list[AmendmentRevision] = Field(default_factory=list, max_length=500)
    check: CheckRecord | None = None


class EvidenceFile(StrictModel):
    schema_version: int = SCHEMA_VERSION
    amendments: dict[EntryId, AmendmentEvidence] = Field(default_factory=dict)
    highlights: list[Highlight] = Field(default_factory=list)
    corrections: list[Correction] = Field(default_factory=list)


def evidence_folder_for(sidecar_name: str) -> str:
    """``analysis.collab.json`` -> ``analysis.collab.evidence`` (a name, no folder)."""
    stem = sidecar_name[: -len(".json")] if sidecar_name.endswith(".json") else sidecar_name
    return stem + EVIDENCE_FOLDER_SUFFIX


_DEFAULT_PROVENANCE = Provenance()


def _has_evidence(fields: dict) -> bool:
    return bool(
        fields["preview"]
        or fields["history"]
        or fields["check"] is not None
        or fields["provenance"] != _DEFAULT_PROVENANCE
    )


def evidence_chunks(context: CollabContext) -> list[CollabContext]:
    """``context``'s evidence in runs of :data:`CHUNK` amendments, highlights and
    corrections (views sharing the entries; only their evidence is used)."""
    longest = max(len(context.amendments), len(context.highlights), len(context.corrections))
    return [
        CollabContext.model_construct(
            amendments=context.amendments[start : start + CHUNK],
            highlights=context.highlights[start : start + CHUNK],
            corrections=context.corrections[start : start + CHUNK],
        )
        for start in range(0, longest, CHUNK)
    ]


_HIGHLIGHTS = object()  # section marks in evidence_parts
_CORRECTIONS = object()


def evidence_parts(context: CollabContext) -> list[object]:
    """The evidence objects of ``context`` in order, for an identity comparison.

    Evidence models are frozen and are only ever replaced, never changed in
    place, so the same objects in the same places mean the same evidence: a
    save compares these with ``is`` (well under a microsecond per entry)
    instead of serializing the evidence again. Per amendment: its id (the
    objects before it belong to the amendment before), provenance, check, then
    its preview results and revisions (of different types, so an object cannot
    pass from one list to the other unseen).
    """
    parts: list[object] = []
    extend = parts.extend
    for amendment in context.amendments:
        fields = amendment.__dict__
        extend((fields["id"], fields["provenance"], fields["check"]))
        extend(fields["preview"])
        extend(fields["history"])
    parts.append(_HIGHLIGHTS)
    extend(context.highlights)
    parts.append(_CORRECTIONS)
    extend(context.corrections)
    return parts


def same_parts(a: list[object], b: list[object]) -> bool:
    """Whether two :func:`evidence_parts` hold the very same objects, in order (an
    id that is an equal but different string counts as a change: safe, only slower)."""
    return len(a) == len(b) and all(map(operator.is_, a, b))


def has_evidence(context: CollabContext) -> bool:
    if context.highlights or context.corrections:
        return True
    return any(_has_evidence(a.__dict__) for a in context.amendments)


def split_jsonable(data: dict) -> tuple[dict, dict]:
    """A whole context as JSON data -> (hot file data without ``evidence``, evidence file data)."""
    hot = dict(data)
    amendments, evidence = [], {}
    for entry in data.get("amendments") or []:
        kept = {k: v for k, v in entry.items() if k not in EVIDENCE_FIELDS}
        moved = {k: entry[k] for k in EVIDENCE_FIELDS if k in entry}
        if moved.get("check") is None:
            moved.pop("check", None)
        if (
            moved.get("preview")
            or moved.get("history")
            or moved.get("check")
            or (moved.get("provenance") not in (None, _DEFAULT_PROVENANCE.model_dump(mode="json")))
        ):
            evidence[entry["id"]] = moved
        amendments.append(kept)
    hot["amendments"] = amendments
    cold = {
        "schema_version": SCHEMA_VERSION,
        "amendments": evidence,
        "highlights": hot.pop("highlights", []),
        "corrections": hot.pop("corrections", []),
    }
    return hot, cold


def serialize_evidence(context: CollabContext, options: int, default) -> bytes:
    """The evidence file's bytes (sorted keys, like the hot file)."""
    amendments = {}
    for amendment in context.amendments:
        fields = amendment.__dict__
        if not _has_evidence(fields):
            continue
        entry = {name: fields[name] for name in EVIDENCE_FIELDS}
        if entry["check"] is None:
            del entry["check"]
        amendments[fields["id"]] = entry
    top = {
        "schema_version": SCHEMA_VERSION,
        "amendments": amendments,
        "highlights": context.highlights,
        "corrections": context.corrections,
    }
    return orjson.dumps(top, default=default, option=options) + b"\n"


def evidence_ref(data: bytes) -> EvidenceRef:
    digest = hashlib.sha256(data).hexdigest()
    return EvidenceRef(file=f"{digest[:16]}.json", sha256=digest)


# Fields the file leaves out while unset (``StrictModel.omit_when_unset``).
_HOT_OMIT = tuple(n for n in Amendment.omit_when_unset if n not in EVIDENCE_FIELDS)


def _hot_amendment(fields: dict) -> dict:
    hot = fields.copy()
    del hot["provenance"], hot["preview"], hot["history"], hot["check"]
    for name in _HOT_OMIT:
        if not hot[name]:
            del hot[name]
    return hot


def hot_fields(context: CollabContext, ref: list[EvidenceRef] | None) -> dict:
    """The top-level fields of the hot file: with ``ref`` (the evidence files), the
    amendments without their evidence; without, the whole context."""
    top = dict(context.__dict__)
    top.pop("evidence", None)
    if not top.get("removed"):
        top.pop("removed", None)
    if ref is not None:
        top["amendments"] = [_hot_amendment(a.__dict__) for a in context.amendments]
        top["evidence"] = ref
        del top["highlights"]
        del top["corrections"]
    return top


def parse_evidence(data: bytes, ref: EvidenceRef, source: str) -> EvidenceFile:
    if hashlib.sha256(data).hexdigest() != ref.sha256:
        raise ContextFileError(
            source,
            "evidence file does not match the hash its context file names "
            "(changed or damaged since it was written); the amendments' evidence "
            "cannot be trusted, nothing was overwritten",
        )
    try:
        with gc_paused():  # as for the hot file (context_format.parse_context)
            return EvidenceFile.model_validate_json(data)
    except (ValidationError, ValueError) as err:
        raise ContextFileError(source, f"evidence file does not validate: {err}") from None


def merge_evidence(hot: HotContext, evidence: list[EvidenceFile], source: str) -> CollabContext:
    """The whole context: ``hot``'s entries with their evidence (its files in
    order) put back."""
    fields = dict(hot.__dict__)
    fields.pop("evidence", None)
    amendments = fields["amendments"]
    by_id: dict[str, AmendmentEvidence] = {}
    highlights: list[Highlight] = []
    corrections: list[Correction] = []
    for part in evidence:
        for key, found in part.amendments.items():
            if key in by_id:
                raise ContextFileError(source, f"evidence of amendment {key!r} is given twice")
            by_id[key] = found
        highlights.extend(part.highlights)
        corrections.extend(part.corrections)
    for amendment in amendments:
        found = by_id.pop(amendment.id, None)
        if found is not None:
            # Freshly parsed objects owned by this read: filled in place.
            amendment.__dict__.update(found.__dict__)
    if by_id:
        unknown = sorted(by_id)[:5]
        raise ContextFileError(
            source, f"evidence files hold evidence of unknown amendment(s): {unknown}"
        )
    fields["highlights"] = highlights
    fields["corrections"] = corrections
    fields_set = set(hot.model_fields_set) - {"evidence"} | {"highlights", "corrections"}
    context = CollabContext.model_construct(_fields_set=fields_set, **fields)
    try:
        # The id rule spans both files (highlights and corrections come from the evidence).
        CollabContext._unique_ids(context)
    except ValueError as err:
        raise ContextFileError(source, str(err)) from None
    return context
