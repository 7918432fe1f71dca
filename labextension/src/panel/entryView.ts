/**
 * One constitution entry in the context panel: toggle, text (editable),
 * delete, its health from the last check and its probes, and its provenance
 * (span, correction, cell, preview verdicts).
 */
import type { TranslationBundle } from '@jupyterlab/translation';
import { deleteIcon, editIcon } from '@jupyterlab/ui-components';

import { AmendmentKind, IProvenance } from '../api/wire';
import { button, h } from '../feedback/dom';
import { kindSelect } from '../feedback/kindSelect';
import { verdictBadge, verdictSummary } from '../preview/verdict';
import { IEntryCheck, checkDetails, healthLine } from './checkView';
import { IEntryView } from './grouping';

export interface IEntryActions {
  toggle(id: string): void;
  remove(id: string): void;
  save(id: string, text: string, kind: AmendmentKind): void;
  jump(cellId: string, highlightId: string | null): void;
  startEdit(id: string): void;
  cancelEdit(): void;
  /**
   * Whether the entry's provenance is expanded (kept across renders).
   */
  isOpen(id: string): boolean;
  setOpen(id: string, open: boolean): void;
}

/**
 * The editor state of the entry being edited, if any.
 */
export interface IEditing {
  id: string;
  text: string;
  kind: AmendmentKind;
}

function date(value: string): string {
  const parsed = new Date(value);
  return Number.isNaN(parsed.getTime()) ? value : parsed.toLocaleString();
}

/**
 * Where an entry came from, in words.
 */
function sourceName(
  source: IProvenance['source'],
  trans: TranslationBundle
): string {
  switch (source) {
    case 'loop':
      return trans.__('loop');
    case 'user':
      return trans.__('user');
    case 'cli':
      return trans.__('cli');
    case 'import':
      return trans.__('import');
    default:
      return source;
  }
}

function provenance(
  entry: IEntryView,
  actions: IEntryActions,
  trans: TranslationBundle
): HTMLElement {
  const amendment = entry.amendment;
  const source = amendment.provenance ?? { source: 'user' };
  const details = h(
    'details',
    { className: 'jp-collab-provenance' },
    h('summary', {
      text: trans.__(
        'Provenance · %1 · %2',
        sourceName(source.source, trans),
        date(amendment.created)
      )
    })
  );
  details.open = actions.isOpen(amendment.id);
  details.addEventListener('toggle', () =>
    actions.setOpen(amendment.id, details.open)
  );
  const quote = entry.highlight?.quote.exact ?? source.quote;
  if (quote) {
    details.appendChild(
      h(
        'div',
        { className: 'jp-collab-prov-line' },
        h('span', {
          className: 'jp-collab-label',
          text: `${trans.__('Span')} `
        }),
        h('q', { text: quote })
      )
    );
  }
  const correction = entry.correction?.text || source.correction;
  if (correction) {
    details.appendChild(
      h(
        'div',
        { className: 'jp-collab-prov-line' },
        h('span', {
          className: 'jp-collab-label',
          text: `${trans.__('Correction')} `
        }),
        correction
      )
    );
  }
  if (amendment.rationale) {
    details.appendChild(
      h(
        'div',
        { className: 'jp-collab-prov-line' },
        h('span', {
          className: 'jp-collab-label',
          text: `${trans.__('Why')} `
        }),
        amendment.rationale
      )
    );
  }
  const cellId = source.cell_id ?? entry.highlight?.cell_id;
  if (cellId) {
    details.appendChild(
      button(
        trans.__('Go to cell'),
        () => actions.jump(cellId, entry.highlight?.id ?? null),
        {
          className: 'jp-collab-jump',
          title: trans.__('Show the cell and the highlighted span')
        }
      )
    );
  }
  const results = amendment.preview ?? [];
  if (results.length) {
    const list = h('ul', { className: 'jp-collab-prov-verdicts' });
    for (const result of results) {
      list.appendChild(
        h(
          'li',
          {},
          verdictBadge(result.verdict, result.reason, trans),
          h('span', {
            className: 'jp-collab-probe-prompt',
            text: ` ${result.probe}`
          }),
          result.reason
            ? h('div', { className: 'jp-collab-why', text: result.reason })
            : null
        )
      );
    }
    details.appendChild(list);
  }
  return details;
}

