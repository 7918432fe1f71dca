/**
 * What the review dialog shows: the embedded entries awaiting review, as text.
 */
import type { TranslationBundle } from '@jupyterlab/translation';

import { AmendmentKind, AmendmentStatus, ICollabContext } from '../api/wire';
import { h } from '../feedback/dom';

function kindName(kind: AmendmentKind, trans: TranslationBundle): string {
  switch (kind) {
    case 'fact':
      return trans.__('fact');
    case 'process':
      return trans.__('process');
    default:
      return kind;
  }
}

function statusName(status: AmendmentStatus, trans: TranslationBundle): string {
  switch (status) {
    case 'proposed':
      return trans.__('proposed');
    case 'previewed':
      return trans.__('previewed');
    case 'accepted':
      return trans.__('accepted');
    case 'disabled':
      return trans.__('disabled');
    case 'superseded':
      return trans.__('superseded');
    default:
      return status;
  }
}

/**
 * The dialog body listing the pending entries.
 */
export function reviewBody(
  pending: ICollabContext,
  notebookName: string,
  trans: TranslationBundle
): HTMLElement {
  const list = h('ul', { className: 'jp-collab-review-list' });
  for (const entry of pending.amendments) {
    list.appendChild(
      h(
        'li',
        { className: `jp-collab-review-entry jp-mod-${entry.kind}` },
        h('span', {
          className: `jp-collab-kind-tag jp-mod-${entry.kind}`,
          text: kindName(entry.kind, trans)
        }),
        h('span', { className: 'jp-collab-entry-text', text: entry.text }),
        entry.status !== 'accepted'
          ? h('span', {
              className: 'jp-collab-muted',
              text: ` (${statusName(entry.status, trans)})`
            })
          : null,
        entry.provenance?.quote
          ? h(
              'div',
              { className: 'jp-collab-why' },
              `${trans.__('From the span')} `,
              h('q', { text: entry.provenance.quote })
            )
          : null
      )
    );
  }
  return h(
    'div',
    { className: 'jp-collab-review' },
    h('p', {
      text: trans.__(
        '%1 carries an AI context that is not yet used here. Its entries become part of the instructions of every call of this notebook: apply them only if you trust where the notebook came from.',
        notebookName
      )
    }),
    pending.amendments.length
      ? list
      : h('p', {
          className: 'jp-collab-muted',
          text: trans.__('It has highlights but no entries.')
        })
  );
}
