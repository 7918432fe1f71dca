/**
 * The layers shown in the context panel and the promotion being prepared: the
 * server's report (`GET layers`), fetched again when the notebook's context
 * changes, and a promotion's preview before its move: the notebooks it would
 * reach (`layers/preview`), then the model preview on their prompts (the
 * stream's `layer_effect`), which runs until it ends, the promotion is
 * cancelled or confirmed, or another notebook is shown.
 */
import { getLayers, moveEntry, previewMove } from '../api/layers';
import { startLayerEffect } from '../api/loop';
import {
  ILayerMovePreview,
  ILayerMoveReply,
  ILayerMoveRequest,
  ILayersView,
  IPreviewProgress,
  Layer
} from '../api/wire';
import { errorMessage, statusOf } from './client';
import { followEffect, IRunningEffect } from './effectRun';
import { ILayerActions, IPromotion, SharedLayer } from './layersView';

export type { IRunningEffect };

export interface ILayersClient {
  layers(path: string): Promise<ILayersView>;
  preview(body: ILayerMoveRequest): Promise<ILayerMovePreview>;
  /**
   * The move's model preview; `onProgress` gets every event.
   */
  effect(
    body: ILayerMoveRequest,
    onProgress: (progress: IPreviewProgress) => void
  ): IRunningEffect;
  move(body: ILayerMoveRequest): Promise<ILayerMoveReply>;
}

/**
 * The client that talks to the Jupyter server.
 */
export const serverLayersClient: ILayersClient = {
  layers: path => getLayers(path),
  preview: body => previewMove(body),
  effect: (body, onProgress) => startLayerEffect(body, { onProgress }),
  move: body => moveEntry(body)
};

/**
 * The folder of a notebook's API path ('' for the root).
 */
function folderOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? '' : path.slice(0, slash);
}

export class NotebookLayers {
  constructor(
    private readonly client: ILayersClient,
    private readonly changed: () => void,
    private readonly moved: () => Promise<unknown>
  ) {}

  view: ILayersView | null = null;
  error: string | null = null;
  promotion: IPromotion | null = null;

  /**
   * Fetch the layers of `path` when its context's revision is not the one shown.
   */
  follow(path: string, revision: number): void {
    const key = `${path}\n${revision}`;
    if (key === this._key) {
      return;
    }
    if (path !== this._path) {
      this._stopEffect();
      this.promotion = null;
      this.view = null;
    }
    this._key = key;
    this._path = path;
    void this.reload();
  }

  async reload(): Promise<void> {
    const path = this._path;
    try {
      const view = await this.client.layers(path);
      if (path === this._path) {
        this.view = view;
        this.error = null;
      }
    } catch (error) {
      this.error = errorMessage(error);
    }
    this.changed();
  }

  readonly actions: ILayerActions = {
    promote: (entryId: string, target: SharedLayer, projectDir?: string) =>
      void this._preview(entryId, target, projectDir ?? null),
    confirm: () => void this._confirm(),
    cancel: () => {
      this._stopEffect();
      this.promotion = null;
      this.changed();
    },
    demote: (entryId: string, from: Layer) =>
      void this._move({
        path: this._path,
        entry_id: entryId,
        from_layer: from,
        to_layer: 'notebook',
        revisions: this._revisions()
      })
  };

  private _revisions(): Record<string, number> {
    const revisions: Record<string, number> = {};
    for (const layer of this.view?.report.layers ?? []) {
      revisions[layer.layer] = layer.revision;
    }
    return revisions;
  }

  private _request(promotion: IPromotion): ILayerMoveRequest {
    const request: ILayerMoveRequest = {
      path: this._path,
      entry_id: promotion.entryId,
      from_layer: 'notebook',
      to_layer: promotion.target,
      revisions: this._revisions()
    };
    if (promotion.projectDir !== null) {
      request.project_dir = folderOf(this._path);
    }
    return request;
  }

  private async _preview(
    entryId: string,
    target: SharedLayer,
    projectDir: string | null
  ): Promise<void> {
    const promotion: IPromotion = {
      entryId,
      target,
      projectDir,
      preview: null,
      error: null,
      missingLayer: false,
      busy: true,
      effect: null
    };
    this._stopEffect();
    this.promotion = promotion;
    this.changed();
    try {
      promotion.preview = await this.client.preview(this._request(promotion));
    } catch (error) {
      promotion.error = errorMessage(error);
      promotion.missingLayer =
        target === 'project' && projectDir === null && statusOf(error) === 404;
    }
    promotion.busy = false;
    if (promotion.preview && this.promotion === promotion) {
      this._runEffect(promotion);
    }
    this.changed();
  }

  /**
   * Stop the model preview of the promotion shown, if it is still running.
   */
  dispose(): void {
    this._stopEffect();
  }

  private _runEffect(promotion: IPromotion): void {
    const { effect, running } = followEffect(
      onProgress => this.client.effect(this._request(promotion), onProgress),
      this.changed,
      ended => {
        if (this._effect === ended) {
          this._effect = null;
        }
      }
    );
    promotion.effect = effect;
    this._effect = running;
  }

  private _stopEffect(): void {
    this._effect?.cancel();
    this._effect = null;
  }

  private async _confirm(): Promise<void> {
    const promotion = this.promotion;
    if (!promotion?.preview) {
      return;
    }
    promotion.busy = true;
    this.changed();
    const done = await this._move(this._request(promotion));
    if (done) {
      this._stopEffect();
      this.promotion = null;
    } else {
      promotion.busy = false;
    }
    this.changed();
  }

  private async _move(request: ILayerMoveRequest): Promise<boolean> {
    try {
      const reply = await this.client.move(request);
      this.view = reply.layers;
      this.error = null;
      await this.moved();
      return true;
    } catch (error) {
      if (this.promotion) {
        this.promotion.error = errorMessage(error);
      } else {
        this.error = errorMessage(error);
      }
      if (statusOf(error) === 409) {
        void this.reload();
      }
      return false;
    } finally {
      this.changed();
    }
  }

  private _effect: IRunningEffect | null = null;
  private _key = '';
  private _path = '';
}
