/**
 * The context panel's check bar: "Check all" (or "Cancel check" while one
 * runs), the progress of a running check, or how the last one ended.
 */
import type { TranslationBundle } from '@jupyterlab/translation';

import { ICollabContext } from '../api/wire';
import { button, h } from '../feedback/dom';
import { NotebookCheck } from './check';

export function checkBar(
  check: NotebookCheck,
  context: ICollabContext,
  trans: TranslationBundle
): HTMLElement {
  const all = check.running
    ? button(trans.__('Cancel check'), () => check.cancel(), {
        className: 'jp-collab-check-all',
        title: trans.__('Stop the check: keep what it found so far')
      })
    : button(trans.__('Check all'), () => void check.start(null), {
        className: 'jp-collab-check-all',
        title: trans.__(
          'Answer every enabled entry’s probes again, with and without it, and see which still hold'
        )
      });
  all.disabled =
    !check.running && !context.amendments.some(a => a.status === 'accepted');
  const parts: HTMLElement[] = [all];
  if (check.running) {
    const progress = h('progress', {
      className: 'jp-collab-check-progress',
      aria: { label: trans.__('Check progress') }
    });
    progress.max = Math.max(check.total, 1);
    progress.value = check.done;
    parts.push(
      progress,
      h('span', {
        className: 'jp-collab-check-status',
        role: 'status',
        text: check.total
          ? trans.__('%1 of %2 probes answered', check.done, check.total)
          : trans.__('Starting the check…')
      })
    );
  } else if (check.error) {
    parts.push(
      h('span', {
        className: 'jp-collab-check-status jp-mod-error',
        role: 'alert',
        text: trans.__('The check failed: %1', check.error)
      })
    );
  } else if (check.cancelled) {
    parts.push(
      h('span', {
        className: 'jp-collab-check-status',
        role: 'status',
        text: trans.__('Check cancelled: the entries it finished were stored.')
      })
    );
  }
  return h('div', { className: 'jp-collab-check-bar' }, ...parts);
}
