/**
 * The deterministic measures of a probe (computed by the server, never here):
 * word change, a fact's key terms in each answer, length and shape. They stand
 * beside every verdict, and lead when the server marks the judge as weak.
 */
import type { TranslationBundle } from '@jupyterlab/translation';

import type { IAnswerMeasures, IProbeOutcome } from '../api/wire';
import { h } from '../feedback/dom';
import { emptyVerdictCounts, verdictLabel, verdictSummary } from './verdict';

const percent = (share: number): string => `${Math.round(share * 100)}%`;

/**
 * The measures as short lines, e.g. "Key terms now present: 1648".
 */
export function measureLines(
  measures: IAnswerMeasures,
  trans: TranslationBundle
): string[] {
  const lines = [
    trans.__('%1 of words changed', percent(measures.word_change_share))
  ];
  if (measures.key_terms.length) {
    const total = measures.key_terms.length;
    lines.push(
      trans.__(
        'Key terms of the fact: %1/%2 in the baseline, %3/%2 in the amended answer',
        measures.terms_in_baseline.length,
        total,
        measures.terms_in_amended.length
      )
    );
    if (measures.terms_gained.length) {
      lines.push(trans.__('Now present: %1', measures.terms_gained.join(', ')));
    }
    if (measures.terms_lost.length) {
      lines.push(
        trans.__('No longer present: %1', measures.terms_lost.join(', '))
      );
    }
  }
  lines.push(
    measures.shape_changes.length
      ? trans.__('Shape: %1', measures.shape_changes.join('; '))
      : trans.__(
          'Shape unchanged (length ×%1)',
          measures.length_ratio.toFixed(2)
        )
  );
  return lines;
}

/**
 * The measures block: `.jp-collab-measures`, with the verdict the measures
 * alone point to first when `lead` is set (the judge is a weak signal).
 */
export function measuresBlock(
  measures: IAnswerMeasures,
  lead: boolean,
  trans: TranslationBundle
): HTMLElement {
  const block = h('div', {
    className: `jp-collab-measures${lead ? ' jp-mod-lead' : ''}`,
    dataset: { measuredVerdict: measures.measured_verdict }
  });
  if (lead) {
    block.appendChild(
      h('div', {
        className: 'jp-collab-measures-reading',
        text: trans.__(
          'Measures point to: %1',
          verdictLabel(measures.measured_verdict, trans)
        )
      })
    );
  }
  const list = h('ul', { className: 'jp-collab-measures-list' });
  for (const line of measureLines(measures, trans)) {
    list.appendChild(h('li', { text: line }));
  }
  block.appendChild(list);
  return block;
}

/**
 * The judge's verdict shown as a weak signal: muted text, not a badge.
 */
export function weakVerdict(
  outcome: IProbeOutcome,
  trans: TranslationBundle
): HTMLElement {
  const label = verdictLabel(outcome.verdict, trans);
  return h('div', {
    className: 'jp-collab-weak-verdict',
    dataset: { verdict: outcome.verdict },
    text: trans.__('Judge (weak signal): %1. %2', label, outcome.reason),
    title: trans.__(
      'This model agrees with few labelled calibration cases as a judge: read the measures and the answers, not this verdict'
    )
  });
}

/**
 * The preview's one-line summary, e.g. "2 intended · 1 unchanged"; when the
 * server marks any verdict as a weak judge's, what the measures point to
 * comes first: "Measures: 1 intended · weak judge: 1 unintended".
 */
export function outcomesSummary(
  outcomes: Iterable<IProbeOutcome>,
  trans: TranslationBundle
): string {
  const counts = emptyVerdictCounts();
  const measured = emptyVerdictCounts();
  let weak = false;
  for (const outcome of outcomes) {
    counts[outcome.verdict] += 1;
    if (outcome.measures) {
      measured[outcome.measures.measured_verdict] += 1;
    }
    weak = weak || outcome.verdict_source === 'weak_judge';
  }
  const summary = verdictSummary(counts, trans);
  return weak
    ? trans.__(
        'Measures: %1 · weak judge: %2',
        verdictSummary(measured, trans),
        summary
      )
    : summary;
}
