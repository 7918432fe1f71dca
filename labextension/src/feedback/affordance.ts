/**
 * The small floating "Feedback" button shown above a selection in a rendered
 * answer. Pressing it (or the keyboard shortcut) opens the popover.
 */
import type { TranslationBundle } from '@jupyterlab/translation';

import { anchorRect, currentAnswerSelection } from './selection';

const DEBOUNCE_MS = 120;

export class FeedbackAffordance {
  constructor(
    private readonly onOpen: () => void,
    private readonly accepts: (answer: HTMLElement) => boolean,
    trans: TranslationBundle,
    shortcut = ''
  ) {
    const node = document.createElement('button');
    node.type = 'button';
    node.className = 'jp-collab-affordance';
    node.textContent = trans.__('Feedback');
    node.title = shortcut
      ? trans.__('Give feedback on the selection (%1)', shortcut)
      : trans.__('Give feedback');
    node.setAttribute(
      'aria-label',
      trans.__('Give feedback on the selected text')
    );
    node.hidden = true;
    // Keep the selection: the button must not take it away on press.
    node.addEventListener('mousedown', event => event.preventDefault());
    node.addEventListener('click', () => {
      this.hide();
      this.onOpen();
    });
    document.body.appendChild(node);
    this.node = node;
    document.addEventListener('selectionchange', this._onChange);
    document.addEventListener('scroll', this._onScroll, true);
  }

  readonly node: HTMLButtonElement;

  /**
   * Show or hide the button for the current selection.
   */
  update(): void {
    const selection = currentAnswerSelection();
    if (!selection || !this.accepts(selection.answer)) {
      this.hide();
      return;
    }
    const rect = anchorRect(selection.range);
    this.node.hidden = false;
    const width = this.node.offsetWidth || 80;
    const left = Math.max(
      4,
      Math.min(rect.right - width, window.innerWidth - width - 4)
    );
    const top = rect.top - (this.node.offsetHeight || 24) - 6;
    this.node.style.left = `${left}px`;
    this.node.style.top = `${top < 4 ? rect.bottom + 6 : top}px`;
  }

  hide(): void {
    this.node.hidden = true;
  }

  dispose(): void {
    document.removeEventListener('selectionchange', this._onChange);
    document.removeEventListener('scroll', this._onScroll, true);
    this.node.remove();
  }

  private _onChange = (): void => {
    window.clearTimeout(this._timer);
    this._timer = window.setTimeout(() => this.update(), DEBOUNCE_MS);
  };

  private _onScroll = (): void => {
    if (!this.node.hidden) {
      this.update();
    }
  };

  private _timer = 0;
}
