/**
 * Verdict badges: intended / unintended / unchanged / within noise, with the
 * reason. "Within noise" is the server's rule (the amended answer differs from
 * the baseline no more than the baseline differs from itself), never the judge's.
 */
import type { TranslationBundle } from '@jupyterlab/translation';

import type { INoiseMeasure, Verdict } from '../api/wire';

/** Every verdict, in the order summaries list them (SYMBOLS below keeps it complete). */
export const VERDICTS: readonly Verdict[] = [
  'intended',
  'unintended',
  'unchanged',
  'within_noise'
];

const SYMBOLS: Record<Verdict, string> = {
  intended: '✓',
  unintended: '⚠',
  unchanged: '=',
  within_noise: '≈'
};

/**
 * A count of zero for every verdict.
 */
export function emptyVerdictCounts(): Record<Verdict, number> {
  return { intended: 0, unintended: 0, unchanged: 0, within_noise: 0 };
}

/**
 * The noise measure in words, e.g. "12% of words changed; 40% between
 * baseline samples".
 */
export function noiseText(
  noise: INoiseMeasure,
  trans: TranslationBundle
): string {
  const percent = (share: number) => `${Math.round(share * 100)}%`;
  return trans.__(
    '%1 of words changed; %2 between baseline samples',
    percent(noise.amended_change),
    percent(noise.baseline_spread)
  );
}

/**
 * The words a badge shows for a verdict.
 */
export function verdictLabel(
  verdict: Verdict,
  trans: TranslationBundle
): string {
  switch (verdict) {
    case 'intended':
      return trans.__('Changed as intended');
    case 'unintended':
      return trans.__('Unintended change');
    case 'unchanged':
      return trans.__('Unchanged');
    case 'within_noise':
      return trans.__('Within noise');
    default:
      return verdict;
  }
}

/**
 * A badge element: `.jp-collab-verdict.jp-mod-<verdict>`, its reason as the
 * tooltip and in the accessible name.
 */
export function verdictBadge(
  verdict: Verdict,
  reason: string,
  trans: TranslationBundle
): HTMLElement {
  const label = verdictLabel(verdict, trans);
  const badge = document.createElement('span');
  badge.className = `jp-collab-verdict jp-mod-${verdict}`;
  badge.dataset.verdict = verdict;
  badge.textContent = `${SYMBOLS[verdict] ?? ''} ${label}`.trim();
  if (reason) {
    badge.title = reason;
    badge.setAttribute('aria-label', trans.__('%1: %2', label, reason));
  }
  return badge;
}

/**
 * How many probes got `verdict`, e.g. "2 intended".
 */
function verdictCount(
  verdict: Verdict,
  count: number,
  trans: TranslationBundle
): string {
  switch (verdict) {
    case 'intended':
      return trans.__('%1 intended', count);
    case 'unintended':
      return trans.__('%1 unintended', count);
    case 'unchanged':
      return trans.__('%1 unchanged', count);
    case 'within_noise':
      return trans.__('%1 within noise', count);
    default:
      return `${count} ${verdict}`;
  }
}

/**
 * A one-line summary of verdict counts, e.g. "2 intended · 1 unintended".
 */
export function verdictSummary(
  counts: Record<Verdict, number>,
  trans: TranslationBundle
): string {
  const parts: string[] = [];
  for (const verdict of VERDICTS) {
    if (counts[verdict]) {
      parts.push(verdictCount(verdict, counts[verdict], trans));
    }
  }
  return parts.join(' · ') || trans.__('not previewed');
}
