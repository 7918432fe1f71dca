/**
 * One probe of a preview: its prompt, the verdict badge with its reason, and
 * the baseline and amended answers side by side with a word-level diff.
 */
import type { TranslationBundle } from '@jupyterlab/translation';

import { IProbe, IProbeOutcome } from '../api/wire';
import { h, loading } from '../feedback/dom';
import { renderColumn, sideBySide } from './diff';
import { measuresBlock, weakVerdict } from './measures';
import { noiseText, verdictBadge } from './verdict';

/**
 * What a probe is (the server's word when unknown).
 */
function kindLabel(kind: string, trans: TranslationBundle): string {
  switch (kind) {
    case 'original':
      return trans.__('original prompt');
    case 'notebook':
      return trans.__('earlier prompt');
    case 'should_change':
      return trans.__('should change');
    case 'should_not_change':
      return trans.__('should not change');
    case 'user':
      return trans.__('your probe');
    default:
      return kind;
  }
}

export interface IProbeRowState {
  probe: IProbe;
  outcome: IProbeOutcome | null;
  /**
   * The previous run's outcome (its baseline is shown while re-running).
   */
  previous: IProbeOutcome | null;
  running: boolean;
}

function column(
  title: string,
  body: HTMLElement,
  extra?: HTMLElement | null
): HTMLElement {
  return h(
    'div',
    { className: 'jp-collab-probe-column' },
    h('div', { className: 'jp-collab-column-title' }, title, extra ?? null),
    body
  );
}

/**
 * Render a probe row.
 */
export function probeRow(
  state: IProbeRowState,
  trans: TranslationBundle
): HTMLElement {
  const { probe, outcome, previous, running } = state;
  const header = h(
    'div',
    { className: 'jp-collab-probe-header' },
    h('span', {
      className: `jp-collab-probe-kind jp-mod-${probe.kind}`,
      text: kindLabel(probe.kind, trans)
    }),
    // A probe of another notebook (a promotion's preview) says which one.
    probe.notebook
      ? h('code', {
          className: 'jp-collab-probe-notebook',
          text: probe.notebook,
          title: trans.__("Answered with this notebook's context")
        })
      : null,
    h('span', { className: 'jp-collab-probe-prompt', text: probe.prompt })
  );
  const row = h(
    'div',
    {
      className: 'jp-collab-probe',
      dataset: {
        probe: probe.prompt.slice(0, 200),
        ...(probe.notebook ? { notebook: probe.notebook } : {})
      }
    },
    header
  );
  if (probe.expectation) {
    row.appendChild(
      h('div', {
        className: 'jp-collab-why',
        text: trans.__('Expected: %1', probe.expectation)
      })
    );
  }
  if (outcome) {
    // The server says whether the verdict's judge is weak: then the measures
    // lead and the verdict is muted text instead of a confident badge.
    const weak = outcome.verdict_source === 'weak_judge';
    if (weak) {
      header.appendChild(
        h('span', {
          className: 'jp-collab-weak-signal',
          text: trans.__('weak signal: see the measures')
        })
      );
      if (outcome.measures) {
        row.appendChild(measuresBlock(outcome.measures, true, trans));
      }
      row.appendChild(weakVerdict(outcome, trans));
    } else {
      header.appendChild(verdictBadge(outcome.verdict, outcome.reason, trans));
      row.appendChild(
        h('div', { className: 'jp-collab-reason', text: outcome.reason })
      );
      if (outcome.measures) {
        row.appendChild(measuresBlock(outcome.measures, false, trans));
      }
    }
    if (outcome.noise) {
      row.appendChild(
        h('div', {
          className: 'jp-collab-noise',
          text: noiseText(outcome.noise, trans),
          title: trans.__(
            'The baseline was sampled %1 times: a change no larger than its own variation (plus %2 of words) is sampling noise',
            outcome.noise.baseline_samples,
            `${Math.round(outcome.noise.margin * 100)}%`
          )
        })
      );
    }
    const diff = sideBySide(outcome.baseline, outcome.amended);
    const cached = outcome.baseline_cached
      ? h('span', {
          className: 'jp-collab-cached',
          text: trans.__('baseline cached'),
          title: trans.__('The server reused the answer without the amendment')
        })
      : null;
    row.appendChild(
      h(
        'div',
        { className: 'jp-collab-probe-columns' },
        column(trans.__('Baseline'), renderColumn(diff.baseline), cached),
        column(
          trans.__('Amended'),
          renderColumn(diff.amended),
          h('span', {
            className: 'jp-collab-diff-stats',
            text: diff.changed
              ? trans.__('+%1 −%2 words', diff.added, diff.removed)
              : trans.__('no change')
          })
        )
      )
    );
    return row;
  }
  const pending = running
    ? loading(trans.__('Answering…'))
    : h('div', { className: 'jp-collab-muted', text: trans.__('Not run.') });
  if (previous) {
    row.appendChild(
      h(
        'div',
        { className: 'jp-collab-probe-columns' },
        column(
          trans.__('Baseline'),
          renderColumn([{ text: previous.baseline, kind: 'same' }]),
          h('span', {
            className: 'jp-collab-previous',
            text: trans.__('previous run')
          })
        ),
        column(trans.__('Amended'), pending)
      )
    );
  } else {
    row.appendChild(pending);
  }
  return row;
}
