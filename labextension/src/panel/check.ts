/**
 * A constitution check as the context panel follows it: progress, each probe's
 * outcome as the server sends it, each amendment's health once known, and the
 * context view the server returns once it stored the results. The health and
 * the outcomes are the server's (core/operations/check.py); nothing is decided here.
 */
import { ISignal, Signal } from '@lumino/signaling';

import { startCheck } from '../api/loop';
import { ICheckHandlers, IStreamRequest } from '../api/stream';
import {
  IAmendmentCheck,
  ICheckMessage,
  ICheckRequest,
  IProbeCheck
} from '../api/wire';
import { errorMessage } from './client';
import { NotebookContextModel } from './model';

/**
 * Starts a check on the server (the stream socket; a fake in tests).
 */
export interface ICheckClient {
  check(
    request: ICheckRequest,
    handlers: ICheckHandlers
  ): IStreamRequest<ICheckMessage>;
}

/**
 * The client that talks to the Jupyter server.
 */
export const serverCheckClient: ICheckClient = {
  check: (request, handlers) => startCheck(request, handlers)
};

/**
 * The checks of one notebook: one at a time, for one entry or all of them.
 * What the last check found stays shown until the next one starts.
 */
export class NotebookCheck {
  constructor(
    private readonly client: ICheckClient,
    private readonly model: NotebookContextModel
  ) {}

  /**
   * Emitted on every event of a running check and when it ends.
   */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /**
   * Whether a check is running.
   */
  get running(): boolean {
    return this._request !== null;
  }

  /**
   * The entry the running (or last) check is of; `null` for all of them.
   */
  get target(): string | null {
    return this._target;
  }

  /**
   * Probes answered so far, and how many the check has.
   */
  get done(): number {
    return this._done;
  }

  get total(): number {
    return this._total;
  }

  /**
   * Why the last check failed, if it did.
   */
  get error(): string | null {
    return this._error;
  }

  /**
   * Whether the last check was cancelled before it finished.
   */
  get cancelled(): boolean {
    return this._cancelled;
  }

  /**
   * Whether the running check covers entry `id`.
   */
  covers(id: string): boolean {
    return this.running && (this._target === null || this._target === id);
  }

  /**
   * The probes of entry `id` answered by the running or last check, by index.
   */
  probes(id: string): IProbeCheck[] {
    return [...(this._probes.get(id)?.values() ?? [])].sort(
      (a, b) => a.index - b.index
    );
  }

  /**
   * The health of entry `id` as the running or last check found it.
   */
  result(id: string): IAmendmentCheck | null {
    return this._results.get(id) ?? null;
  }

  /**
   * Check one entry (`id`) or every enabled one (`null`); resolves when the
   * check ended (finished, cancelled or failed; a failure is in `error`).
   */
  async start(id: string | null): Promise<void> {
    if (this._request) {
      return;
    }
    this._target = id;
    this._probes.clear();
    this._results.clear();
    this._done = 0;
    this._total = 0;
    this._error = null;
    this._cancelled = false;
    const request = this.client.check(
      { path: this.model.path, amendment_id: id },
      { onProgress: event => this._onEvent(event) }
    );
    this._request = request;
    this._changed.emit();
    try {
      const finished = await request.done;
      this._cancelled = finished.report?.cancelled ?? false;
      if (finished.context) {
        this.model.setView(finished.context);
      }
    } catch (error) {
      this._error = errorMessage(error);
    } finally {
      this._request = null;
      this._changed.emit();
    }
  }

  /**
   * Ask the server to stop: the check finishes with what it found so far.
   */
  cancel(): void {
    this._request?.cancel();
  }

  private _onEvent(event: ICheckMessage): void {
    this._done = event.done;
    this._total = event.total || this._total;
    if (event.probe && event.amendment_id) {
      let probes = this._probes.get(event.amendment_id);
      if (!probes) {
        probes = new Map();
        this._probes.set(event.amendment_id, probes);
      }
      probes.set(event.probe.index, event.probe);
    }
    if (event.amendment) {
      // A later conflict may name an amendment again: the last event wins.
      this._results.set(event.amendment.amendment_id, event.amendment);
      const probes = new Map(event.amendment.probes.map(p => [p.index, p]));
      this._probes.set(event.amendment.amendment_id, probes);
    }
    this._changed.emit();
  }

  private _request: IStreamRequest<ICheckMessage> | null = null;
  private _target: string | null = null;
  private _probes = new Map<string, Map<number, IProbeCheck>>();
  private _results = new Map<string, IAmendmentCheck>();
  private _done = 0;
  private _total = 0;
  private _error: string | null = null;
  private _cancelled = false;
  private _changed = new Signal<this, void>(this);
}

/**
 * The check of each notebook, kept while the panel shows another notebook
 * (a running check goes on, and what it found is still there on return).
 */
export class NotebookChecks {
  constructor(private readonly client: ICheckClient) {}

  /**
   * The check of `model`'s notebook.
   */
  of(model: NotebookContextModel): NotebookCheck {
    let check = this._checks.get(model);
    if (!check) {
      check = new NotebookCheck(this.client, model);
      this._checks.set(model, check);
    }
    return check;
  }

  private _checks = new WeakMap<NotebookContextModel, NotebookCheck>();
}
