"""The loop's operations: suggest corrections, propose amendments, generate
probes, preview, finalize, check the constitution; the context panel's entry
operations (and probe expectations); and re-anchoring highlights. Plain
Python, the same for every door; the :class:`~jupyter_collab.core.broker.Broker`
exposes them as methods."""

from .amend import propose_amendments
from .anchoring import AnchorResult, anchor, anchor_highlight, make_quote
from .check import run_check
from .check_records import record_check
from .common import OpsClient
from .diffing import short_diff, word_diff
from .entries import (
    add_amendment,
    edit_amendment,
    find_duplicate,
    remove_amendment,
    restore_amendment,
    set_status,
    toggle_amendment,
    undo_amendment,
)
from .expectations import add_probe, remove_probe, set_expectation
from .finalize import finalize
from .preview import BaselineCache, PreviewSettings, run_preview
from .probes import generate_probes
from .suggest import suggest_corrections

__all__ = [
    "AnchorResult",
    "BaselineCache",
    "OpsClient",
    "PreviewSettings",
    "add_amendment",
    "add_probe",
    "anchor",
    "anchor_highlight",
    "edit_amendment",
    "finalize",
    "find_duplicate",
    "generate_probes",
    "make_quote",
    "propose_amendments",
    "record_check",
    "remove_amendment",
    "remove_probe",
    "restore_amendment",
    "run_check",
    "run_preview",
    "set_expectation",
    "set_status",
    "short_diff",
    "suggest_corrections",
    "toggle_amendment",
    "undo_amendment",
    "word_diff",
]
