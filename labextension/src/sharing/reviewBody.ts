/**
 * What the review dialog shows: the embedded entries awaiting review, as text.
 */
import { ICollabContext } from '../api/types';
import { h } from '../feedback/dom';

/**
 * The dialog body listing the pending entries.
 */
export function reviewBody(
  pending: ICollabContext,
  notebookName: string
): HTMLElement {
  const list = h('ul', { className: 'jp-collab-review-list' });
  for (const entry of pending.amendments) {
    list.appendChild(
      h(
        'li',
        { className: `jp-collab-review-entry jp-mod-${entry.kind}` },
        h('span', {
          className: `jp-collab-kind-tag jp-mod-${entry.kind}`,
          text: entry.kind
        }),
        h('span', { className: 'jp-collab-entry-text', text: entry.text }),
        entry.status !== 'accepted'
          ? h('span', {
              className: 'jp-collab-muted',
              text: ` (${entry.status})`
            })
          : null,
        entry.provenance?.quote
          ? h(
              'div',
              { className: 'jp-collab-why' },
              'From the span ',
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
      text:
        `${notebookName} carries an AI context that is not yet used here. ` +
        'Its entries become part of the instructions of every call of this ' +
        'notebook: apply them only if you trust where the notebook came from.'
    }),
    pending.amendments.length
      ? list
      : h('p', {
          className: 'jp-collab-muted',
          text: 'It has highlights but no entries.'
        })
  );
}
