"""``jupyter collab export``: the corrections of notebooks as training records
(JSON Lines for Hugging Face TRL: ``sft``, ``dpo`` or ``kto``)."""

from __future__ import annotations

import argparse
import sys

from ..core.errors import CollabError
from ..core.operations.training_export import (
    FORMATS,
    ExportSummary,
    NotebookReport,
    export_corrections,
)
from ..core.store import LocalContextStore


class NothingToExportError(CollabError):
    """No correction of the notebooks named gave a training record."""


def add_parser(subparsers) -> None:
    export = subparsers.add_parser(
        "export",
        help="write the corrections of notebooks as training records (SFT, DPO, KTO)",
        description=(
            "Write every correction made on a collaborator answer as a training record, "
            "in the conversational dataset shapes Hugging Face TRL's trainers read: "
            "sft (messages), dpo (prompt, chosen, rejected), kto (prompt, completion, "
            "label). Rejected is the answer as it was; chosen is the amended answer "
            "accepted with the correction's amendment when the context kept it whole, "
            "else the answer with the correction applied to its span. Each record's "
            "metadata holds the span, the correction, the amendment and provenance."
        ),
    )
    export.add_argument(
        "paths", nargs="+", metavar="NOTEBOOK_OR_FOLDER", help="notebooks, or folders to search"
    )
    export.add_argument("--format", choices=FORMATS, required=True, help="the record shape")
    export.add_argument(
        "-o", "--output", required=True, metavar="FILE.jsonl", help="the file to write"
    )
    export.add_argument(
        "--include-untrusted",
        action="store_true",
        help="also export notebooks whose context came inside the notebook and was "
        "never accepted here (not trusted, not imported)",
    )
    export.add_argument(
        "--system",
        choices=["none", "persona"],
        default="none",
        help="persona: start each prompt with the collaborator persona of the answer's "
        "mode as a system message (default: none)",
    )
    export.set_defaults(handler=cmd_export)


def untrusted_note(report: NotebookReport) -> str:
    sidecar = LocalContextStore(report.path).path.name
    count = report.unreviewed_entries
    return (
        f"{report.path}: not exported: its context has {count} "
        f"entr{'y' if count == 1 else 'ies'} that only the copy embedded in the notebook "
        f"holds (not in {sidecar}), and the notebook is not trusted, so nobody accepted "
        f"{'it' if count == 1 else 'them'} here. Review the notebook, then "
        f"`jupyter trust {report.path}` or `jupyter collab context import {report.path}`; "
        "or pass --include-untrusted."
    )


def _notes(summary: ExportSummary) -> list[str]:
    notes = []
    for report in summary.notebooks:
        if report.excluded_untrusted:
            notes.append(untrusted_note(report))
        elif report.unreviewed_entries:
            notes.append(
                f"{report.path}: exported although not trusted (--include-untrusted); "
                "its records say trusted: false"
            )
        for correction_id, why in report.skipped:
            notes.append(f"{report.path}: correction {correction_id} not exported: {why}")
    return notes


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _nothing_message(summary: ExportSummary, notes: list[str]) -> str:
    count = len(summary.notebooks)
    head = f"no corrections to export from {_count(count, 'notebook')}; nothing was written"
    if not notes:
        return head + " (no collaborator answer in them has a correction)"
    return head + ":\n  " + "\n  ".join(notes)


def cmd_export(args: argparse.Namespace) -> int:
    summary = export_corrections(
        args.paths,
        args.format,
        args.output,
        include_untrusted=args.include_untrusted,
        system=args.system,
    )
    notes = _notes(summary)
    if summary.output is None:
        raise NothingToExportError(_nothing_message(summary, notes))
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    duplicates = (
        f"; {summary.duplicates} found in more than one notebook, written once"
        if summary.duplicates
        else ""
    )
    print(
        f"wrote {_count(summary.records, summary.format + ' record')} "
        f"({_count(summary.examples, 'correction')} from {_count(summary.sources, 'notebook')}"
        f"{duplicates}) to {summary.output}"
    )
    return 0
