/**
 * One notebook's context as the front end holds it: the last view the server
 * sent, revision-checked writes with undo, and the stale-write rule (a 409
 * never overwrites: the user is asked to reload).
 */
import { ISignal, Signal } from '@lumino/signaling';

import { IAmendment, IContextView, IOpenedContext } from '../api/wire';
import { PatchOperation } from '../api/types';
import { IContextClient, isStaleError } from './client';
import { IUndoStep, UndoStack, undoFinalize, undoStepFor } from './undo';

/**
 * What the user chose when a write was refused as stale.
 */
export type StaleChoice = 'reload' | 'cancel';

/**
 * Asks the user what to do about a stale write.
 */
export type StaleHandler = (message: string) => Promise<StaleChoice>;

/**
 * The outcome of a write.
 */
export type WriteResult = 'written' | 'stale' | 'reloaded';

export class NotebookContextModel {
  constructor(
    path: string,
    private readonly client: IContextClient,
    private readonly onStale: StaleHandler
  ) {
    this._path = path;
  }

  /**
   * The notebook's path (the context routes' `?path=`).
   */
  get path(): string {
    return this._path;
  }

  set path(value: string) {
    if (value !== this._path) {
      this._path = value;
      this.undo.clear();
      this._opened = null;
      this._view = null;
    }
  }

  /**
   * The last context view the server sent, or `null` before the first load.
   */
  get view(): IContextView | null {
    return this._view;
  }

  /**
   * The last `GET context` answer (reconcile details, review state).
   */
  get opened(): IOpenedContext | null {
    return this._opened;
  }

  get revision(): number {
    return this._view?.revision ?? 0;
  }

  /**
   * The last error of a load or write, for the panel to show.
   */
  get error(): string | null {
    return this._error;
  }

  /**
   * Emitted whenever the view, the error or the undo stack changes.
   */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  readonly undo = new UndoStack();

  /**
   * Load (or reload) the context from the server.
   */
  async load(): Promise<IOpenedContext> {
    try {
      const opened = await this.client.open(this._path);
      this._opened = opened;
      this._view = opened;
      this._error = null;
      this._changed.emit();
      return opened;
    } catch (error) {
      this._error = error instanceof Error ? error.message : String(error);
      this._changed.emit();
      throw error;
    }
  }

  /**
   * Take a view another route returned (finalize, accept).
   */
  setView(view: IContextView): void {
    this._view = view;
    if (this._opened) {
      this._opened = {
        ...this._opened,
        ...view,
        needs_review:
          this._opened.needs_review &&
          (view.embedded === null || view.embedded === undefined)
      };
    }
    this._error = null;
    this._changed.emit();
  }

  /**
   * Apply the embedded context the user reviewed (`POST context/accept`).
   */
  async acceptPending(): Promise<WriteResult> {
    const opened = this._opened;
    if (!opened?.needs_review) {
      return 'written';
    }
    try {
      const view = await this.client.accept(
        this._path,
        this.revision,
        opened.pending_hash ?? null
      );
      this._opened = { ...opened, ...view, needs_review: false, pending: null };
      this.setView(view);
      return 'written';
    } catch (error) {
      if (!isStaleError(error)) {
        throw error;
      }
      return this.resolveStale(
        error instanceof Error ? error.message : String(error)
      );
    }
  }

  /**
   * Record that `amendment` was finalized (so it can be undone).
   */
  finalized(view: IContextView, amendment: IAmendment): void {
    this.undo.push(undoFinalize(amendment));
    this.setView(view);
  }

  /**
   * Apply `operations` against the current revision; each becomes undoable.
   */
  async apply(operations: PatchOperation[]): Promise<WriteResult> {
    const steps: IUndoStep[] = [];
    if (this._view) {
      for (const operation of operations) {
        const step = undoStepFor(this._view.context, operation);
        if (step) {
          steps.push(step);
        }
      }
    }
    const result = await this.write(operations);
    if (result === 'written' && steps.length) {
      this.undo.push({
        changes: steps.flatMap(step => step.changes),
        undo: steps.reverse().flatMap(step => step.undo)
      });
      this._changed.emit();
    }
    return result;
  }

  /**
   * Undo the last change; `null` when there is nothing to undo.
   */
  async undoLast(): Promise<WriteResult | null> {
    const step = this.undo.peek();
    if (!step) {
      return null;
    }
    const result = await this.write(step.undo);
    if (result === 'written') {
      this.undo.pop();
      this._changed.emit();
    }
    return result;
  }

  /**
   * Ask the user about a write the server refused as stale; reload on request.
   */
  async resolveStale(message: string): Promise<'stale' | 'reloaded'> {
    const choice = await this.onStale(message);
    if (choice === 'reload') {
      // What the undo steps refer to may be gone.
      this.undo.clear();
      await this.load();
      return 'reloaded';
    }
    return 'stale';
  }

  /**
   * Send operations; a stale revision asks the user and never overwrites.
   */
  async write(operations: PatchOperation[]): Promise<WriteResult> {
    try {
      const view = await this.client.patch(
        this._path,
        this.revision,
        operations
      );
      this.setView(view);
      return 'written';
    } catch (error) {
      if (!isStaleError(error)) {
        this._error = error instanceof Error ? error.message : String(error);
        this._changed.emit();
        throw error;
      }
      return this.resolveStale(
        error instanceof Error ? error.message : String(error)
      );
    }
  }

  private _path: string;
  private _view: IContextView | null = null;
  private _opened: IOpenedContext | null = null;
  private _error: string | null = null;
  private _changed = new Signal<this, void>(this);
}
