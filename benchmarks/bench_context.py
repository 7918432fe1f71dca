"""The context at scale: load (+validate), save and prompt assembly of contexts of
100, 1,000 and 10,000 amendments.

Each amendment is shaped as the loop makes it (``Broker.finalize``): a highlight,
a correction, provenance (quote, correction, prompt) and preview results; one in
ten is disabled and one in five has an edit in its history. The files are real
sidecars on disk, read and written by ``LocalContextStore`` (the CLI and kernel
door's store; the server door shares its file functions): a hot file with the
amendments and evidence files with their provenance, previews, history, checks,
highlights and corrections (``core/context_evidence.py``). ``load`` is the read
every completion and preview makes (the hot file alone); the whole read, a save
that writes new evidence, ``update()``, and the same context stored as one file
as before the split are reported beside it.

Assembly is timed on the context as the doors hold it: parsed once per version
of the file and shared read-only (the server door's per-path cache, the kernel
door's notebook state; ``core.assembly.share_read_only``), so what every
completion pays. ``Broker.prepare`` on a context that is not shared (the first
completion after the file changed, a context changed in memory) is reported
beside it, as ``cold``.

Baselines, in the same run, on the same data:
* load     -> ``json.loads`` of the same bytes (the hot file; parsing without validation);
* save     -> ``json.dumps(sort_keys, indent=2)`` of the whole context's dict plus the
              same atomic write (temp file, fsync, rename);
* assemble -> joining the enabled amendments' texts into one string.
"""

from __future__ import annotations

import gc
import json
import random
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from .common import OUT, Result, Settings, interleaved, log, median, ratio, rounded

SIZES = (100, 1_000, 10_000)

WORDS = (
    "cohort yield assay sample protocol baseline citation dataset outlier variance "
    "fermentation regression control replicate batch calibration reference method "
    "result figure table appendix threshold estimate interval bias confounder"
).split()


def _sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def make_lean_context_dict(n: int, seed: int = 7) -> dict:
    """``n`` amendments as the context panel or the CLI adds them: text only, no
    highlight, correction or preview (the shape of the smallest real entries)."""
    from jupyter_collab.core.context_format import context_to_jsonable
    from jupyter_collab.core.context_model import Amendment, CollabContext

    rng = random.Random(seed)
    amendments = [
        Amendment(
            id=f"a-{i:012x}",
            kind="process" if i % 5 in (1, 3) else "fact",
            text=_sentence(rng, 18 + i % 12),
            status="disabled" if i % 10 == 9 else "accepted",
        )
        for i in range(n)
    ]
    return context_to_jsonable(CollabContext(revision=1, amendments=amendments))


def make_context_dict(n: int, seed: int = 7) -> dict:
    """A context of ``n`` amendments as the loop writes it (JSON-ready dict)."""
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    amendments, highlights, corrections = [], [], []
    for i in range(n):
        at = (start + timedelta(minutes=i)).isoformat().replace("+00:00", "Z")
        hid, cid, aid = f"h-{i:012x}", f"c-{i:012x}", f"a-{i:012x}"
        quote = _sentence(rng, 8)
        correction = _sentence(rng, 9)
        highlights.append(
            {
                "id": hid,
                "cell_id": f"cell-{i % 500}",
                "response_id": f"msg_{i:024x}",
                "answer_hash": f"sha256:{rng.getrandbits(256):064x}",
                "position": {"type": "TextPositionSelector", "start": 40, "end": 40 + len(quote)},
                "quote": {
                    "type": "TextQuoteSelector",
                    "exact": quote,
                    "prefix": _sentence(rng, 5)[:32],
                    "suffix": _sentence(rng, 5)[:32],
                },
                "created": at,
                "rev": 1,
            }
        )
        corrections.append(
            {
                "id": cid,
                "highlight_id": hid,
                "operation": "replace",
                "text": correction,
                "rationale": _sentence(rng, 10),
                "origin": "ai" if i % 3 else "user",
                "rank": 0 if i % 3 else None,
                "created": at,
                "rev": 1,
            }
        )
        kind = "process" if i % 5 in (1, 3) else "fact"
        amendment = {
            "id": aid,
            "kind": kind,
            "text": _sentence(rng, 18 + i % 12),
            "status": "disabled" if i % 10 == 9 else "accepted",
            "rationale": _sentence(rng, 12),
            "provenance": {
                "cell_id": f"cell-{i % 500}",
                "response_id": f"msg_{i:024x}",
                "highlight_id": hid,
                "correction_id": cid,
                "quote": quote,
                "correction": correction,
                "prompt": _sentence(rng, 16),
                "source": "loop",
            },
            "preview": [
                {
                    "probe": _sentence(rng, 14),
                    "probe_kind": probe_kind,
                    "baseline_hash": f"sha256:{rng.getrandbits(256):064x}",
                    "amended_hash": f"sha256:{rng.getrandbits(256):064x}",
                    "verdict": verdict,
                    "reason": _sentence(rng, 9),
                    # What finalize keeps for the check: the accepted answer's start
                    # (at most 280 characters) and the deterministic measures.
                    "amended_text": _sentence(rng, 60)[:280],
                    "measures": {
                        "key_terms": "g/L, HPLC, 2015",
                        "terms_in_amended": 2,
                        "terms_in_baseline": 0,
                    },
                }
                for probe_kind, verdict in (
                    ("original", "intended"),
                    ("should_not_change", "unchanged"),
                )
            ],
            "created": at,
            "updated": at,
            "rev": 2 if i % 5 == 0 else 1,
            "preview_model": "claude-sonnet-5-5",
            "history": [
                {
                    "at": at,
                    "kind": kind,
                    "text": _sentence(rng, 15),
                    "status": "accepted",
                    "note": "edited",
                }
            ]
            if i % 5 == 0
            else [],
        }
        amendments.append(amendment)
    return {
        "schema_version": 1,
        "revision": 1,
        "settings": {
            "mode": "research",
            "model": None,
            "temperature": None,
            "max_tokens": None,
            "token_budget": None,
            "include_history": True,
        },
        "amendments": amendments,
        "highlights": highlights,
        "corrections": corrections,
    }


