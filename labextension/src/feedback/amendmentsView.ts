/**
 * The popover's amendments step: candidate amendments (each marked fact or
 * process, with its rationale, editable in place), one of the researcher's
 * own, and a warning when one repeats or contradicts an existing entry.
 */
import type { TranslationBundle } from '@jupyterlab/translation';

import { arrowNavigation } from './correctionsView';
import { button, h, loading, replaceChildren } from './dom';
import { kindSelect } from './kindSelect';
import { FeedbackSession } from './session';
import { describeWarning } from './warnings';

export interface IAmendmentActions {
  preview(): void;
  finalize(): void;
}

export class AmendmentsView {
  readonly node: HTMLElement;

  constructor(
    private readonly session: FeedbackSession,
    private readonly actions: IAmendmentActions,
    private readonly trans: TranslationBundle
  ) {
    this._list = h('div', {
      className: 'jp-collab-candidates',
      role: 'radiogroup',
      aria: { label: trans.__('Proposed amendments') },
      onKeyDown: event => arrowNavigation(event, this._list)
    });
    this._preview = button(trans.__('Preview…'), () => this.actions.preview(), {
      accept: true,
      className: 'jp-collab-preview-button',
      title: trans.__(
        'Run probe prompts with and without the amendment (Ctrl+Enter)'
      )
    });
    this._finalize = button(
      trans.__('Finalize'),
      () => this.actions.finalize(),
      {
        className: 'jp-collab-finalize-button',
        title: trans.__('Add the amendment to the context without a preview')
      }
    );
    this.node = h(
      'section',
      { className: 'jp-collab-step jp-collab-amendments' },
      h('h3', { text: trans.__('Amendments') }),
      this._list,
      h(
        'div',
        { className: 'jp-collab-actions' },
        this._finalize,
        this._preview
      )
    );
    this.render();
  }

  /**
   * Rebuild the candidates (after a load, not on every edit).
   */
  render(): void {
    const { session, trans } = this;
    this.node.hidden = session.amendmentsState === 'idle';
    const cards: HTMLElement[] = [];
    if (session.amendmentsState === 'loading') {
      cards.push(loading(trans.__('Proposing amendments…')));
    } else if (session.amendmentsState === 'error') {
      cards.push(
        h('div', {
          className: 'jp-collab-error',
          text: trans.__('No proposals: %1', session.amendmentsError)
        })
      );
    }
    if (
      session.amendmentsState === 'ready' ||
      session.amendmentsState === 'error'
    ) {
      session.candidates.forEach((_, index) => cards.push(this._card(index)));
      cards.push(this._card(session.candidates.length));
    }
    replaceChildren(this._list, ...cards);
    this._updateActions();
  }

  /**
   * Focus the chosen candidate.
   */
  focus(): void {
    this._list
      .querySelector<HTMLElement>('.jp-mod-selected [role="radio"]')
      ?.focus();
  }

  private _card(index: number): HTMLElement {
    const { session, trans } = this;
    const own = index === session.candidates.length;
    const candidate = session.candidate(index);
    const name = trans.__('Amendment %1', index + 1);
    const warnings = h('div', {
      className: 'jp-collab-warnings',
      role: 'status'
    });
    const text = h('textarea', {
      className: 'jp-collab-amendment-text',
      value: candidate.text,
      placeholder: own ? trans.__('Write your own amendment…') : '',
      aria: { label: own ? trans.__('Your amendment') : name },
      onInput: () => {
        session.edit(index, { text: text.value });
        this._select(index);
        this._showWarnings(index, warnings);
      },
      onKeyDown: event => {
        if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
          event.preventDefault();
          this._select(index);
          if (session.draft()) {
            this.actions.preview();
          }
        }
      }
    });
    const radio = h('button', {
      className: 'jp-collab-candidate-pick',
      type: 'button',
      role: 'radio',
      aria: { checked: String(index === session.selected) },
      text: own ? trans.__('Your own') : name,
      onClick: () => this._select(index)
    });
    const card = h(
      'div',
      {
        className: `jp-collab-candidate${index === session.selected ? ' jp-mod-selected' : ''}`,
        dataset: { index: String(index) }
      },
      h(
        'div',
        { className: 'jp-collab-candidate-head' },
        radio,
        kindSelect(
          candidate.kind,
          kind => {
            session.edit(index, { kind });
            this._select(index);
          },
          trans
        )
      ),
      text,
      candidate.rationale
        ? h('div', { className: 'jp-collab-why', text: candidate.rationale })
        : null,
      warnings
    );
    card.addEventListener('focusin', () => this._select(index));
    this._showWarnings(index, warnings);
    return card;
  }

  private _showWarnings(index: number, node: HTMLElement): void {
    replaceChildren(
      node,
      ...this.session.warnings(index).map(warning =>
        h('div', {
          className: `jp-collab-warning jp-mod-${warning.kind}`,
          text: `⚠ ${describeWarning(warning, this.trans)}`
        })
      )
    );
    this._updateActions();
  }

  private _select(index: number): void {
    if (this.session.selected !== index) {
      this.session.select(index);
      for (const card of Array.from(
        this._list.querySelectorAll('.jp-collab-candidate')
      )) {
        const chosen = (card as HTMLElement).dataset.index === String(index);
        card.classList.toggle('jp-mod-selected', chosen);
        card
          .querySelector('[role="radio"]')
          ?.setAttribute('aria-checked', String(chosen));
      }
    }
    this._updateActions();
  }

  private _updateActions(): void {
    const ready = this.session.draft() !== null;
    this._preview.disabled = !ready;
    this._finalize.disabled = !ready;
  }

  private _list: HTMLElement;
  private _preview: HTMLButtonElement;
  private _finalize: HTMLButtonElement;
}
