/**
 * The preview view: the amendment (editable), progress and cancel, the probe
 * list with baseline and amended answers side by side, a box to add a probe,
 * and Finalize.
 */
import type { TranslationBundle } from '@jupyterlab/translation';
import type { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { button, h, replaceChildren } from '../feedback/dom';
import { kindSelect } from '../feedback/kindSelect';
import { PreviewModel } from './model';
import { probeRow } from './probeRow';
import { outcomesSummary } from './measures';

export interface IPreviewViewOptions {
  model: PreviewModel;
  /**
   * The highlighted span and the correction, shown as context.
   */
  quote: string;
  correction: string;
  /**
   * Finalize with the model's report; resolves when done (true: saved).
   */
  finalize: (model: PreviewModel) => Promise<boolean>;
  /**
   * The extension's translation bundle.
   */
  trans: TranslationBundle;
}

/**
 * The status line of a preview: what it is doing, or how it ended.
 */
function previewStatus(model: PreviewModel, trans: TranslationBundle): string {
  switch (model.status) {
    case 'generating':
      return trans.__('Generating probes…');
    case 'running':
      return trans._n(
        'Running %2 of %1 probe…',
        'Running %2 of %1 probes…',
        model.total,
        model.done
      );
    case 'done':
      return trans._n(
        'Previewed %1 probe.',
        'Previewed %1 probes.',
        model.outcomes.size
      );
    case 'cancelled':
      return trans._n(
        'Cancelled: %2 of %1 probe ran.',
        'Cancelled: %2 of %1 probes ran.',
        model.probes.length,
        model.outcomes.size
      );
    case 'error':
      return trans.__('Preview failed: %1', model.error);
    default:
      return '';
  }
}

export class PreviewView extends Widget {
  constructor(private readonly options: IPreviewViewOptions) {
    super();
    this.addClass('jp-collab-preview');
    this.node.tabIndex = -1;
    const { model, trans } = options;
    this._kind = kindSelect(
      model.amendment.kind,
      kind => {
        model.amendment.kind = kind;
        this._renderControls();
      },
      trans
    );
    this._text = h('textarea', {
      className: 'jp-collab-amendment-text',
      value: model.amendment.text,
      aria: { label: trans.__('Amendment') },
      onInput: () => {
        model.amendment.text = this._text.value;
        this._renderControls();
      },
      onKeyDown: event => {
        if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
          event.preventDefault();
          this._rerun();
        }
      }
    });
    this._rerunButton = button(
      trans.__('Re-run preview'),
      () => this._rerun(),
      {
        className: 'jp-collab-rerun',
        title: trans.__(
          'Preview the edited amendment (Ctrl+Enter); baselines are reused'
        )
      }
    );
    this._cancelButton = button(trans.__('Cancel'), () => model.cancel(), {
      warn: true,
      className: 'jp-collab-preview-cancel'
    });
    this._finalizeButton = button(
      trans.__('Finalize'),
      () => void this._finalize(),
      { accept: true, className: 'jp-collab-finalize' }
    );
    this._progress = h('progress', { className: 'jp-collab-progress' });
    this._status = h('span', {
      className: 'jp-collab-preview-status',
      role: 'status'
    });
    this._summary = h('span', { className: 'jp-collab-summary' });
    this._probes = h('div', { className: 'jp-collab-probes' });
    this._newProbe = h('input', {
      className: 'jp-collab-new-probe jp-mod-styled',
      type: 'text',
      placeholder: trans.__('Add a probe prompt of your own…'),
      aria: { label: trans.__('New probe prompt') },
      onKeyDown: event => {
        if (event.key === 'Enter') {
          event.preventDefault();
          this._addProbe();
        }
      }
    });
    this.node.appendChild(
      h(
        'div',
        { className: 'jp-collab-preview-head' },
        h(
          'div',
          { className: 'jp-collab-preview-origin' },
          h('span', {
            className: 'jp-collab-label',
            text: trans.__('Highlighted')
          }),
          h('q', { text: options.quote }),
          options.correction
            ? h('span', {
                className: 'jp-collab-label',
                text: ` ${trans.__('Correction')}`
              })
            : null,
          options.correction ? h('span', { text: options.correction }) : null
        ),
        h(
          'div',
          { className: 'jp-collab-preview-editor' },
          this._kind,
          this._text
        ),
        h(
          'div',
          { className: 'jp-collab-actions' },
          this._progress,
          this._status,
          this._summary,
          h('span', { className: 'jp-collab-spacer' }),
          this._cancelButton,
          this._rerunButton,
          this._finalizeButton
        )
      )
    );
    this.node.appendChild(this._probes);
    this.node.appendChild(
      h(
        'div',
        { className: 'jp-collab-add-probe' },
        this._newProbe,
        button(trans.__('Add probe'), () => this._addProbe(), {
          className: 'jp-collab-add-probe-button'
        })
      )
    );
    model.changed.connect(this._render, this);
    this._render();
  }

  protected onActivateRequest(msg: Message): void {
    if (!this.node.contains(document.activeElement)) {
      this.node.focus();
    }
  }

  dispose(): void {
    if (!this.isDisposed) {
      this.options.model.cancel();
      this.options.model.changed.disconnect(this._render, this);
    }
    super.dispose();
  }

  private _rerun(): void {
    const model = this.options.model;
    if (!model.running && model.amendment.text.trim()) {
      void model.run();
    }
  }

  private _addProbe(): void {
    const prompt = this._newProbe.value.trim();
    if (prompt) {
      this._newProbe.value = '';
      void this.options.model.addProbe(prompt);
    }
  }

  private async _finalize(): Promise<void> {
    this._finalizing = true;
    this._renderControls();
    try {
      const saved = await this.options.finalize(this.options.model);
      if (saved) {
        this._finalized = true;
      }
    } finally {
      this._finalizing = false;
      this._renderControls();
    }
  }

  private _render(): void {
    const { model, trans } = this.options;
    const finished = this._wasRunning && !model.running;
    this._wasRunning = model.running;
    replaceChildren(
      this._probes,
      ...model.probes.map(probe =>
        probeRow(
          {
            probe,
            outcome: model.outcomes.get(probe.prompt) ?? null,
            previous: model.previous.get(probe.prompt) ?? null,
            running: model.running
          },
          trans
        )
      )
    );
    this._renderControls();
    if (finished) {
      // Keyboard flow: once the run ends, Enter finalizes (or re-runs an edit).
      const active = document.activeElement;
      const typing =
        active?.tagName === 'TEXTAREA' || active?.tagName === 'INPUT';
      const inside = !!active && this.node.contains(active);
      if ((inside && !typing) || !active || active === document.body) {
        (this._finalizeButton.disabled
          ? this._rerunButton
          : this._finalizeButton
        ).focus();
      }
    }
  }

  private _renderControls(): void {
    const { model, trans } = this.options;
    const running = model.running;
    this._progress.hidden = !running;
    if (model.status === 'running') {
      this._progress.max = Math.max(1, model.total);
      this._progress.value = model.done;
    } else {
      this._progress.removeAttribute('value');
    }
    this._status.textContent = model.stale
      ? trans.__('The amendment was edited: re-run the preview.')
      : previewStatus(model, trans);
    this._status.classList.toggle('jp-collab-error', model.status === 'error');
    this._summary.textContent = model.outcomes.size
      ? outcomesSummary(model.outcomes.values(), trans)
      : '';
    this._cancelButton.hidden = !running;
    this._rerunButton.disabled = running || !model.amendment.text.trim();
    this._finalizeButton.disabled =
      running || this._finalizing || this._finalized || model.report() === null;
    this._finalizeButton.textContent = this._finalized
      ? trans.__('Finalized ✓')
      : trans.__('Finalize');
    this._finalizeButton.title = model.stale
      ? trans.__('Re-run the preview of the edited amendment first')
      : trans.__(
          'Add the amendment, with this preview, to the notebook’s context'
        );
  }

  private _kind: HTMLSelectElement;
  private _text: HTMLTextAreaElement;
  private _rerunButton: HTMLButtonElement;
  private _cancelButton: HTMLButtonElement;
  private _finalizeButton: HTMLButtonElement;
  private _progress: HTMLProgressElement;
  private _status: HTMLElement;
  private _summary: HTMLElement;
  private _probes: HTMLElement;
  private _newProbe: HTMLInputElement;
  private _finalizing = false;
  private _wasRunning = false;
  private _finalized = false;
}
