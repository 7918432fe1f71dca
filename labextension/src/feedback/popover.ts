/**
 * The feedback popover, anchored to the selection: the quoted span, the
 * corrections step and the amendments step. Esc closes it.
 */
import type { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { AmendmentsView, IAmendmentActions } from './amendmentsView';
import { CorrectionsView } from './correctionsView';
import { h } from './dom';
import { FeedbackSession } from './session';

const MARGIN = 8;
const WIDTH = 440;

/**
 * Where to put a box of `size` next to `anchor` inside `viewport`: below the
 * anchor when it fits, else above, clamped to the viewport.
 */
export function placeBox(
  anchor: { left: number; top: number; bottom: number },
  size: { width: number; height: number },
  viewport: { width: number; height: number }
): { left: number; top: number } {
  const left = Math.max(
    MARGIN,
    Math.min(anchor.left, viewport.width - size.width - MARGIN)
  );
  const below = anchor.bottom + MARGIN;
  const above = anchor.top - MARGIN - size.height;
  let top = below;
  if (below + size.height > viewport.height - MARGIN && above >= MARGIN) {
    top = above;
  }
  top = Math.max(MARGIN, Math.min(top, viewport.height - size.height - MARGIN));
  return { left, top };
}

export class FeedbackPopover extends Widget {
  constructor(
    readonly session: FeedbackSession,
    actions: IAmendmentActions,
    private readonly anchor: () => DOMRect | null,
    trans: TranslationBundle
  ) {
    super();
    this.addClass('jp-collab-popover');
    this.node.setAttribute('role', 'dialog');
    this.node.setAttribute(
      'aria-label',
      trans.__('Feedback on the selected text')
    );
    this.node.tabIndex = -1;
    this._corrections = new CorrectionsView(session, trans);
    this._amendments = new AmendmentsView(session, actions, trans);
    const quote = session.highlight.quote.exact;
    this.node.appendChild(
      h(
        'div',
        { className: 'jp-collab-popover-header' },
        h('span', {
          className: 'jp-collab-popover-title',
          text: trans.__('Feedback')
        }),
        h('button', {
          className: 'jp-collab-close',
          type: 'button',
          text: '×',
          title: trans.__('Close (Esc)'),
          aria: { label: trans.__('Close') },
          onClick: () => this.dispose()
        })
      )
    );
    this.node.appendChild(
      h('blockquote', {
        className: 'jp-collab-quote',
        text: quote.length > 400 ? `${quote.slice(0, 399)}…` : quote
      })
    );
    this.node.appendChild(this._corrections.node);
    this.node.appendChild(this._amendments.node);
    this.node.addEventListener('keydown', this, true);
    session.changed.connect(this._onChanged, this);
  }

  /**
   * Show the popover next to its anchor and focus it.
   */
  open(): void {
    Widget.attach(this, document.body);
    this.reposition();
    document.addEventListener('mousedown', this, true);
    window.addEventListener('resize', this);
    this.node.focus();
  }

  /**
   * Place the popover next to the selection (again, after its size changed).
   */
  reposition(): void {
    const rect = this.anchor();
    const width = Math.min(WIDTH, window.innerWidth - 2 * MARGIN);
    this.node.style.width = `${width}px`;
    const height = this.node.offsetHeight || 200;
    const anchor = rect ?? { left: MARGIN, top: MARGIN, bottom: MARGIN };
    const place = placeBox(
      anchor,
      { width, height },
      { width: window.innerWidth, height: window.innerHeight }
    );
    this.node.style.left = `${place.left}px`;
    this.node.style.top = `${place.top}px`;
  }

  handleEvent(event: Event): void {
    if (event.type === 'keydown') {
      const key = event as KeyboardEvent;
      if (key.key === 'Escape') {
        key.preventDefault();
        key.stopPropagation();
        this.dispose();
      }
    } else if (event.type === 'mousedown') {
      // A click elsewhere (not in a dialog the popover opened) closes it.
      const target = event.target as Node;
      if (
        !this.node.contains(target) &&
        !(target as Element).closest?.('.jp-Dialog')
      ) {
        this.dispose();
      }
    } else if (event.type === 'resize') {
      this.reposition();
    }
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    document.removeEventListener('mousedown', this, true);
    window.removeEventListener('resize', this);
    this.session.changed.disconnect(this._onChanged, this);
    super.dispose();
  }

  private _onChanged(): void {
    const hadFocus = this._amendments.node.contains(document.activeElement);
    this._corrections.render();
    const wasLoading = this._amendmentsState;
    this._amendmentsState = this.session.amendmentsState;
    if (wasLoading !== this._amendmentsState) {
      this._amendments.render();
    }
    if (
      this.session.suggestionsState === 'ready' &&
      !this._focusedSuggestions
    ) {
      this._focusedSuggestions = true;
      if (this.node === document.activeElement) {
        this._corrections.focus();
      }
    }
    if (
      wasLoading === 'loading' &&
      this._amendmentsState === 'ready' &&
      !hadFocus
    ) {
      this._amendments.focus();
    }
    this.reposition();
  }

  private _corrections: CorrectionsView;
  private _amendments: AmendmentsView;
  private _amendmentsState = 'idle';
  private _focusedSuggestions = false;
}
