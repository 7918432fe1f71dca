/**
 * Importing another notebook's entries into this one, from the context panel:
 * the notebooks it could import from (`GET layers/importable`), what an import
 * would bring and skip (`POST layers/import` with `dry_run`), then the import of
 * the entries kept checked. Nothing is written before the confirmation.
 */
import { getImportable, importEntries } from '../api/layers';
import {
  IImportableView,
  ILayerImportReply,
  ILayerImportRequest
} from '../api/wire';
import { errorMessage, statusOf } from './client';

export interface IImportClient {
  importable(path: string): Promise<IImportableView>;
  importEntries(body: ILayerImportRequest): Promise<ILayerImportReply>;
}

/**
 * The client that talks to the Jupyter server.
 */
export const serverImportClient: IImportClient = {
  importable: path => getImportable(path),
  importEntries: body => importEntries(body)
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
    confirm: () => void this._confirm(),
    close: () => {
      this.state = null;
      this.changed();
    }
  };

  private async _open(): Promise<void> {
    const state: IImportState = {
      candidates: null,
      from: '',
      preview: null,
      unchecked: new Set(),
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
    Object.assign(state, {
      from,
      preview: null,
      unchecked: new Set<string>(),
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
      state.preview = null;
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
}