def measure_size(
    n: int, runs: int, broker, request, folder: Path, lean: bool = False
) -> dict[str, dict]:
    """Load, save and assemble a context of ``n`` amendments, each against its baseline."""
    from jupyter_collab.core.assembly import share_read_only
    from jupyter_collab.core.context_format import serialize_context
    from jupyter_collab.core.local_files import atomic_write_text
    from jupyter_collab.core.operations.entries import set_status
    from jupyter_collab.core.store import LocalContextStore, evidence_folder

    notebook = folder / f"ctx{n}{'-lean' if lean else ''}.ipynb"
    notebook.write_text("{}")
    store = LocalContextStore(notebook)
    data = make_lean_context_dict(n) if lean else make_context_dict(n)
    store.path.write_text(json.dumps(data, sort_keys=True, indent=2) + "\n")
    context = store.load()
    assert context is not None and len(context.amendments) == n
    # Normalise the file to exactly what the store writes: a single file as before
    # the split, read as it is and split by the store's first save.
    store.path.write_text(serialize_context(context))
    context = store.save(store.load())
    evidence = list(evidence_folder(store.path).glob("*.json"))
    size_mb = store.path.stat().st_size / 1e6
    evidence_mb = sum(p.stat().st_size for p in evidence) / 1e6
    baseline_path = folder / f"ctx{n}.baseline.json"
    state = {"context": context, "edits": 0}

    def load() -> float:
        start = time.perf_counter()
        loaded = store.load_for_prompt()
        elapsed = time.perf_counter() - start
        assert loaded is not None and len(loaded.amendments) == n
        return elapsed * 1000

    def load_whole() -> float:
        start = time.perf_counter()
        loaded = store.load()
        elapsed = time.perf_counter() - start
        assert loaded is not None and len(loaded.amendments) == n
        return elapsed * 1000

    def load_baseline() -> float:
        start = time.perf_counter()
        json.loads(store.path.read_bytes())
        return (time.perf_counter() - start) * 1000

    def edit(context):
        """An edit of one amendment as the panel and the CLI make it (the operation
        they call: a new status, a revision in the amendment's history)."""
        state["edits"] += 1
        amendment = context.amendments[(state["edits"] * 7919) % n]
        status = "disabled" if amendment.status == "accepted" else "accepted"
        return set_status(context, amendment.id, status)[0]

    def save() -> float:
        state["context"] = edit(state["context"])
        start = time.perf_counter()
        state["context"] = store.save(state["context"])
        return (time.perf_counter() - start) * 1000

    def save_new_evidence() -> float:
        """A save after a new highlight: the hot file and the last evidence file."""
        from jupyter_collab.core.context_model import Highlight

        state["context"].highlights.append(
            Highlight(position={"start": 0, "end": 1}, quote={"exact": "x"})
        )
        start = time.perf_counter()
        state["context"] = store.save(state["context"])
        return (time.perf_counter() - start) * 1000

    def update() -> float:
        """LocalContextStore.update(): read the whole context, change one entry, save."""
        start = time.perf_counter()
        state["context"] = store.update(edit)
        return (time.perf_counter() - start) * 1000

    def save_baseline() -> float:
        start = time.perf_counter()
        atomic_write_text(baseline_path, json.dumps(data, sort_keys=True, indent=2) + "\n")
        return (time.perf_counter() - start) * 1000

    shared = share_read_only(store.load_for_prompt())  # as the server door holds it

    def assemble() -> float:
        start = time.perf_counter()
        prepared = broker.prepare(request, shared)
        elapsed = time.perf_counter() - start
        assert prepared.assembled.included_ids
        return elapsed * 1000

    def assemble_cold() -> float:
        start = time.perf_counter()
        prepared = broker.prepare(request, state["context"])  # not shared
        elapsed = time.perf_counter() - start
        assert prepared.assembled.included_ids
        return elapsed * 1000

    def assemble_baseline() -> float:
        start = time.perf_counter()
        "\n".join(f"- {a.text}" for a in state["context"].amendments if a.status == "accepted")
        return (time.perf_counter() - start) * 1000

    results: dict[str, dict] = {}
    for name, fn, base in (
        ("load", load, load_baseline),
        ("save", save, save_baseline),
        ("assemble", assemble, assemble_baseline),
        ("assemble_cold", assemble_cold, assemble_baseline),
    ):
        fn(), base()  # warm-up (imports, caches)
        gc.collect()
        measured, baseline = interleaved(fn, base, runs)
        results[name] = {"ms": measured, "baseline_ms": baseline}
    for name, fn in (
        ("load_whole", load_whole),
        ("save_new_evidence", save_new_evidence),
        ("update", update),
    ):
        fn()  # warm-up
        gc.collect()
        results[name] = {"ms": [fn() for _ in range(runs)]}
    prepared = broker.prepare(request, state["context"])
    # The hot file alone gives the very prompt the whole context gives.
    assert prepared.input_hash == broker.prepare(request, store.load_for_prompt()).input_hash
    results["parts"] = parts(store, folder, runs)
    results["single_file"] = single_file(state["context"], folder, runs)
    results["meta"] = {
        "file_mb": round(size_mb, 2),
        "evidence_mb": round(evidence_mb, 2),
        "evidence_files": len(evidence),
        "included": len(prepared.assembled.included_ids),
        "omitted": len(prepared.assembled.omitted_ids),
        "system_chars": len(prepared.assembled.system_text),
    }
    log(
        f"context {n}{' lean' if lean else ''}: load {median(results['load']['ms']):.1f} ms, "
        f"(whole {median(results['load_whole']['ms']):.1f}), "
        f"save {median(results['save']['ms']):.1f} ms "
        f"(new evidence {median(results['save_new_evidence']['ms']):.1f}), "
        f"update {median(results['update']['ms']):.1f} ms, "
        f"assemble {median(results['assemble']['ms']):.2f} ms "
        f"(cold {median(results['assemble_cold']['ms']):.2f}) ({size_mb:.1f} MB)"
    )
    baseline_path.unlink(missing_ok=True)
    return results


