/**
 * One probe of a preview: its prompt, the verdict badge with its reason, and
 * the baseline and amended answers side by side with a word-level diff.
 */
import { IProbe, IProbeOutcome } from '../api/types';
import { h, loading } from '../feedback/dom';
import { renderColumn, sideBySide } from './diff';
import { verdictBadge } from './verdict';

const KIND_LABELS: Record<string, string> = {
  original: 'original prompt',
  notebook: 'earlier prompt',
  should_change: 'should change',
  should_not_change: 'should not change',
  user: 'your probe'
};

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
export function probeRow(state: IProbeRowState): HTMLElement {
  const { probe, outcome, previous, running } = state;
  const header = h(
    'div',
    { className: 'jp-collab-probe-header' },
    h('span', {
      className: `jp-collab-probe-kind jp-mod-${probe.kind}`,
      text: KIND_LABELS[probe.kind] ?? probe.kind
    }),
    h('span', { className: 'jp-collab-probe-prompt', text: probe.prompt })
  );
  const row = h(
    'div',
    {
      className: 'jp-collab-probe',
      dataset: { probe: probe.prompt.slice(0, 200) }
    },
    header
  );
  if (probe.expectation) {
    row.appendChild(
      h('div', {
        className: 'jp-collab-why',
        text: `Expected: ${probe.expectation}`
      })
    );
  }
  if (outcome) {
    header.appendChild(verdictBadge(outcome.verdict, outcome.reason));
    row.appendChild(
      h('div', { className: 'jp-collab-reason', text: outcome.reason })
    );
    const diff = sideBySide(outcome.baseline, outcome.amended);
    const cached = outcome.baseline_cached
      ? h('span', {
          className: 'jp-collab-cached',
          text: 'baseline cached',
          title: 'The server reused the answer without the amendment'
        })
      : null;
    row.appendChild(
      h(
        'div',
        { className: 'jp-collab-probe-columns' },
        column('Baseline', renderColumn(diff.baseline), cached),
        column(
          'Amended',
          renderColumn(diff.amended),
          h('span', {
            className: 'jp-collab-diff-stats',
            text: diff.changed
              ? `+${diff.added} −${diff.removed} words`
              : 'no change'
          })
        )
      )
    );
    return row;
  }
  const pending = running
    ? loading('Answering…')
    : h('div', { className: 'jp-collab-muted', text: 'Not run.' });
  if (previous) {
    row.appendChild(
      h(
        'div',
        { className: 'jp-collab-probe-columns' },
        column(
          'Baseline',
          renderColumn([{ text: previous.baseline, kind: 'same' }]),
          h('span', { className: 'jp-collab-previous', text: 'previous run' })
        ),
        column('Amended', pending)
      )
    );
  } else {
    row.appendChild(pending);
  }
  return row;
}
