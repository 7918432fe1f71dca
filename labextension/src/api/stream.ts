/**
 * A typed client of the `jupyter-collab/stream` WebSocket
 * (jupyter_collab/server/streaming.py documents the protocol).
 *
 * One socket carries many requests, each keyed by an `id` this client picks:
 *
 *     → {type: "complete", id, ...ICompletionRequest}
 *     ← {type: "delta", id, text} … {type: "result", id, result, output}
 *     → {type: "preview", id, ...IPreviewRequest}
 *     ← {type: "progress", id, event: "started" | "probe" | "finished", …}
 *     → {type: "layer_effect", id, ...ILayerMoveRequest}   (a promotion's preview)
 *     → {type: "import_effect", id, ...ILayerImportEffectRequest}   (an import's)
 *     ← {type: "progress", id, event: "started" | "probe" | "finished", …}
 *     → {type: "check", id, ...ICheckRequest}
 *     ← {type: "check", id, event: "started" | "probe" | "amendment" | "finished", …}
 *     → {type: "cancel", id}   ← {type: "cancelled", id}
 *     ← {type: "error", id, status, reason, message}
 *
 * This module keeps the requests (their ids, how each settles, cancelling);
 * streamSocket.ts holds the connection, streamErrors.ts how a request fails.
 */
import { ServerConnection } from '@jupyterlab/services';
import { IDisposable } from '@lumino/disposable';

import { StreamCancelledError, StreamError } from './streamErrors';
import { StreamSocket } from './streamSocket';
import {
  ICheckMessage,
  ICheckRequest,
  ICollabDisplayData,
  ICompletionRequest,
  ICompletionResult,
  ILayerImportEffectRequest,
  ILayerMoveRequest,
  IPreviewProgress,
  IPreviewReport,
  IPreviewRequest,
  StreamMessage
} from './wire';

/**
 * A request running on the stream.
 */
export interface IStreamRequest<T> {
  /** The id the request was sent with. */
  readonly id: string;
  /** Settles once: the final value, a StreamError or a StreamCancelledError. */
  readonly done: Promise<T>;
  /** Ask the server to stop (a no-op once the request settled). */
  cancel(): void;
}

/**
 * What a finished completion gives: the result and the ready-made nbformat
 * output both doors write (core/outputs.py).
 */
export interface ICompletionDone {
  result: ICompletionResult;
  output: ICollabDisplayData;
}

export interface ICompletionHandlers {
  /** Called with every piece of the answer as it arrives. */
  onDelta?: (text: string) => void;
}

export interface IPreviewHandlers {
  /** Called with every progress event, the final `finished` one included. */
  onProgress?: (progress: IPreviewProgress) => void;
}

export interface ICheckHandlers {
  /** Called with every check event, the final `finished` one included. */
  onProgress?: (progress: ICheckMessage) => void;
}

interface IPending {
  onMessage(message: StreamMessage): void;
  fail(error: Error): void;
}

/**
 * The client: one lazily opened socket shared by all requests.
 */
export class CollabStream implements IDisposable {
  constructor(options: CollabStream.IOptions = {}) {
    this.serverSettings =
      options.serverSettings ?? ServerConnection.makeSettings();
    this._socket = new StreamSocket(this.serverSettings, {
      onMessage: (id, message) => this._pending.get(id)?.onMessage(message),
      onClosed: error => this._failAll(error)
    });
  }

  readonly serverSettings: ServerConnection.ISettings;

  get isDisposed(): boolean {
    return this._disposed;
  }

  /**
   * Ask for a completion; `done` resolves with the result and its output.
   * Cancelling rejects `done` at once with a StreamCancelledError.
   */
  complete(
    request: ICompletionRequest,
    handlers: ICompletionHandlers = {}
  ): IStreamRequest<ICompletionDone> {
    return this._request<ICompletionDone>(
      'complete',
      request,
      true,
      (message, resolve) => {
        if (message.type === 'delta') {
          handlers.onDelta?.(message.text);
        } else if (message.type === 'result') {
          resolve({ result: message.result, output: message.output });
        }
      }
    );
  }

  /**
   * Run a preview; `done` resolves with the report of the `finished` event.
   * Cancelling makes the server finish early: the report says `cancelled`.
   */
  preview(
    request: IPreviewRequest,
    handlers: IPreviewHandlers = {}
  ): IStreamRequest<IPreviewReport> {
    return this._progress('preview', request, handlers);
  }

