/**
 * Verdict badges: intended / unintended / unchanged, with the judge's reason.
 */
import type { Verdict } from '../api/types';

const LABELS: Record<Verdict, string> = {
  intended: 'Changed as intended',
  unintended: 'Unintended change',
  unchanged: 'Unchanged'
};

const SYMBOLS: Record<Verdict, string> = {
  intended: '✓',
  unintended: '⚠',
  unchanged: '='
};

/**
 * The words a badge shows for a verdict.
 */
export function verdictLabel(verdict: Verdict): string {
  return LABELS[verdict] ?? verdict;
}

/**
 * A badge element: `.jp-collab-verdict.jp-mod-<verdict>`, its reason as the
 * tooltip and in the accessible name.
 */
export function verdictBadge(verdict: Verdict, reason = ''): HTMLElement {
  const badge = document.createElement('span');
  badge.className = `jp-collab-verdict jp-mod-${verdict}`;
  badge.dataset.verdict = verdict;
  badge.textContent =
    `${SYMBOLS[verdict] ?? ''} ${verdictLabel(verdict)}`.trim();
  if (reason) {
    badge.title = reason;
    badge.setAttribute('aria-label', `${verdictLabel(verdict)}: ${reason}`);
  }
  return badge;
}

/**
 * A one-line summary of verdict counts, e.g. "2 intended · 1 unintended".
 */
export function verdictSummary(counts: Record<Verdict, number>): string {
  const parts: string[] = [];
  for (const verdict of ['intended', 'unintended', 'unchanged'] as Verdict[]) {
    if (counts[verdict]) {
      parts.push(`${counts[verdict]} ${verdict}`);
    }
  }
  return parts.join(' · ') || 'not previewed';
}
