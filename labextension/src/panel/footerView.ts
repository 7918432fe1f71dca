/**
 * The context panel's footer: the context's size and revision, whether the
 * last call read it from the prompt cache, and the notebook's mode and model.
 */
import type { TranslationBundle } from '@jupyterlab/translation';

import { IContextView, IModelsInfo } from '../api/wire';
import { h } from '../feedback/dom';
import { ICollabPayload } from '../feedback/payload';
import { ISettingsActions, settingsView } from './settingsView';

/**
 * What the last call did with the prompt cache, in words.
 */
export function cacheSummary(
  last: ICollabPayload['result'] | null,
  trans: TranslationBundle
): string {
  if (!last) {
    return trans.__('No call yet.');
  }
  const read = last.usage?.cache_read_input_tokens ?? 0;
  const written = last.usage?.cache_creation_input_tokens ?? 0;
  return read
    ? trans._n(
        'Last call read %1 token from the prompt cache.',
        'Last call read %1 tokens from the prompt cache.',
        read
      )
    : written
      ? trans._n(
          'Last call wrote %1 token to the prompt cache.',
          'Last call wrote %1 tokens to the prompt cache.',
          written
        )
      : trans.__('Last call did not use the prompt cache.');
}

/**
 * The footer of `view`; `last` is the notebook's most recent answer.
 */
export function footerView(
  view: IContextView,
  last: ICollabPayload['result'] | null,
  models: IModelsInfo | null,
  settings: ISettingsActions,
  trans: TranslationBundle
): HTMLElement {
  return h(
    'div',
    { className: 'jp-collab-panel-footer' },
    h('div', {
      className: 'jp-collab-size',
      text: trans._n(
        '≈ %1 token · revision %2',
        '≈ %1 tokens · revision %2',
        view.token_count,
        view.revision
      )
    }),
    h('div', { className: 'jp-collab-cache', text: cacheSummary(last, trans) }),
    settingsView(view.context.settings, models, settings, trans)
  );
}