  /**
   * Run a promotion's model preview: the prompts of the other notebooks the
   * entry would reach, each answered with that notebook's context without and
   * with it (the `started` event lists the probes). Events and cancelling as
   * {@link preview}.
   */
  layerEffect(
    request: ILayerMoveRequest,
    handlers: IPreviewHandlers = {}
  ): IStreamRequest<IPreviewReport> {
    return this._progress('layer_effect', request, handlers);
  }

  /**
   * Run a constitution check; `done` resolves with the `finished` event (its
   * report, and the context view with the results stored). Cancelling makes
   * the server finish early: the report says `cancelled`.
   */
  check(
    request: ICheckRequest,
    handlers: ICheckHandlers = {}
  ): IStreamRequest<ICheckMessage> {
    return this._request<ICheckMessage>(
      'check',
      request,
      false,
      (message, resolve, reject) => {
        if (message.type !== 'check') {
          return;
        }
        handlers.onProgress?.(message);
        if (message.event === 'finished' && message.report) {
          resolve(message);
        } else if (message.event === 'error' || message.event === 'finished') {
          reject(
            new StreamError(
              message.message ?? 'the check ended without a report',
              500,
              'check_error'
            )
          );
        }
      }
    );
  }

  dispose(): void {
    if (this._disposed) {
      return;
    }
    this._disposed = true;
    this._failAll(
      new StreamError('the stream client was disposed', 0, 'disposed')
    );
    this._socket.close();
  }

  /**
   * Run an import's model preview: one entry of another notebook, on this
   * notebook's recent prompts without and with it. Events and cancelling as
   * {@link preview}.
   */
  importEffect(
    request: ILayerImportEffectRequest,
    handlers: IPreviewHandlers = {}
  ): IStreamRequest<IPreviewReport> {
    return this._progress('import_effect', request, handlers);
  }

  private _progress(
    type: 'preview' | 'layer_effect' | 'import_effect',
    request: object,
    handlers: IPreviewHandlers
  ): IStreamRequest<IPreviewReport> {
    return this._request<IPreviewReport>(
      type,
      request,
      false,
      (message, resolve, reject) => {
        if (message.type !== 'progress') {
          return;
        }
        handlers.onProgress?.(message);
        if (message.event === 'finished' && message.report) {
          resolve(message.report);
        } else if (message.event === 'error' || message.event === 'finished') {
          reject(
            new StreamError(
              message.message ?? 'the preview ended without a report',
              500,
              'preview_error'
            )
          );
        }
      }
    );
  }

  private _request<T>(
    type: 'complete' | 'preview' | 'layer_effect' | 'import_effect' | 'check',
    body: object,
    rejectOnCancel: boolean,
    handle: (
      message: StreamMessage,
      resolve: (value: T) => void,
      reject: (error: Error) => void
    ) => void
  ): IStreamRequest<T> {
    const id = `${this._prefix}-${++this._counter}`;
    let settled = false;
    let resolveDone!: (value: T) => void;
    let rejectDone!: (error: Error) => void;
    const done = new Promise<T>((resolve, reject) => {
      resolveDone = resolve;
      rejectDone = reject;
    });
    const settle = (action: () => void) => {
      if (!settled) {
        settled = true;
        this._pending.delete(id);
        action();
      }
    };
    const resolve = (value: T) => settle(() => resolveDone(value));
    const reject = (error: Error) => settle(() => rejectDone(error));

    this._pending.set(id, {
      onMessage: message => {
        if (message.type === 'error') {
          reject(
            new StreamError(message.message, message.status, message.reason)
          );
        } else if (message.type === 'cancelled') {
          reject(new StreamCancelledError(id));
        } else {
          handle(message, resolve, reject);
        }
      },
      fail: reject
    });
    this._send({ ...body, type, id }).catch(reject);

    return {
      id,
      done,
      cancel: () => {
        if (settled) {
          return;
        }
        this._send({ type: 'cancel', id }).catch(() => undefined);
        if (rejectOnCancel) {
          reject(new StreamCancelledError(id));
        }
      }
    };
  }

  private async _send(message: object): Promise<void> {
    if (this._disposed) {
      throw new StreamError('the stream client was disposed', 0, 'disposed');
    }
    await this._socket.send(message);
  }

  private _failAll(error: Error): void {
    for (const pending of Array.from(this._pending.values())) {
      pending.fail(error);
    }
  }

  private _counter = 0;
  private _disposed = false;
  private _pending = new Map<string, IPending>();
  private _prefix = Math.random().toString(36).slice(2, 8);
  private readonly _socket: StreamSocket;
}

export namespace CollabStream {
  export interface IOptions {
    /** Defaults to the page's settings (`ServerConnection.makeSettings()`). */
    serverSettings?: ServerConnection.ISettings;
  }
}
