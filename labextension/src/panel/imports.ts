/**
 * Importing another notebook's entries into this one, from the context panel:
 * the notebooks it could import from (`GET layers/importable`), what an import
 * would bring and skip (`POST layers/import` with `dry_run`), each arriving
 * entry's effect on this notebook's prompts on request (the stream's
 * `import_effect`), then the import of the entries kept checked. Nothing is
 * written before the confirmation.
 */
import { getImportable, importEntries } from '../api/layers';
import { startImportEffect } from '../api/loop';
import {
  IImportableView,
  ILayerImportEffectRequest,
  ILayerImportReply,
  ILayerImportRequest,
  IPreviewProgress
} from '../api/wire';
import { errorMessage, statusOf } from './client';
import { followEffect, IRunningEffect } from './effectRun';
import { IPromotionEffect } from './promotionEffectView';

export interface IImportClient {
  importable(path: string): Promise<IImportableView>;
  importEntries(body: ILayerImportRequest): Promise<ILayerImportReply>;
  /**
   * One arriving entry's model preview on this notebook's prompts.
   */
  effect(
    body: ILayerImportEffectRequest,
    onProgress: (progress: IPreviewProgress) => void
  ): IRunningEffect;
}

/**
 * The client that talks to the Jupyter server.
 */
export const serverImportClient: IImportClient = {
  importable: path => getImportable(path),
  importEntries: body => importEntries(body),
  effect: (body, onProgress) => startImportEffect(body, { onProgress })
};

/**
 * An import being prepared.
 */
export interface IImportState {
  /**
   * The notebooks to choose from (null while they load).
   */
  candidates: IImportableView | null;
  from: string;
  /**
   * The dry run's answer for `from`.
   */
  preview: ILayerImportReply | null;
  /**
   * The other notebook's ids of the entries left unchecked.
   */
  unchecked: Set<string>;
  /**
   * The model previews asked for, by the other notebook's id of the entry.
   */
  effects: Map<string, IPromotionEffect>;
  error: string | null;
  busy: boolean;
  /**
   * What the last import did, for the user.
   */
  done: string | null;
}

export interface IImportActions {
  open(): void;
  choose(from: string): void;
  toggle(sourceId: string, checked: boolean): void;
  previewEffect(sourceId: string): void;
  confirm(): void;
  close(): void;
}

export class NotebookImport {
  constructor(
    private readonly client: IImportClient,
    private readonly changed: () => void,
    private readonly imported: () => Promise<unknown>
  ) {}

  state: IImportState | null = null;

  /**
   * Follow the notebook shown: an import started for another one is dropped.
   */
  follow(path: string, revision: number): void {
    if (path !== this._path) {
      this._stopEffects();
      this.state = null;
    }
    this._path = path;
    this._revision = revision;
  }

  readonly actions: IImportActions = {
    open: () => void this._open(),
    choose: (from: string) => void this._preview(from),
    toggle: (sourceId: string, checked: boolean) => {
      if (!this.state) {
        return;
      }
      if (checked) {
        this.state.unchecked.delete(sourceId);
      } else {
        this.state.unchecked.add(sourceId);
      }
      this.changed();
    },
    previewEffect: (sourceId: string) => this._runEffect(sourceId),
    confirm: () => void this._confirm(),
    close: () => {
      this._stopEffects();
      this.state = null;
      this.changed();
    }
  };

  /**
   * Stop the model previews still running.
   */
  dispose(): void {
    this._stopEffects();
  }

  private _runEffect(sourceId: string): void {
    const state = this.state;
    if (!state?.preview) {
      return;
    }
    this._running.get(sourceId)?.cancel();
    const { effect, running } = followEffect(
      onProgress =>
        this.client.effect(
          { path: this._path, from_path: state.from, entry_id: sourceId },
          onProgress
        ),
      this.changed,
      ended => {
        if (this._running.get(sourceId) === ended) {
          this._running.delete(sourceId);
        }
      }
    );
    state.effects.set(sourceId, effect);
    this._running.set(sourceId, running);
    this.changed();
  }

  private _stopEffects(): void {
    for (const running of this._running.values()) {
      running.cancel();
    }
    this._running.clear();
  }

  private async _open(): Promise<void> {
    const state: IImportState = {
      candidates: null,
      from: '',
      preview: null,
      unchecked: new Set(),
      effects: new Map(),
      error: null,
      busy: true,
      done: null
    };
    this.state = state;
    this.changed();
    try {
      state.candidates = await this.client.importable(this._path);
      if (state.candidates.notebooks.length === 1) {
        await this._preview(state.candidates.notebooks[0]);
        return;
      }
    } catch (error) {
      state.error = errorMessage(error);
    }
    state.busy = false;
    this.changed();
  }

  private _request(from: string, entryIds: string[] = []): ILayerImportRequest {
    return {
      path: this._path,
      from_path: from,
      entry_ids: entryIds,
      revision: this._revision
    };
  }

  private async _preview(from: string): Promise<void> {
    const state = this.state;
    if (!state) {
      return;
    }
    this._stopEffects();
    Object.assign(state, {
      from,
      preview: null,
      unchecked: new Set<string>(),
      effects: new Map<string, IPromotionEffect>(),
      error: null,
      done: null,
      busy: Boolean(from)
    });
    this.changed();
    if (!from) {
      return;
    }
    try {
      const preview = await this.client.importEntries({
        ...this._request(from),
        dry_run: true
      });
      if (this.state === state && state.from === from) {
        state.preview = preview;
      }
    } catch (error) {
      state.error = errorMessage(error);
    }
    state.busy = false;
    this.changed();
  }

  private async _confirm(): Promise<void> {
    const state = this.state;
    if (!state?.preview) {
      return;
    }
    const chosen = state.preview.source_ids.filter(
      id => !state.unchecked.has(id)
    );
    if (!chosen.length) {
      return;
    }
    state.busy = true;
    state.error = null;
    this.changed();
    try {
      const reply = await this.client.importEntries(
        this._request(state.from, chosen)
      );
      this._revision = reply.context.revision;
      this._stopEffects();
      state.preview = null;
      state.effects = new Map();
      state.done = reply.imported.map(entry => entry.id).join(', ');
      await this.imported();
    } catch (error) {
      state.error = errorMessage(error);
      if (statusOf(error) === 409) {
        // The context moved on: preview again on top of what is there now.
        await this.imported();
      }
    }
    state.busy = false;
    this.changed();
  }

  private _path = '';
  private _revision = 0;
  private readonly _running = new Map<string, IRunningEffect>();
}
