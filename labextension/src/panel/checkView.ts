/**
 * An entry's check in the context panel: its health from the last check (with
 * date and model), a Check button, and, on expand, the evidence and the
 * stored probes with their expectation (editable). The health, the outcomes
 * and the expectation in force are the server's; this only shows them.
 */
import type { TranslationBundle } from '@jupyterlab/translation';
import { deleteIcon } from '@jupyterlab/ui-components';

import { Expectation, Health, IAmendment, IProbeCheck } from '../api/wire';
import { button, h } from '../feedback/dom';
import { NotebookCheck } from './check';

export interface ICheckActions {
  check(id: string | null): void;
  cancelCheck(): void;
  setExpectation(id: string, probe: number, expectation: Expectation): void;
  addProbe(id: string, prompt: string, expectation: Expectation): void;
  removeProbe(id: string, probe: number): void;
  isOpen(key: string): boolean;
  setOpen(key: string, open: boolean): void;
}

/**
 * What an entry's check view needs besides the entry.
 */
export interface IEntryCheck {
  /** The notebook's check (running or last). */
  run: NotebookCheck | null;
  /** The expectation in force of each stored probe (from the server's view). */
  expectations: Expectation[];
  /** The text of each entry, by id (to name a conflicting one). */
  textOf(id: string): string | null;
  actions: ICheckActions;
  /** The new probe being written for this entry. */
  draft: IProbeDraft;
}

export interface IProbeDraft {
  prompt: string;
  expectation: Expectation;
}

function short(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > 40 ? `${line.slice(0, 39)}…` : line;
}

function when(value: string): string {
  const parsed = new Date(value);
  return Number.isNaN(parsed.getTime()) ? value : parsed.toLocaleString();
}

/**
 * A health in words.
 */
export function healthLabel(health: Health, trans: TranslationBundle): string {
  switch (health) {
    case 'holds':
      return trans.__('Holds');
    case 'broken':
      return trans.__('Broken');
    case 'flaky':
      return trans.__('Flaky');
    case 'conflict':
      return trans.__('Conflict');
    case 'untested':
      return trans.__('Untested');
  }
}

function expectationSelect(
  value: Expectation,
  label: string,
  onChange: (value: Expectation) => void,
  trans: TranslationBundle,
  focusKey: string
): HTMLSelectElement {
  const select = h(
    'select',
    {
      className: 'jp-collab-expectation',
      aria: { label },
      dataset: { focusKey },
      onChange: () => onChange(select.value as Expectation)
    },
    h('option', { value: 'change', text: trans.__('Should change') }),
    h('option', { value: 'no_change', text: trans.__('Should not change') })
  );
  select.value = value;
  return select;
}

function outcomeBadge(
  probe: IProbeCheck,
  trans: TranslationBundle
): HTMLElement {
  const text =
    probe.outcome === 'pass'
      ? trans.__('✓ pass')
      : probe.outcome === 'fail'
        ? trans.__('✗ fail')
        : trans.__('~ flaky');
  return h('span', {
    className: `jp-collab-outcome jp-mod-${probe.outcome}`,
    text,
    title: trans.__('Decided by: %1', probe.decided_by)
  });
}

/**
 * The health line of an entry: live while its check runs, else the last
 * stored check's health, date and model.
 */
export function healthLine(
  amendment: IAmendment,
  state: IEntryCheck,
  trans: TranslationBundle
): HTMLElement {
  const run = state.run;
  const live = run?.result(amendment.id) ?? null;
  const running = run?.covers(amendment.id) ?? false;
  let health: Health | null = null;
  let text: string;
  if (running && !live) {
    const answered = run!.probes(amendment.id).length;
    text = trans.__(
      'Checking… %1 of %2 probes',
      answered,
      amendment.preview.length
    );
  } else if (running && live) {
    health = live.health;
    text = healthLabel(live.health, trans);
  } else if (amendment.check) {
    const record = amendment.check;
    health = record.health;
    text = record.probes_total
      ? trans.__(
          '%1 · %2/%3 probes · %4 · %5',
          healthLabel(record.health, trans),
          record.probes_passed,
          record.probes_total,
          when(record.at),
          record.model
        )
      : trans.__(
          '%1 · %2 · %3',
          healthLabel(record.health, trans),
          when(record.at),
          record.model
        );
    if (record.replayed) {
      text += ` · ${trans.__('replayed')}`;
    }
  } else {
    text = trans.__('Not checked yet');
  }
  const conflicts = (live ?? amendment.check)?.conflicts_with ?? [];
  if (health === 'conflict' && conflicts.length) {
    text += ` · ${trans.__(
      'with %1',
      conflicts.map(id => `“${short(state.textOf(id) ?? id)}”`).join(', ')
    )}`;
  }
  const checking = running && !live;
  const action = running
    ? run!.target === amendment.id
      ? button(trans.__('Cancel'), () => state.actions.cancelCheck(), {
          className: 'jp-collab-check-button',
          title: trans.__('Stop the check: keep what it found so far')
        })
      : null
    : button(trans.__('Check'), () => state.actions.check(amendment.id), {
        className: 'jp-collab-check-button',
        title: trans.__(
          'Answer this entry’s probes again, with and without it, and see whether it still holds'
        )
      });
  if (action) {
    action.setAttribute(
      'aria-label',
      running
        ? trans.__('Cancel the check of “%1”', short(amendment.text))
        : trans.__('Check “%1”', short(amendment.text))
    );
    action.disabled = !running && (run?.running ?? false);
  }
  return h(
    'div',
    {
      className: `jp-collab-health${health ? ` jp-mod-${health}` : ''}${checking ? ' jp-mod-checking' : ''}`,
      dataset: { health: health ?? (checking ? 'checking' : 'none') }
    },
    h('span', {
      className: 'jp-collab-health-text',
      role: 'status',
      text
    }),
    action
  );
}

