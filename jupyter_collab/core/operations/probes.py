"""Probe prompts for previewing an amendment.

Two kinds are generated: prompts whose answer the amendment *should* change, and
prompts it should *not* change, aimed at over-reach. The original prompt and the
notebook's earlier prompts are always candidates (as regression checks).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from ..context_model import ProbeKind
from ..errors import InvalidRequestError
from ..operation_models import AmendmentDraft, Probe
from .common import OpsClient, OpsResponse, clip, dedupe_texts, with_max_items

MAX_GENERATED = 8
#: Earlier notebook prompts used as probes (the most recent ones).
MAX_NOTEBOOK_PROBES = 6

EXPECT_CHANGE = "The amendment should change this answer."
EXPECT_NO_CHANGE = "The amendment should not change this answer: it is outside its scope."
EXPECT_ORIGINAL = "The prompt the amendment came from: it should change as intended."
EXPECT_NOTEBOOK = (
    "An earlier prompt of the notebook: it may change only where the amendment applies."
)

SYSTEM = """\
You help a researcher test an amendment to their AI assistant's instructions before \
accepting it. Write short, realistic prompts a researcher in this notebook might ask.

- should_change: prompts whose answer the amendment should change;
- should_not_change: prompts near the same topic whose answer the amendment should NOT \
change, chosen to catch the amendment applying too broadly.

Each prompt is one or two sentences and stands on its own."""


ProbeText = Annotated[str, Field(max_length=240)]


class ProbesResponse(OpsResponse):
    should_change: list[ProbeText] = Field(max_length=MAX_GENERATED)
    should_not_change: list[ProbeText] = Field(max_length=MAX_GENERATED)


def split_counts(n: int) -> tuple[int, int]:
    """How many (should change, should not change) probes to generate.

    The original prompt already tests the intended change, so over-reach
    probes get the larger half.
    """
    return n // 2, n - n // 2


def build_prompt(
    draft: AmendmentDraft,
    notebook_prompts: list[str],
    original_prompt: str | None,
    n_change: int,
    n_keep: int,
) -> str:
    parts = [f"The amendment ({draft.kind.value}): {clip(draft.text.strip(), 2000)}"]
    if draft.rationale.strip():
        parts.append(f"Why: {clip(draft.rationale.strip(), 500)}")
    if original_prompt:
        parts.append(f"It came from a correction of the answer to:\n{clip(original_prompt, 1500)}")
    others = [p for p in notebook_prompts if p != original_prompt][-MAX_NOTEBOOK_PROBES:]
    if others:
        listed = "\n".join(f"- {clip(' '.join(p.split()), 300)}" for p in others)
        parts.append(f"Other prompts of this notebook:\n{listed}")
    parts.append(
        f"Write {n_change} should_change prompt(s) and {n_keep} should_not_change prompt(s)."
    )
    return "\n\n".join(parts)


def fixed_probes(notebook_prompts: list[str], original_prompt: str | None) -> list[Probe]:
    """The original prompt, then the most recent earlier prompts of the notebook."""
    probes: list[Probe] = []
    if original_prompt and original_prompt.strip():
        probes.append(
            Probe(
                prompt=original_prompt.strip(), kind=ProbeKind.original, expectation=EXPECT_ORIGINAL
            )
        )
    earlier = [p for p in notebook_prompts if p.strip()][-MAX_NOTEBOOK_PROBES:]
    for prompt in earlier:
        probes.append(
            Probe(prompt=prompt.strip(), kind=ProbeKind.notebook, expectation=EXPECT_NOTEBOOK)
        )
    return dedupe_probes(probes)


def dedupe_probes(probes: list[Probe]) -> list[Probe]:
    """First occurrence of each prompt wins (so the original keeps its kind). The
    same prompt of two notebooks is two probes: each is answered with its own context."""
    kept: dict[str | None, set[str]] = {}
    for notebook in dict.fromkeys(p.notebook for p in probes):
        kept[notebook] = set(dedupe_texts([p.prompt for p in probes if p.notebook == notebook]))
    by_key: dict[tuple[str | None, str], Probe] = {}
    for probe in probes:
        key = (probe.notebook, probe.prompt.strip())
        if key[1] in kept[probe.notebook]:
            by_key.setdefault(key, probe)
    return list(by_key.values())


async def generate_probes(
    ops: OpsClient,
    draft: AmendmentDraft,
    notebook_prompts: list[str],
    original_prompt: str | None = None,
    n: int = 4,
) -> list[Probe]:
    """The fixed probes (original, notebook) plus up to ``n`` generated ones."""
    if not 0 <= n <= MAX_GENERATED:
        raise InvalidRequestError(f"n must be between 0 and {MAX_GENERATED}, not {n}")
    probes = fixed_probes(notebook_prompts, original_prompt)
    if n == 0:
        return probes
    n_change, n_keep = split_counts(n)
    response = await ops.structured(
        SYSTEM,
        build_prompt(draft, notebook_prompts, original_prompt, n_change, n_keep),
        with_max_items(
            ProbesResponse, (("should_change", 0, n_change), ("should_not_change", 0, n_keep))
        ),
        name="generate_probes",
        description="Probe prompts for previewing the amendment.",
    )
    change = dedupe_texts(response.should_change)
    keep = dedupe_texts(response.should_not_change)
    # When the model gives fewer of one kind, fill up with the other.
    take_change = min(len(change), max(n_change, n - len(keep)))
    take_keep = min(len(keep), n - take_change)
    generated = [
        Probe(prompt=clip(p, 4000), kind=ProbeKind.should_change, expectation=EXPECT_CHANGE)
        for p in change[:take_change]
    ] + [
        Probe(prompt=clip(p, 4000), kind=ProbeKind.should_not_change, expectation=EXPECT_NO_CHANGE)
        for p in keep[:take_keep]
    ]
    return dedupe_probes(probes + generated)