def parts(store, folder: Path, runs: int) -> dict[str, float]:
    """What the hot file's load and save are made of (median ms): the floor a load
    cannot go under without a smaller file (parsing the JSON without validating
    it), and the save's serialization against its write."""
    import orjson

    from jupyter_collab.core.context_format import serialize_hot_body
    from jupyter_collab.core.local_files import atomic_write_bytes

    raw = store.path.read_bytes()
    hot = store.load_for_prompt()
    context = store.load()
    scratch = folder / "parts.scratch.json"

    def timed(fn) -> float:
        gc.disable()
        try:
            start = time.perf_counter()
            result = fn()
            elapsed = time.perf_counter() - start
        finally:
            gc.enable()
        del result
        return elapsed * 1000

    out = {
        "parse_only_ms": median([timed(lambda: orjson.loads(raw)) for _ in range(runs)]),
        "serialize_ms": median(
            [timed(lambda: serialize_hot_body(context, hot.evidence)) for _ in range(runs)]
        ),
        "write_fsync_ms": median(
            [timed(lambda: atomic_write_bytes(scratch, raw)) for _ in range(runs)]
        ),
    }
    scratch.unlink(missing_ok=True)
    return {k: rounded(v, 3) for k, v in out.items()}


def single_file(context, folder: Path, runs: int) -> dict[str, float]:
    """The same context as one file, as it was stored before the split (the
    layout the split is measured against, in the same run): its load (read,
    parse, validate) and its save (serialize, atomic write with fsync), median ms."""
    from jupyter_collab.core.context_format import serialize_context_bytes
    from jupyter_collab.core.local_files import atomic_write_bytes
    from jupyter_collab.core.store import read_context_file

    path = folder / f"single{len(context.amendments)}.collab.json"

    def timed(fn) -> float:
        start = time.perf_counter()
        fn()
        return (time.perf_counter() - start) * 1000

    def save() -> None:
        atomic_write_bytes(path, serialize_context_bytes(context))

    save()
    load_ms, save_ms = [], []
    for _ in range(runs):
        gc.collect()
        load_ms.append(timed(lambda: read_context_file(path, path.name)))
        gc.collect()
        save_ms.append(timed(save))
    out = {
        "load_ms": rounded(median(load_ms), 3),
        "save_ms": rounded(median(save_ms), 3),
        "file_mb": round(path.stat().st_size / 1e6, 2),
    }
    path.unlink(missing_ok=True)
    return out


