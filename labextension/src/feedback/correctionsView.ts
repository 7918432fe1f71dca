/**
 * The popover's corrections step: suggested corrections (loading, each
 * selectable) and a box for the researcher's own.
 */
import type { TranslationBundle } from '@jupyterlab/translation';

import { button, h, loading, replaceChildren } from './dom';
import { FeedbackSession } from './session';

/**
 * The label of a suggestion's operation (the server's word when unknown).
 */
export function operationLabel(
  operation: string,
  trans: TranslationBundle
): string {
  switch (operation) {
    case 'replace':
      return trans.__('Replace');
    case 'delete':
      return trans.__('Delete');
    case 'insert':
      return trans.__('Insert');
    case 'comment':
      return trans.__('Comment');
    default:
      return operation;
  }
}

/**
 * Move focus among the radio buttons of a list with the arrow keys.
 */
export function arrowNavigation(event: KeyboardEvent, list: HTMLElement): void {
  if (event.key !== 'ArrowDown' && event.key !== 'ArrowUp') {
    return;
  }
  const items = Array.from(
    list.querySelectorAll<HTMLElement>('[role="radio"]')
  );
  const at = items.indexOf(document.activeElement as HTMLElement);
  if (at < 0) {
    return;
  }
  event.preventDefault();
  const next = event.key === 'ArrowDown' ? at + 1 : at - 1;
  items[(next + items.length) % items.length].focus();
}

export class CorrectionsView {
  readonly node: HTMLElement;

  constructor(
    private readonly session: FeedbackSession,
    private readonly trans: TranslationBundle
  ) {
    this._list = h('div', {
      className: 'jp-collab-choices',
      role: 'radiogroup',
      aria: { label: trans.__('Suggested corrections') },
      onKeyDown: event => arrowNavigation(event, this._list)
    });
    this._own = h('textarea', {
      className: 'jp-collab-own-correction',
      placeholder: trans.__('Or write your own correction… (Ctrl+Enter)'),
      aria: { label: trans.__('Your correction') },
      onKeyDown: event => {
        if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
          event.preventDefault();
          this._useOwn();
        }
      },
      onInput: () => {
        this.session.userCorrection = this._own.value;
        this._ownButton.disabled = !this._own.value.trim();
      }
    });
    this._ownButton = button(
      trans.__('Use my correction'),
      () => this._useOwn(),
      { className: 'jp-collab-use-own' }
    );
    this._ownButton.disabled = true;
    this.node = h(
      'section',
      { className: 'jp-collab-step jp-collab-corrections' },
      h('h3', { text: trans.__('Corrections') }),
      this._list,
      h('div', { className: 'jp-collab-own' }, this._own, this._ownButton)
    );
    this.render();
  }

  /**
   * Show the session's suggestions and which one is chosen.
   */
  render(): void {
    const { session, trans } = this;
    if (session.suggestionsState === 'loading') {
      replaceChildren(this._list, loading(trans.__('Suggesting corrections…')));
      return;
    }
    if (session.suggestionsState === 'error') {
      replaceChildren(
        this._list,
        h('div', {
          className: 'jp-collab-error',
          text: trans.__('No suggestions: %1', session.suggestionsError)
        })
      );
      return;
    }
    if (session.suggestionsState === 'ready' && !session.suggestions.length) {
      replaceChildren(
        this._list,
        h('div', {
          className: 'jp-collab-muted',
          text: trans.__('No suggestions.')
        })
      );
      return;
    }
    const focused = this._list.contains(document.activeElement)
      ? Array.from(this._list.children).indexOf(
          document.activeElement as Element
        )
      : -1;
    replaceChildren(
      this._list,
      ...session.suggestions.map((suggestion, index) => {
        const chosen =
          session.choice?.origin === 'ai' && session.choice.index === index;
        return h(
          'button',
          {
            className: `jp-collab-choice${chosen ? ' jp-mod-selected' : ''}`,
            type: 'button',
            role: 'radio',
            aria: { checked: String(chosen) },
            dataset: { index: String(index) },
            onClick: () => void session.chooseSuggestion(index)
          },
          h('span', {
            className: `jp-collab-op jp-mod-${suggestion.operation}`,
            text: operationLabel(suggestion.operation, trans)
          }),
          h('span', {
            className: 'jp-collab-choice-text',
            text: suggestion.text || trans.__('(remove the span)')
          }),
          suggestion.why
            ? h('span', { className: 'jp-collab-why', text: suggestion.why })
            : null
        );
      })
    );
    if (focused >= 0) {
      (this._list.children[focused] as HTMLElement | undefined)?.focus();
    }
    if (session.choice?.origin === 'user') {
      this._own.classList.add('jp-mod-selected');
    } else {
      this._own.classList.remove('jp-mod-selected');
    }
  }

  /**
   * Focus the first suggestion, or the own-correction box.
   */
  focus(): void {
    const first = this._list.querySelector<HTMLElement>('[role="radio"]');
    (first ?? this._own).focus();
  }

  private _useOwn(): void {
    if (this._own.value.trim()) {
      void this.session.useOwnCorrection(this._own.value);
    }
  }

  private _list: HTMLElement;
  private _own: HTMLTextAreaElement;
  private _ownButton: HTMLButtonElement;
}
