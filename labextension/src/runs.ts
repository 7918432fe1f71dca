/**
 * The collaborator cells running now, so they can be cancelled: by the
 * notebook's stop button (interrupt), by the cancel button of the streaming
 * view, by running the cell again, or when the cell is deleted.
 */
import { UUID } from '@lumino/coreutils';
import { ISignal, Signal } from '@lumino/signaling';

/**
 * One collaborator cell run.
 */
export class ActiveRun {
  constructor(
    readonly id: string,
    readonly notebook: object,
    readonly cell: object
  ) {
    this.finished = new Promise(resolve => (this._resolveFinished = resolve));
  }

  /**
   * Resolves when the run ended, however it ended.
   */
  readonly finished: Promise<void>;

  get cancelled(): boolean {
    return this._controller.signal.aborted;
  }

  /**
   * Aborted when the run is cancelled.
   */
  get signal(): AbortSignal {
    return this._controller.signal;
  }

  cancel(): void {
    this._controller.abort();
  }

  /**
   * Call `callback` on cancellation (at once if already cancelled).
   */
  onCancel(callback: () => void): void {
    if (this.cancelled) {
      callback();
    } else {
      this._controller.signal.addEventListener('abort', callback, {
        once: true
      });
    }
  }

  /**
   * Mark the run ended (the registry does this).
   */
  end(): void {
    this._resolveFinished();
  }

  private _controller = new AbortController();
  private _resolveFinished!: () => void;
}

/**
 * The registry of running collaborator cells.
 */
export class ActiveRuns {
  /**
   * Emitted when a run starts or ends.
   */
  get changed(): ISignal<this, ActiveRun> {
    return this._changed;
  }

  /**
   * Register a run of `cell` in `notebook` (any objects identifying them,
   * normally the models). A run of the same cell still going is cancelled.
   */
  start(notebook: object, cell: object): ActiveRun {
    this.cancelCell(cell);
    // The id travels in the streaming output, which real-time collaboration
    // shows to every collaborator: it must not name another page's run.
    const run = new ActiveRun(
      `run-${++this._counter}-${this._page}`,
      notebook,
      cell
    );
    this._runs.set(run.id, run);
    this._changed.emit(run);
    return run;
  }

  /**
   * Unregister a run.
   */
  end(run: ActiveRun): void {
    if (this._runs.delete(run.id)) {
      run.end();
      this._changed.emit(run);
    }
  }

  get(id: string): ActiveRun | undefined {
    return this._runs.get(id);
  }

  /**
   * The run of `cell`, if it is running.
   */
  ofCell(cell: object): ActiveRun | undefined {
    return this.all().find(run => run.cell === cell);
  }

  all(): ActiveRun[] {
    return Array.from(this._runs.values());
  }

  /**
   * Cancel one run; false when no run has this id.
   */
  cancel(id: string): boolean {
    const run = this._runs.get(id);
    run?.cancel();
    return run !== undefined;
  }

  cancelCell(cell: object): void {
    this.ofCell(cell)?.cancel();
  }

  /**
   * Cancel every run of a notebook; returns how many were running.
   */
  cancelNotebook(notebook: object): number {
    const runs = this.all().filter(run => run.notebook === notebook);
    runs.forEach(run => run.cancel());
    return runs.length;
  }

  private _changed = new Signal<this, ActiveRun>(this);
  private _counter = 0;
  private _page = UUID.uuid4();
  private _runs = new Map<string, ActiveRun>();
}

/**
 * The runs of this front end (shared by the executor, the commands and the
 * streaming view's cancel button).
 */
export const activeRuns = new ActiveRuns();