def run(settings: Settings) -> list[Result]:
    from jupyter_collab.core.broker import Broker
    from jupyter_collab.core.config import CollabConfig
    from jupyter_collab.core.operation_models import CompletionInput
    from jupyter_collab.core.providers.anthropic import AnthropicProvider

    runs = max(3, settings.runs)
    folder = OUT / "context"
    folder.mkdir(parents=True, exist_ok=True)
    # The broker as a door holds it (default token budget 50,000); the provider is
    # only asked to resolve the model name, so no key or network is needed.
    config = CollabConfig(provider="anthropic", anthropic_api_key="unused")
    broker = Broker(config, provider=AnthropicProvider(config))
    request = CompletionInput(prompt="Which of my runs is an outlier, and why?")
    per_size = {n: measure_size(n, runs, broker, request, folder) for n in SIZES}
    lean = measure_size(SIZES[-1], runs, broker, request, folder, lean=True)

    out: list[Result] = []
    targets = {"load": "<= 100", "save": "<= 100", "assemble": "<= 10"}
    baseline_what = {
        "load": "json.loads of the same bytes",
        "save": "json.dumps(sort_keys, indent=2) + atomic write (fsync, rename) of the whole "
        "context as one file",
        "assemble": "joining the enabled amendment texts",
    }
    what = {
        "load": "LocalContextStore.load_for_prompt(): read, parse and validate (pydantic) "
        "the hot file, the amendments without their evidence, which is what every "
        "completion and preview reads",
        "save": "LocalContextStore.save() after the panel's edit of one amendment (a new "
        "status and a revision in its history): revision check, the evidence file of its "
        "run of 256 entries and the hot file serialized and written atomically with "
        "fsync; the other evidence files are unchanged and not written",
        "assemble": "Broker.prepare(): prompt assembly within the default 50,000-token "
        "budget plus the input hash, on the context as the doors hold it (parsed once per "
        "version of the file, shared read-only: what each completion pays)",
    }
    big = per_size[SIZES[-1]]
    for name in ("load", "save", "assemble"):
        value = median(big[name]["ms"])
        base = median(big[name]["baseline_ms"])
        growth = {str(n): rounded(median(per_size[n][name]["ms"]), 3) for n in SIZES}
        note = (
            f"{what[name]}. Median ms by size: "
            + ", ".join(f"{int(n):,}: {v}" for n, v in growth.items())
            + f". 10k hot file {big['meta']['file_mb']} MB (evidence files "
            f"{big['meta']['evidence_mb']} MB in {big['meta']['evidence_files']}); "
            f"{ratio(value, base):.1f}x the baseline. "
            f"Lean entries (text only, as the panel/CLI add them; "
            f"{lean['meta']['file_mb']} MB at 10k): {median(lean[name]['ms']):.1f} ms."
        )
        if name in ("load", "save"):
            single = big["single_file"]
            note += (
                f" The same context as one file, as stored before the split "
                f"({single['file_mb']} MB at 10k), in the same run: {single[name + '_ms']:.1f} ms."
            )
        if name == "load":
            whole = {str(n): rounded(median(per_size[n]["load_whole"]["ms"]), 3) for n in SIZES}
            note += (
                " LocalContextStore.load(), the whole context (hot file, evidence files, "
                "hash checks, merge; the panel, the check, edits): "
                + ", ".join(f"{int(n):,}: {v}" for n, v in whole.items())
                + f" ms. Parsing the 10k hot file's JSON alone, without validation (orjson, "
                f"collector paused): {big['parts']['parse_only_ms']:.0f} ms."
            )
        if name == "save":
            fresh = {
                str(n): rounded(median(per_size[n]["save_new_evidence"]["ms"]), 3) for n in SIZES
            }
            update = {str(n): rounded(median(per_size[n]["update"]["ms"]), 3) for n in SIZES}
            note += (
                f" At 10k: serializing the hot file {big['parts']['serialize_ms']:.0f} ms, "
                f"writing and fsyncing it {big['parts']['write_fsync_ms']:.0f} ms. A save after a "
                "new highlight (the hot file and the last evidence file written): "
                + ", ".join(f"{int(n):,}: {v}" for n, v in fresh.items())
                + " ms. LocalContextStore.update() (whole load, edit, save): "
                + ", ".join(f"{int(n):,}: {v}" for n, v in update.items())
                + " ms."
            )
        if name == "assemble":
            cold = {str(n): rounded(median(per_size[n]["assemble_cold"]["ms"]), 3) for n in SIZES}
            note += (
                " Cold (a context not shared: the first completion after the file changed, "
                "or one changed in memory): "
                + ", ".join(f"{int(n):,}: {v}" for n, v in cold.items())
                + f" ms (lean 10k: {median(lean['assemble_cold']['ms']):.1f})."
                f" At 10k, {big['meta']['included']} amendments fit the budget, "
                f"{big['meta']['omitted']} are left out (and named)."
            )
        out.append(
            Result(
                key=f"context_10k_{name}_ms",
                value=rounded(value, 3),
                unit="ms",
                target=targets[name],
                baseline={
                    "value": rounded(base, 3),
                    "unit": "ms",
                    "what": baseline_what[name],
                    "ratio": rounded(ratio(value, base), 3),
                },
                runs=runs,
                note=note,
                samples=[rounded(v, 3) for v in big[name]["ms"]],
                details={
                    "by_size_ms": growth,
                    "baseline_by_size_ms": {
                        str(n): rounded(median(per_size[n][name]["baseline_ms"]), 3) for n in SIZES
                    },
                    "file_mb_by_size": {str(n): per_size[n]["meta"]["file_mb"] for n in SIZES},
                    "lean_10k_ms": rounded(median(lean[name]["ms"]), 3),
                    "lean_10k_baseline_ms": rounded(median(lean[name]["baseline_ms"]), 3),
                    "lean_10k_file_mb": lean["meta"]["file_mb"],
                    "parts_10k_ms": big["parts"],
                    "evidence_file_mb_by_size": {
                        str(n): per_size[n]["meta"]["evidence_mb"] for n in SIZES
                    },
                    "single_file_by_size": {str(n): per_size[n]["single_file"] for n in SIZES},
                    **(
                        {
                            "whole_load_by_size_ms": {
                                str(n): rounded(median(per_size[n]["load_whole"]["ms"]), 3)
                                for n in SIZES
                            }
                        }
                        if name == "load"
                        else {}
                    ),
                    **(
                        {
                            "new_evidence_by_size_ms": {
                                str(n): rounded(median(per_size[n]["save_new_evidence"]["ms"]), 3)
                                for n in SIZES
                            },
                            "update_by_size_ms": {
                                str(n): rounded(median(per_size[n]["update"]["ms"]), 3)
                                for n in SIZES
                            },
                        }
                        if name == "save"
                        else {}
                    ),
                    **(
                        {
                            "cold_by_size_ms": {
                                str(n): rounded(median(per_size[n]["assemble_cold"]["ms"]), 3)
                                for n in SIZES
                            },
                            "cold_10k_samples_ms": [
                                rounded(v, 3) for v in big["assemble_cold"]["ms"]
                            ],
                            "lean_10k_cold_ms": rounded(median(lean["assemble_cold"]["ms"]), 3),
                        }
                        if name == "assemble"
                        else {}
                    ),
                },
            )
        )
    return out
