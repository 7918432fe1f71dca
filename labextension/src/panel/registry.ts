/**
 * One {@link NotebookContextModel} per open notebook, shared by the context
 * panel, the feedback loop and sharing.
 */
import { NotebookPanel } from '@jupyterlab/notebook';
import { ISignal, Signal } from '@lumino/signaling';

import { IContextClient } from './client';
import { NotebookContextModel, StaleHandler } from './model';

export class ContextRegistry {
  constructor(
    readonly client: IContextClient,
    private readonly onStale: StaleHandler
  ) {}

  /**
   * Emitted when a notebook's model is created (the first time it is asked for).
   */
  get created(): ISignal<this, [NotebookPanel, NotebookContextModel]> {
    return this._created;
  }

  /**
   * The model of `panel`'s notebook, created on first use.
   */
  modelFor(panel: NotebookPanel): NotebookContextModel {
    let model = this._models.get(panel);
    if (!model) {
      const created = new NotebookContextModel(
        panel.context.path,
        this.client,
        this.onStale
      );
      model = created;
      this._models.set(panel, created);
      panel.context.pathChanged.connect((_, path) => {
        created.path = path;
        void created.load().catch(() => undefined);
      });
      panel.disposed.connect(() => this._models.delete(panel));
      this._created.emit([panel, created]);
    }
    return model;
  }

  private _models = new Map<NotebookPanel, NotebookContextModel>();
  private _created = new Signal<this, [NotebookPanel, NotebookContextModel]>(
    this
  );
}
