"""The preview's noise floor: is a probe's amended answer further from its baseline
than the baseline is from itself?

Models that take no ``temperature`` (current Claude models), or any sampling above
0, answer the same request differently each time, so a baseline and an amended
answer differ even when the amendment has no effect. The preview therefore samples
the baseline again and compares with one deterministic measure, the word-level
change share of :func:`~.diffing.word_change_share`:

* ``baseline_spread`` — the largest share between any two baseline samples;
* ``amended_change`` — the share between the amended answer and the *nearest*
  baseline sample (an amended answer equal to any sample is no change at all).

The amended answer is within noise when the baseline varies at all and
``amended_change <= baseline_spread + margin``. A baseline that does not vary
(a deterministic provider) has no noise floor: any difference is real and is
judged. The margin absorbs how poorly a handful of samples estimates the spread.
"""

from __future__ import annotations

from itertools import combinations

from ..operation_models import NoiseMeasure
from .diffing import word_change_share

#: Extra baseline samples per probe by default: one more call per probe whose
#: answers differ (cached with the baseline, so revising an amendment repeats none).
DEFAULT_NOISE_SAMPLES = 1
MAX_NOISE_SAMPLES = 4
#: How far (as a word-change share) the amended answer must move beyond the
#: baseline's own spread to count as a change: 0.15 is fifteen words in a hundred.
#: One pair of samples estimates the spread roughly; measured on answers of random
#: words with one extra sample, 0.15 takes pure noise for a change on about 2% of
#: 15-word probes and 0.3% of 40-word ones (0.1 did so on 8% and 3%).
NOISE_MARGIN = 0.15


def measure_noise(baselines: list[str], amended: str, margin: float = NOISE_MARGIN) -> NoiseMeasure:
    """The noise measure for one probe: ``baselines`` are the first answer and its resamples."""
    if len(baselines) < 2:
        raise ValueError("the noise floor needs at least two baseline samples")
    if not 0.0 <= margin <= 1.0:
        raise ValueError(f"the noise margin must be between 0 and 1, not {margin}")
    spread = max(word_change_share(a, b) for a, b in combinations(baselines, 2))
    change = min(word_change_share(baseline, amended) for baseline in baselines)
    return NoiseMeasure(
        baseline_samples=len(baselines),
        baseline_spread=round(spread, 3),
        amended_change=round(change, 3),
        margin=margin,
        within_noise=spread > 0.0 and change <= spread + margin,
    )


def change_against_noise(noise: NoiseMeasure | None) -> str:
    """The measure in a few characters for tables, e.g. ``62%/58%`` (change/noise);
    ``-`` when the answers were identical and nothing was measured."""
    if noise is None:
        return "-"
    return f"{noise.amended_change:.0%}/{noise.baseline_spread:.0%}"


def noise_reason(noise: NoiseMeasure) -> str:
    """One line saying why a probe's change was (or was not) taken for noise."""
    change = f"{noise.amended_change:.0%}"
    spread = f"{noise.baseline_spread:.0%}"
    if noise.within_noise:
        return (
            f"No effect beyond sampling noise: the amended answer differs from the baseline "
            f"by {change} of words, the baseline from itself by {spread} "
            f"({noise.baseline_samples} samples, margin {noise.margin:.0%})."
        )
    return (
        f"Word change {change} against a baseline spread of {spread} "
        f"({noise.baseline_samples} samples, margin {noise.margin:.0%})."
    )
