/**
 * The notebook's mode (persona) and model, in the context panel.
 */
import type { TranslationBundle } from '@jupyterlab/translation';

import { IModelsInfo, ISettings, Mode } from '../api/wire';
import { h } from '../feedback/dom';

export interface ISettingsActions {
  mode(mode: Mode): void;
  model(name: string | null): void;
}

function modeChoices(trans: TranslationBundle): [Mode, string][] {
  return [
    ['research', trans.__('Research frontier')],
    ['learning', trans.__('Learning')]
  ];
}

/**
 * The mode select and the model choice (a select of the allowed models, or
 * a text box when any model name is accepted).
 */
export function settingsView(
  settings: ISettings,
  models: IModelsInfo | null,
  actions: ISettingsActions,
  trans: TranslationBundle
): HTMLElement {
  const mode = h(
    'select',
    {
      className: 'jp-collab-mode jp-mod-styled',
      aria: { label: trans.__('Mode') },
      onChange: () => actions.mode(mode.value as Mode)
    },
    ...modeChoices(trans).map(([value, label]) =>
      h('option', { value, text: label })
    )
  );
  mode.value = settings.mode;
  const fallback = models?.model
    ? trans.__('server default (%1)', models.model)
    : trans.__('server default');
  let model: HTMLElement;
  if (models && models.allowed_models.length) {
    const select = h(
      'select',
      {
        className: 'jp-collab-model jp-mod-styled',
        aria: { label: trans.__('Model') },
        onChange: () => actions.model(select.value || null)
      },
      h('option', { value: '', text: fallback }),
      ...models.allowed_models.map(name =>
        h('option', { value: name, text: name })
      )
    );
    select.value = settings.model ?? '';
    model = select;
  } else {
    const input = h('input', {
      className: 'jp-collab-model jp-mod-styled',
      type: 'text',
      value: settings.model ?? '',
      placeholder: fallback,
      aria: { label: trans.__('Model') },
      onChange: () => actions.model(input.value.trim() || null)
    });
    model = input;
  }
  return h(
    'div',
    { className: 'jp-collab-settings' },
    h(
      'label',
      {},
      h('span', { className: 'jp-collab-label', text: trans.__('Mode') }),
      mode
    ),
    h(
      'label',
      {},
      h('span', { className: 'jp-collab-label', text: trans.__('Model') }),
      model
    )
  );
}
