/**
 * The small toolbar on a collaborator cell: what the cell is, and its mode
 * and model. Choices are written into the `%%collab` options line, so both
 * doors (server and kernel magic) read the same thing.
 */
import type { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { IModelsInfo } from './api';
import { cellOptions } from './cellSource';

export const TOOLBAR_CLASS = 'jp-collab-cell-toolbar';

/**
 * The modes a cell may ask for, with their labels.
 */
function modeChoices(trans: TranslationBundle): Array<[string, string]> {
  return [
    ['research', trans.__('Research')],
    ['learning', trans.__('Learning')]
  ];
}

export type OptionChange = { mode?: string | null; model?: string | null };

export class CollabCellToolbar extends Widget {
  constructor(options: CollabCellToolbar.IOptions) {
    super();
    this.addClass(TOOLBAR_CLASS);
    this._onChange = options.onChange;
    this._trans = options.trans;
    const trans = this._trans;

    const label = document.createElement('span');
    label.className = 'jp-collab-cell-label';
    // Drawn by CSS like the label row of inactive cells (style/cell.css).
    const icon = document.createElement('span');
    icon.className = 'jp-collab-cell-icon';
    const text = document.createElement('span');
    text.textContent = trans.__('Collaborator');
    label.append(icon, text);

    this._mode = select(trans.__('Mode'), 'jp-collab-mode');
    this._fillModes(null);
    this._mode.onchange = () =>
      this._onChange({ mode: this._mode.value || null });

    this._model = select(trans.__('Model'), 'jp-collab-model');
    this._model.onchange = () =>
      this._onChange({ model: this._model.value || null });

    this.node.append(label, this._mode, this._model);
    if (options.models instanceof Promise) {
      this._fillModels(null, null);
      void options.models.then(info => {
        this._info = info;
        this.update();
      });
    } else {
      this._info = options.models;
      this._fillModes(this._info?.default_mode ?? null);
      this._fillModels(this._info, null);
    }
  }

  /**
   * Show the options of `source`.
   */
  setSource(source: string): void {
    this._source = source;
    this.update();
  }

  protected onUpdateRequest(): void {
    const options = cellOptions(this._source);
    this._fillModes(this._info?.default_mode ?? null);
    this._mode.value = options.mode ?? '';
    this._fillModels(this._info, options.model);
    this._model.value = options.model ?? '';
  }

  private _fillModes(defaultMode: string | null): void {
    const trans = this._trans;
    const current = this._mode.value;
    const choices: Array<[string, string]> = [
      [
        '',
        defaultMode
          ? trans.__('Mode: default (%1)', defaultMode)
          : trans.__('Mode: default')
      ],
      ...modeChoices(trans)
    ];
    replaceOptions(this._mode, choices);
    this._mode.value = current;
  }

  private _fillModels(info: IModelsInfo | null, current: string | null): void {
    const trans = this._trans;
    const defaultLabel = info?.model
      ? trans.__('Model: default (%1)', info.model)
      : trans.__('Model: default');
    const models = [...(info?.allowed_models ?? [])];
    if (current && !models.includes(current)) {
      models.push(current);
    }
    replaceOptions(this._model, [
      ['', defaultLabel],
      ...models.map((m): [string, string] => [m, m])
    ]);
  }

  private _info: IModelsInfo | null = null;
  private _mode: HTMLSelectElement;
  private _model: HTMLSelectElement;
  private _onChange: (change: OptionChange) => void;
  private _source = '';
  private _trans: TranslationBundle;
}

export namespace CollabCellToolbar {
  export interface IOptions {
    /**
     * The server's model setup (null when it is not reachable), or the
     * promise of it while the server has not answered yet.
     */
    models: IModelsInfo | null | Promise<IModelsInfo | null>;
    /** Write a change into the cell's options line. */
    onChange: (change: OptionChange) => void;
    /** The extension's translation bundle. */
    trans: TranslationBundle;
  }
}

function select(title: string, className: string): HTMLSelectElement {
  const element = document.createElement('select');
  element.className = `${className} jp-collab-select`;
  element.title = title;
  element.setAttribute('aria-label', title);
  return element;
}

function replaceOptions(
  element: HTMLSelectElement,
  choices: Array<[string, string]>
): void {
  const same =
    element.options.length === choices.length &&
    choices.every(
      ([value, label], i) =>
        element.options[i].value === value && element.options[i].text === label
    );
  if (same) {
    return;
  }
  element.replaceChildren(
    ...choices.map(([value, label]) => {
      const option = document.createElement('option');
      option.value = value;
      option.text = label;
      return option;
    })
  );
}
