/**
 * Live updates: while the context panel is visible, the sidecar's
 * `last_modified` (contents API, no content) is polled every few seconds; a
 * change made elsewhere (the CLI, another tab, git) reloads the context.
 */
import { Contents } from '@jupyterlab/services';

import { sidecarPath } from './grouping';
import { NotebookContextModel } from './model';

export const POLL_INTERVAL_MS = 3000;

export class ContextWatcher {
  constructor(
    private readonly contents: Pick<Contents.IManager, 'get'>,
    private readonly current: () => NotebookContextModel | null,
    private readonly visible: () => boolean,
    readonly interval = POLL_INTERVAL_MS
  ) {}

  start(): void {
    if (this._timer === null) {
      this._timer = window.setInterval(() => void this.tick(), this.interval);
    }
  }

  stop(): void {
    if (this._timer !== null) {
      window.clearInterval(this._timer);
      this._timer = null;
    }
  }

  /**
   * One poll: reload the shown model when its sidecar changed since the last.
   * Resolves with whether it reloaded.
   */
  async tick(): Promise<boolean> {
    const model = this.current();
    if (!model || !this.visible() || this._busy) {
      return false;
    }
    this._busy = true;
    try {
      const stamp = await this._stamp(model.path);
      const previous = this._seen.get(model.path);
      this._seen.set(model.path, stamp);
      // The first look cannot tell what changed since the model was loaded:
      // reload once, then only on a new stamp.
      if (previous !== stamp) {
        await model.load();
        return true;
      }
      return false;
    } catch {
      return false;
    } finally {
      this._busy = false;
    }
  }

  private async _stamp(notebookPath: string): Promise<string> {
    try {
      const info = await this.contents.get(sidecarPath(notebookPath), {
        content: false
      });
      return info.last_modified ?? '';
    } catch {
      return 'missing';
    }
  }

  private _timer: number | null = null;
  private _busy = false;
  private _seen = new Map<string, string>();
}
