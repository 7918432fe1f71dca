/**
 * The top of the context panel: its title, the notebook's path, Undo (named
 * after what it would reverse) and Reload; and the banner asking to review an
 * embedded context the notebook carries.
 */
import type { TranslationBundle } from '@jupyterlab/translation';

import { button, h } from '../feedback/dom';
import { IChange, describeChanges } from './undo';

export interface IHeaderActions {
  undo(): void;
  reload(): void;
}

/**
 * The header; `undoChanges` are what Undo would reverse (none: disabled).
 */
export function headerView(
  path: string,
  undoChanges: IChange[] | null,
  actions: IHeaderActions,
  trans: TranslationBundle
): HTMLElement {
  const undo = button(trans.__('Undo'), () => actions.undo(), {
    className: 'jp-collab-undo',
    title: undoChanges
      ? trans.__('Undo: %1 (Ctrl+Z)', describeChanges(undoChanges, trans))
      : trans.__('Nothing to undo')
  });
  undo.disabled = !undoChanges;
  return h(
    'div',
    { className: 'jp-collab-panel-header' },
    h('span', {
      className: 'jp-collab-panel-title',
      text: trans.__('Context')
    }),
    h('span', { className: 'jp-collab-panel-path', text: path }),
    h('span', { className: 'jp-collab-spacer' }),
    undo,
    button(trans.__('Reload'), () => actions.reload(), {
      className: 'jp-collab-reload',
      title: trans.__('Read the context from the server again')
    })
  );
}

/**
 * The banner of a notebook whose embedded context awaits review.
 */
export function reviewBanner(
  review: () => void,
  trans: TranslationBundle
): HTMLElement {
  return h(
    'div',
    { className: 'jp-collab-review-banner' },
    h('span', {
      text: trans.__(
        'This notebook carries a context you have not reviewed; it is not used until you accept it.'
      )
    }),
    button(trans.__('Review…'), review, { accept: true })
  );
}
