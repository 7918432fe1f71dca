/**
 * The notebook's mode (persona) and model, in the context panel.
 */
import { IModelsInfo, ISettings, Mode } from '../api/types';
import { h } from '../feedback/dom';

export interface ISettingsActions {
  mode(mode: Mode): void;
  model(name: string | null): void;
}

const MODES: [Mode, string][] = [
  ['research', 'Research frontier'],
  ['learning', 'Learning']
];

/**
 * The mode select and the model choice (a select of the allowed models, or
 * a text box when any model name is accepted).
 */
export function settingsView(
  settings: ISettings,
  models: IModelsInfo | null,
  actions: ISettingsActions
): HTMLElement {
  const mode = h(
    'select',
    {
      className: 'jp-collab-mode jp-mod-styled',
      aria: { label: 'Mode' },
      onChange: () => actions.mode(mode.value as Mode)
    },
    ...MODES.map(([value, label]) => h('option', { value, text: label }))
  );
  mode.value = settings.mode;
  const fallback = models?.model
    ? `server default (${models.model})`
    : 'server default';
  let model: HTMLElement;
  if (models && models.allowed_models.length) {
    const select = h(
      'select',
      {
        className: 'jp-collab-model jp-mod-styled',
        aria: { label: 'Model' },
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
      aria: { label: 'Model' },
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
      h('span', { className: 'jp-collab-label', text: 'Mode' }),
      mode
    ),
    h(
      'label',
      {},
      h('span', { className: 'jp-collab-label', text: 'Model' }),
      model
    )
  );
}
