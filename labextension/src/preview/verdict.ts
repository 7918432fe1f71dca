/**
 * Verdict badges: intended / unintended / unchanged, with the judge's reason.
 */
import type { TranslationBundle } from '@jupyterlab/translation';

import type { Verdict } from '../api/wire';

const SYMBOLS: Record<Verdict, string> = {
  intended: '✓',
  unintended: '⚠',
  unchanged: '='
};

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
  for (const verdict of ['intended', 'unintended', 'unchanged'] as Verdict[]) {
    if (counts[verdict]) {
      parts.push(verdictCount(verdict, counts[verdict], trans));
    }
  }
  return parts.join(' · ') || trans.__('not previewed');
}
