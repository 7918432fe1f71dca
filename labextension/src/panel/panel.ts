/**
 * The context panel (right sidebar): the current notebook's constitution,
 * grouped into facts and process rules, with toggle, edit, delete and undo;
 * each entry's provenance; orphaned highlights and conflicts; the context's
 * size and whether the last call read it from the prompt cache; mode and
 * model; live updates when the context file changes elsewhere; each entry's
 * health from the last constitution check, and checks streamed into the panel;
 * the notebook's layers (personal, project, notebook), with promotion previewed
 * before it is written.
 *
 * The widget follows the shown notebook and renders it from the views in this
 * folder (headerView, checkBar, entryView, issuesView, footerView); what lasts
 * across renders lives in EntryControls (editing, expanded entries, probe
 * drafts), HighlightPlacements (the server's anchoring) and NotebookChecks.
 */
import { Notification } from '@jupyterlab/apputils';
import { NotebookPanel } from '@jupyterlab/notebook';
import type { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import {
  IAnchorPlacement,
  IAnchorQuery,
  ICollabContext,
  IModelsInfo,
  Mode
} from '../api/wire';
import { PatchOperation } from '../api/types';
import { h, replaceChildren } from '../feedback/dom';
import { lastResult } from '../feedback/notebook';
import { ICheckClient, NotebookCheck, NotebookChecks } from './check';
import { checkBar } from './checkBar';
import { errorMessage } from './client';
import { EntryControls } from './entryControls';
import { entryView, groupView } from './entryView';
import { footerView } from './footerView';
import { IEntryView, groupEntries } from './grouping';
import { headerView, reviewBanner } from './headerView';
import { issuesView } from './issuesView';
import {
  IContradictionsClient,
  LayerContradictions
} from './layerContradictions';
import { ILayersClient, NotebookLayers } from './layers';
import { layersView } from './layersView';
import { IImportClient, NotebookImport } from './imports';
import { importView } from './importView';
import { NotebookContextModel } from './model';
import { HighlightPlacements } from './placements';

export interface IContextPanelOptions {
  /**
   * Show a cell (and flash a highlight on it).
   */
  jump(panel: NotebookPanel, cellId: string, highlightId: string | null): void;
  /**
   * Open the review of an embedded context awaiting it.
   */
  review(panel: NotebookPanel, model: NotebookContextModel): void;
  /**
   * The model setup (models a notebook may pick).
   */
  models(): Promise<IModelsInfo | null>;
  /**
   * Where the highlights sit on the current answers (the server's anchoring).
   */
  anchors(items: IAnchorQuery[]): Promise<IAnchorPlacement[]>;
  /**
   * Runs constitution checks (none: the panel shows health but cannot check).
   */
  checks?: ICheckClient;
  /**
   * The layer routes (none: the panel shows the notebook's own context only).
   */
  layers?: ILayersClient;
  /**
   * Imports from another notebook (none: the panel offers no import).
   */
  imports?: IImportClient;
  /**
   * Asks which entries of one layer contradict another's (none: not shown).
   */
  contradictions?: IContradictionsClient;
  /**
   * The extension's translation bundle.
   */
  trans: TranslationBundle;
}

export class ContextPanel extends Widget {
  constructor(private readonly options: IContextPanelOptions) {
    super();
    this._trans = options.trans;
    this.id = 'jupyter-collab-context';
    this.addClass('jp-collab-panel');
    this.title.caption = this._trans.__('Notebook context (jupyter-collab)');
    this.title.label = this._trans.__('Context');
    this._checks = options.checks ? new NotebookChecks(options.checks) : null;
    this._placements = new HighlightPlacements(items => options.anchors(items));
    this._contradictions = options.contradictions
      ? new LayerContradictions(options.contradictions, () => this.render())
      : null;
    this._layers = options.layers
      ? new NotebookLayers(
          options.layers,
          () => {
            // New layers shown: their contradictions are asked about next.
            this._contradictions?.follow(this._layers?.view ?? null);
            this.render();
          },
          () => this._model?.load() ?? Promise.resolve()
        )
      : null;
    this._imports = options.imports
      ? new NotebookImport(
          options.imports,
          () => this.render(),
          async () => {
            await this._model?.load();
            await this._layers?.reload();
          }
        )
      : null;
    this.node.tabIndex = -1;
    this.node.addEventListener('keydown', event => {
      const target = event.target as HTMLElement;
      const typing =
        target.tagName === 'TEXTAREA' || target.tagName === 'INPUT';
      if (!typing && (event.ctrlKey || event.metaKey) && event.key === 'z') {
        event.preventDefault();
        void this.undo();
      }
    });
    void options.models().then(info => {
      this._models = info;
      this.render();
    });
    this.render();
  }

  /**
   * The notebook shown, or `null`.
   */
  get notebook(): NotebookPanel | null {
    return this._notebook;
  }

  /**
   * Show `notebook`'s context (or none).
   */
  showNotebook(
    notebook: NotebookPanel | null,
    model: NotebookContextModel | null
  ): void {
    if (this._model) {
      this._model.changed.disconnect(this.render, this);
    }
    this._check?.changed.disconnect(this.render, this);
    this._notebook = notebook;
    this._model = model;
    this._entries.stopEditing();
    this._check = model && this._checks ? this._checks.of(model) : null;
    this._check?.changed.connect(this.render, this);
    if (model) {
      model.changed.connect(this.render, this);
      if (!model.view) {
        void model.load().catch(() => undefined);
      }
    }
    this.render();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    // A promotion's or an import's model preview still running is of no use
    // once closed.
    this._layers?.dispose();
    this._imports?.dispose();
    super.dispose();
  }

  /**
   * Undo the last change of the shown notebook's context.
   */
  async undo(): Promise<void> {
    if (!this._model) {
      return;
    }
    try {
      await this._model.undoLast();
    } catch (error) {
      Notification.error(
        this._trans.__('Undo failed: %1', errorMessage(error))
      );
    }
  }

  /**
   * Render again when what the panel derives from the notebook changed (a
   * new answer, a cell removed), unless an entry is being edited.
   */
  refresh(): void {
    const notebook = this._notebook;
    const context = this._model?.view?.context;
    if (!notebook || !context || this._entries.editing) {
      return;
    }
    this._placements.update(notebook, context, () => this.refresh());
    if (this._signatureOf(notebook, context) !== this._signature) {
      this.render();
    }
  }

  /**
   * What the panel shows of the notebook: the last answer and the orphans.
   */
  private _signatureOf(
    notebook: NotebookPanel,
    context: ICollabContext
  ): string {
    return JSON.stringify([
      lastResult(notebook)?.response_id ?? null,
      this._placements.orphans(context).map(o => o.id)
    ]);
  }

  render(): void {
    const trans = this._trans;
    const model = this._model;
    const notebook = this._notebook;
    if (!model || !notebook) {
      replaceChildren(
        this.node,
        h('div', {
          className: 'jp-collab-panel-empty',
          text: trans.__('Open a notebook to see its context.')
        })
      );
      return;
    }
    const view = model.view;
    const scroll = this.node.scrollTop;
    const focused = (document.activeElement as HTMLElement | null)?.dataset
      ?.focusKey;
    const header = headerView(
      notebook.context.localPath,
      model.undo.nextChanges,
      {
        undo: () => void this.undo(),
        reload: () => void model.load().catch(() => undefined)
      },
      trans
    );
    const parts: (HTMLElement | null)[] = [
      header,
      this._check && view ? checkBar(this._check, view.context, trans) : null
    ];
    if (model.error) {
      parts.push(h('div', { className: 'jp-collab-error', text: model.error }));
    }
    if (model.opened?.needs_review) {
      parts.push(
        reviewBanner(() => this.options.review(notebook, model), trans)
      );
    }
    if (!view) {
      parts.push(
        h('div', { className: 'jp-collab-muted', text: trans.__('Loading…') })
      );
      replaceChildren(this.node, ...parts);
      return;
    }
    const grouped = groupEntries(view.context);
    const entry = (item: IEntryView) =>
      entryView(
        item,
        this._entries.actions,
        this._entries.editingOf(item.amendment.id),
        trans,
        this._entries.entryCheck(
          item.amendment.id,
          view.expectations?.[item.amendment.id] ?? []
        )
      );
    parts.push(
      groupView('fact', grouped.facts, entry, trans),
      groupView('process', grouped.process, entry, trans),
      issuesView(this._placements.orphans(view.context), model.opened, trans),
      this._layers
        ? layersView(
            this._layers.view,
            this._layers.error,
            this._layers.promotion,
            this._layers.actions,
            trans,
            this._contradictions
          )
        : null,
      this._imports
        ? importView(this._imports.state, this._imports.actions, trans)
        : null,
      footerView(
        view,
        lastResult(notebook),
        this._models,
        {
          mode: (mode: Mode) =>
            void this._apply([{ op: 'set_settings', settings: { mode } }]),
          model: (name: string | null) =>
            void this._apply([
              { op: 'set_settings', settings: { model: name } }
            ])
        },
        trans
      )
    );
    replaceChildren(this.node, ...parts);
    this.node.scrollTop = scroll;
    this._layers?.follow(model.path, view.revision);
    this._imports?.follow(model.path, view.revision);
    this._signature = this._signatureOf(notebook, view.context);
    this._placements.update(notebook, view.context, () => this.refresh());
    if (this._entries.editing) {
      const editor = this.node.querySelector<HTMLTextAreaElement>(
        '.jp-collab-entry-editor textarea'
      );
      editor?.focus();
    } else if (focused) {
      // Check events re-render the panel: keep the field the user is in.
      Array.from(this.node.querySelectorAll<HTMLElement>('[data-focus-key]'))
        .find(node => node.dataset.focusKey === focused)
        ?.focus();
    }
  }

  private async _apply(operations: PatchOperation[]): Promise<boolean> {
    if (!this._model) {
      return false;
    }
    try {
      const result = await this._model.apply(operations);
      if (result === 'stale') {
        this.render(); // show the stored state again (a checkbox may have moved)
      }
      return result === 'written';
    } catch (error) {
      this.render();
      Notification.error(
        this._trans.__('The context was not changed: %1', errorMessage(error))
      );
      return false;
    }
  }

  private readonly _entries = new EntryControls({
    amendment: id =>
      this._model?.view?.context.amendments.find(a => a.id === id),
    apply: operations => this._apply(operations),
    check: () => this._check,
    jump: (cellId, highlightId) => {
      if (this._notebook) {
        this.options.jump(this._notebook, cellId, highlightId);
      }
    },
    render: () => this.render()
  });
  private readonly _checks: NotebookChecks | null;
  private readonly _layers: NotebookLayers | null;
  private readonly _imports: NotebookImport | null;
  private readonly _contradictions: LayerContradictions | null;
  private readonly _placements: HighlightPlacements;
  private _check: NotebookCheck | null = null;
  private _signature = '';

  private _notebook: NotebookPanel | null = null;
  private _model: NotebookContextModel | null = null;
  private _models: IModelsInfo | null = null;
  private _trans: TranslationBundle;
}