function editor(
  editing: IEditing,
  actions: IEntryActions,
  trans: TranslationBundle
): HTMLElement {
  const text = h('textarea', {
    className: 'jp-collab-amendment-text',
    value: editing.text,
    aria: { label: trans.__('Entry text') },
    onInput: () => {
      editing.text = text.value;
    },
    onKeyDown: event => {
      if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        actions.save(editing.id, editing.text, editing.kind);
      } else if (event.key === 'Escape') {
        event.preventDefault();
        event.stopPropagation();
        actions.cancelEdit();
      }
    }
  });
  const kind = kindSelect(
    editing.kind,
    value => {
      editing.kind = value;
    },
    trans
  );
  return h(
    'div',
    { className: 'jp-collab-entry-editor' },
    text,
    h(
      'div',
      { className: 'jp-collab-actions' },
      kind,
      h('span', { className: 'jp-collab-spacer' }),
      button(trans.__('Cancel'), () => actions.cancelEdit()),
      button(
        trans.__('Save'),
        () => actions.save(editing.id, editing.text, editing.kind),
        {
          accept: true
        }
      )
    )
  );
}

/**
 * Render an entry; `editing` is set when this entry is being edited; `check`
 * (its health, Check button and probes) when the panel can run checks.
 */
export function entryView(
  entry: IEntryView,
  actions: IEntryActions,
  editing: IEditing | null,
  trans: TranslationBundle,
  check: IEntryCheck | null = null
): HTMLElement {
  const amendment = entry.amendment;
  const toggle = h('input', {
    className: 'jp-collab-toggle',
    type: 'checkbox',
    title: entry.enabled
      ? trans.__('Enabled: used in every call')
      : trans.__('Disabled: not used'),
    aria: { label: trans.__('Use “%1”', amendment.text.slice(0, 60)) },
    onChange: () => actions.toggle(amendment.id)
  });
  toggle.checked = entry.enabled;
  const counts = entry.verdicts;
  const previewed = Object.values(counts).some(count => count > 0);
  const node = h(
    'li',
    {
      className: `jp-collab-entry${entry.enabled ? '' : ' jp-mod-disabled'}`,
      dataset: { id: amendment.id }
    },
    h(
      'div',
      { className: 'jp-collab-entry-row' },
      toggle,
      editing
        ? editor(editing, actions, trans)
        : h('span', {
            className: 'jp-collab-entry-text',
            text: amendment.text
          }),
      editing
        ? null
        : h(
            'span',
            { className: 'jp-collab-entry-actions' },
            h(
              'button',
              {
                className: 'jp-collab-icon-button jp-collab-edit',
                type: 'button',
                title: trans.__('Edit'),
                aria: { label: trans.__('Edit entry') },
                onClick: () => actions.startEdit(amendment.id)
              },
              editIcon.element({ tag: 'span', elementSize: 'normal' })
            ),
            h(
              'button',
              {
                className: 'jp-collab-icon-button jp-collab-delete',
                type: 'button',
                title: trans.__('Delete (undo with the Undo button)'),
                aria: { label: trans.__('Delete entry') },
                onClick: () => actions.remove(amendment.id)
              },
              deleteIcon.element({ tag: 'span', elementSize: 'normal' })
            )
          )
    ),
    previewed
      ? h('div', {
          className: `jp-collab-entry-verdicts${counts.unintended ? ' jp-mod-warn' : ''}`,
          text: trans.__('Preview: %1', verdictSummary(counts, trans))
        })
      : null,
    check ? healthLine(amendment, check, trans) : null,
    check ? checkDetails(amendment, check, trans) : null,
    provenance(entry, actions, trans)
  );
  return node;
}

/**
 * A group of entries (facts or process rules) with its heading, or a hint
 * when it is empty; `render` renders each entry.
 */
export function groupView(
  kind: AmendmentKind,
  entries: IEntryView[],
  render: (entry: IEntryView) => HTMLElement,
  trans: TranslationBundle
): HTMLElement {
  const list = h('ul', { className: 'jp-collab-entries' });
  for (const entry of entries) {
    list.appendChild(render(entry));
  }
  const facts = kind === 'fact';
  return h(
    'section',
    { className: `jp-collab-group jp-mod-${kind}`, dataset: { kind } },
    h('h3', {
      text: facts
        ? trans.__('Facts (%1)', entries.length)
        : trans.__('Process rules (%1)', entries.length)
    }),
    entries.length
      ? list
      : h('div', {
          className: 'jp-collab-muted',
          text: facts
            ? trans.__(
                'No facts yet: highlight a span of an answer to add one.'
              )
            : trans.__('No process rules yet.')
        })
  );
}
