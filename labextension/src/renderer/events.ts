/**
 * Signals of the answer renderer, for other parts of the front end (the
 * feedback UI attaches its selection popover to rendered answers).
 */
import { ISignal, Signal } from '@lumino/signaling';

import { ICollabOutput } from '../api';

export interface IAnswerRendered {
  /** The element holding the rendered answer text (marks live inside). */
  answerNode: HTMLElement;
  /** The whole rendered output (answer and footer). */
  node: HTMLElement;
  payload: ICollabOutput;
  /** Ids of highlights whose quote was not found in the rendered text. */
  orphaned: string[];
}

class AnswerEvents {
  /**
   * Emitted after a complete answer was rendered (and again on re-render).
   */
  get rendered(): ISignal<this, IAnswerRendered> {
    return this._rendered;
  }

  emitRendered(args: IAnswerRendered): void {
    this._rendered.emit(args);
  }

  private _rendered = new Signal<this, IAnswerRendered>(this);
}

export const answerEvents = new AnswerEvents();
