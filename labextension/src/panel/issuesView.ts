/**
 * The context panel's issues: highlights whose span is no longer found
 * (orphans, as the server placed them), and the conflicts the server reported
 * when it opened the context (an embedded context that disagrees, or cannot
 * be read).
 */
import type { TranslationBundle } from '@jupyterlab/translation';

import { IHighlight, IOpenedContext } from '../api/wire';
import { h } from '../feedback/dom';

/**
 * The issues section, or `null` when there is none.
 */
export function issuesView(
  orphans: IHighlight[],
  opened: IOpenedContext | null,
  trans: TranslationBundle
): HTMLElement | null {
  const conflicts = opened?.conflicts ?? [];
  const embeddedError = opened?.embedded_error;
  if (!orphans.length && !conflicts.length && !embeddedError) {
    return null;
  }
  const section = h('section', { className: 'jp-collab-issues' });
  if (orphans.length) {
    section.appendChild(
      h('h3', {
        text: trans.__('Orphaned highlights (%1)', orphans.length)
      })
    );
    const list = h('ul', { className: 'jp-collab-orphans' });
    for (const orphan of orphans) {
      list.appendChild(
        h(
          'li',
          {
            title: trans.__(
              'Its cell or its answer changed: the span is no longer found'
            )
          },
          h('q', { text: orphan.quote.exact })
        )
      );
    }
    section.appendChild(list);
  }
  if (conflicts.length || embeddedError) {
    section.appendChild(h('h3', { text: trans.__('Conflicts') }));
    const list = h('ul', { className: 'jp-collab-conflicts' });
    for (const conflict of conflicts) {
      list.appendChild(h('li', { text: conflict }));
    }
    if (embeddedError) {
      list.appendChild(h('li', { text: embeddedError }));
    }
    section.appendChild(list);
  }
  return section;
}