/**
 * The expandable evidence and stored probes of an entry.
 */
export function checkDetails(
  amendment: IAmendment,
  state: IEntryCheck,
  trans: TranslationBundle
): HTMLElement {
  const key = `check:${amendment.id}`;
  const run = state.run;
  const live = run?.result(amendment.id) ?? null;
  const outcomes = new Map(
    (run?.probes(amendment.id) ?? []).map(p => [p.index, p])
  );
  const details = h(
    'details',
    { className: 'jp-collab-check' },
    h('summary', {
      text: trans._n(
        'Check · %1 probe',
        'Check · %1 probes',
        amendment.preview.length
      )
    })
  );
  details.open = state.actions.isOpen(key);
  details.addEventListener('toggle', () =>
    state.actions.setOpen(key, details.open)
  );
  const summary = live?.summary || amendment.check?.summary;
  if (summary) {
    details.appendChild(
      h('div', { className: 'jp-collab-check-summary', text: summary })
    );
  }
  const list = h('ol', { className: 'jp-collab-probes' });
  amendment.preview.forEach((stored, index) => {
    const number = index + 1;
    const outcome = outcomes.get(index);
    const explicit =
      stored.expectation !== null && stored.expectation !== undefined;
    list.appendChild(
      h(
        'li',
        {
          className: 'jp-collab-stored-probe',
          dataset: { probe: String(number) }
        },
        h(
          'div',
          { className: 'jp-collab-probe-row' },
          outcome ? outcomeBadge(outcome, trans) : null,
          h('span', {
            className: 'jp-collab-probe-prompt',
            text: stored.probe
          }),
          h('span', { className: 'jp-collab-spacer' }),
          expectationSelect(
            state.expectations[index] ?? 'no_change',
            trans.__('Expectation of probe %1', number),
            value => state.actions.setExpectation(amendment.id, number, value),
            trans,
            `${key}:expect:${number}`
          ),
          h(
            'button',
            {
              className: 'jp-collab-icon-button jp-collab-remove-probe',
              type: 'button',
              title: trans.__('Remove this probe'),
              aria: { label: trans.__('Remove probe %1', number) },
              onClick: () => state.actions.removeProbe(amendment.id, number)
            },
            deleteIcon.element({ tag: 'span', elementSize: 'normal' })
          )
        ),
        explicit
          ? null
          : h('div', {
              className: 'jp-collab-muted',
              text: trans.__('Expectation derived from the preview')
            }),
        outcome?.reason
          ? h('div', { className: 'jp-collab-why', text: outcome.reason })
          : null
      )
    );
  });
  if (amendment.preview.length) {
    details.appendChild(list);
  } else {
    details.appendChild(
      h('div', {
        className: 'jp-collab-muted',
        text: trans.__('No probes: add one to check this entry.')
      })
    );
  }
  details.appendChild(addProbeForm(amendment, state, trans, key));
  return details;
}

function addProbeForm(
  amendment: IAmendment,
  state: IEntryCheck,
  trans: TranslationBundle,
  key: string
): HTMLElement {
  const draft = state.draft;
  const submit = () => {
    if (draft.prompt.trim()) {
      state.actions.addProbe(amendment.id, draft.prompt, draft.expectation);
    }
  };
  const prompt = h('input', {
    className: 'jp-mod-styled jp-collab-new-probe',
    type: 'text',
    value: draft.prompt,
    placeholder: trans.__('A prompt to check it with'),
    aria: { label: trans.__('New probe prompt') },
    dataset: { focusKey: `${key}:new` },
    onInput: () => {
      draft.prompt = prompt.value;
    },
    onKeyDown: event => {
      if (event.key === 'Enter') {
        event.preventDefault();
        submit();
      }
    }
  });
  return h(
    'div',
    { className: 'jp-collab-add-probe' },
    prompt,
    expectationSelect(
      draft.expectation,
      trans.__('Expectation of the new probe'),
      value => {
        draft.expectation = value;
      },
      trans,
      `${key}:new-expect`
    ),
    button(trans.__('Add'), submit, {
      className: 'jp-collab-add-probe-button',
      title: trans.__('Add this probe; it is checked from the next check on')
    })
  );
}
