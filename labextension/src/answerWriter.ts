/**
 * Writes a running answer into a code cell's outputs: the streaming view
 * (throttled), then the final bundle, or the partial answer and an error.
 */
import type { ICodeCellModel } from '@jupyterlab/cells';
import type * as nbformat from '@jupyterlab/nbformat';
import type { TranslationBundle } from '@jupyterlab/translation';

import {
  IFailure,
  IStreamingAnswer,
  StreamingStatus,
  errorOutput,
  streamingOutput
} from './outputs';

export class AnswerWriter {
  constructor(
    private readonly _model: ICodeCellModel,
    private readonly _runId: string,
    private readonly _isCurrent: () => boolean,
    private readonly _trans: TranslationBundle,
    private readonly _throttleMs = 60
  ) {}

  /**
   * The answer text received so far.
   */
  get text(): string {
    return this._text;
  }

  /**
   * Show a state with no answer text yet (e.g. reading variables).
   */
  status(status: StreamingStatus, note?: string): void {
    this._status = status;
    this._note = note;
    this.flush();
  }

  /**
   * Add a piece of the answer; the view updates at most every throttle period.
   */
  append(delta: string): void {
    this._text += delta;
    this._status = 'streaming';
    this._note = undefined;
    if (this._timer === null) {
      this._timer = setTimeout(() => this.flush(), this._throttleMs);
    }
  }

  /**
   * Show what arrived now.
   */
  flush(): void {
    this._clearTimer();
    const ended = this._status === 'cancelled' || this._status === 'error';
    this._write([
      streamingOutput(this._payload(ended ? null : this._runId), this._trans)
    ]);
  }

  /**
   * Replace the streaming view by the final output.
   */
  finish(output: nbformat.IOutput): void {
    this._clearTimer();
    this._write([output]);
  }

  /**
   * The run was cancelled: keep what arrived, marked incomplete.
   */
  cancelled(): void {
    this._status = 'cancelled';
    this._note = this._text
      ? undefined
      : this._trans.__('Cancelled before the answer started.');
    this.flush();
  }

  /**
   * The run failed: keep the partial answer (if any) and add the error.
   */
  failed(failure: IFailure): void {
    this._clearTimer();
    this._status = 'error';
    this._note = undefined;
    const outputs: nbformat.IOutput[] = [];
    if (this._text) {
      outputs.push(streamingOutput(this._payload(null), this._trans));
    }
    outputs.push(errorOutput(failure, this._trans));
    this._write(outputs);
  }

  private _payload(runId: string | null): IStreamingAnswer {
    const payload: IStreamingAnswer = {
      text: this._text,
      status: this._status,
      run_id: runId
    };
    if (this._note) {
      payload.note = this._note;
    }
    return payload;
  }

  private _write(outputs: nbformat.IOutput[]): void {
    if (this._model.isDisposed || !this._isCurrent()) {
      return;
    }
    const area = this._model.outputs;
    if (area.length === outputs.length) {
      outputs.forEach((output, index) => area.set(index, output));
      return;
    }
    area.clear();
    outputs.forEach(output => area.add(output));
  }

  private _clearTimer(): void {
    if (this._timer !== null) {
      clearTimeout(this._timer);
      this._timer = null;
    }
  }

  private _note: string | undefined = undefined;
  private _status: StreamingStatus = 'waiting';
  private _text = '';
  private _timer: ReturnType<typeof setTimeout> | null = null;
}
