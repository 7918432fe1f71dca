/**
 * Makes collaborator cells look like what they are.
 *
 * A collaborator cell is an ordinary code cell whose source starts with
 * `%%collab`; whenever that is true (on load, on insert, while typing) the
 * cell gets:
 * - the `jp-collab-cell` class (accent border, label, prose font for the
 *   prompt, a muted options line: see style/base.css);
 * - a placeholder when the prompt below `%%collab` is empty
 *   (`jp-collab-mod-empty`);
 * - markdown editing (the prompt is prose, not Python);
 * - the cell toolbar (mode and model, written into the options line).
 * All of it goes away when `%%collab` is removed.
 */
import type { Cell, ICodeCellModel } from '@jupyterlab/cells';
import type { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import type { TranslationBundle } from '@jupyterlab/translation';
import { PanelLayout } from '@lumino/widgets';

import { IModelsInfo } from './api';
import { isCollabSource, splitCell, withOptions } from './cellSource';
import { CollabCellToolbar, OptionChange } from './cellToolbar';

export const COLLAB_CELL_CLASS = 'jp-collab-cell';
export const EMPTY_PROMPT_CLASS = 'jp-collab-mod-empty';

/**
 * The editor language of the prompt.
 */
export const PROMPT_MIMETYPE = 'text/x-ipythongfm';

/**
 * Replace the `%%collab` line of a cell model's source in place (one edit of
 * the first line, so the prompt, the cursor and undo history stay).
 */
export function setCellOptions(
  model: ICodeCellModel,
  change: OptionChange
): void {
  const source = model.sharedModel.getSource();
  const updated = withOptions(source, change);
  const oldEnd = lineEnd(source);
  const newEnd = lineEnd(updated);
  if (source.slice(oldEnd) === updated.slice(newEnd)) {
    model.sharedModel.updateSource(0, oldEnd, updated.slice(0, newEnd));
  } else {
    model.sharedModel.setSource(updated);
  }
}

function lineEnd(source: string): number {
  const end = source.indexOf('\n');
  return end < 0 ? source.length : end;
}

export class CollabCellDecorator {
  constructor(
    tracker: INotebookTracker,
    private readonly _models: Promise<IModelsInfo | null>,
    private readonly _trans: TranslationBundle
  ) {
    tracker.forEach(panel => this._watchNotebook(panel));
    tracker.widgetAdded.connect((_, panel) => this._watchNotebook(panel));
  }

  private _watchNotebook(panel: NotebookPanel): void {
    const notebook = panel.content;
    let scheduled = false;
    const refresh = () => {
      scheduled = false;
      notebook.widgets.forEach(cell => this._watchCell(cell, panel));
    };
    const schedule = () => {
      if (!scheduled) {
        scheduled = true;
        // The notebook creates the widgets of new cells in its own handler.
        setTimeout(refresh, 0);
      }
    };
    const watchModel = () => {
      notebook.model?.cells.changed.connect(schedule);
      schedule();
    };
    notebook.modelChanged.connect(watchModel);
    watchModel();
  }

  private _watchCell(cell: Cell, panel: NotebookPanel): void {
    if (this._watched.has(cell) || cell.model.type !== 'code') {
      return;
    }
    this._watched.add(cell);
    const model = cell.model as ICodeCellModel;
    const update = () => this._update(cell, panel);
    model.contentChanged.connect(update);
    model.mimeTypeChanged.connect(update);
    cell.disposed.connect(() => {
      model.contentChanged.disconnect(update);
      model.mimeTypeChanged.disconnect(update);
    });
    update();
    void cell.ready.then(update);
  }

  private _update(cell: Cell, panel: NotebookPanel): void {
    if (cell.isDisposed) {
      return;
    }
    const model = cell.model as ICodeCellModel;
    const source = model.sharedModel.getSource();
    const collab = isCollabSource(source);
    cell.toggleClass(COLLAB_CELL_CLASS, collab);
    cell.toggleClass(EMPTY_PROMPT_CLASS, collab && !splitCell(source).prompt);
    this._setMimeType(model, collab, panel.content.codeMimetype);
    let toolbar = this._toolbars.get(cell);
    if (!collab) {
      toolbar?.dispose();
      this._toolbars.delete(cell);
      return;
    }
    if (!toolbar && !cell.isPlaceholder()) {
      toolbar = this._addToolbar(cell, model);
    }
    toolbar?.setSource(source);
  }

  /**
   * Put a toolbar on the cell (after its header, before the input); the cell
   * owns it from then on.
   */
  private _addToolbar(cell: Cell, model: ICodeCellModel): CollabCellToolbar {
    const toolbar = new CollabCellToolbar({
      models: this._models,
      onChange: change => setCellOptions(model, change),
      trans: this._trans
    });
    (cell.layout as PanelLayout).insertWidget(1, toolbar);
    this._toolbars.set(cell, toolbar);
    return toolbar;
  }

  /**
   * Markdown editing for the prompt; the notebook's code language back when
   * the cell stops being a collaborator cell (only for cells changed here).
   */
  private _setMimeType(
    model: ICodeCellModel,
    collab: boolean,
    codeMimetype: string
  ): void {
    if (collab) {
      this._prose.add(model);
      if (model.mimeType !== PROMPT_MIMETYPE) {
        model.mimeType = PROMPT_MIMETYPE;
      }
    } else if (this._prose.delete(model) && model.mimeType !== codeMimetype) {
      model.mimeType = codeMimetype;
    }
  }

  private _prose = new WeakSet<ICodeCellModel>();
  private _toolbars = new WeakMap<Cell, CollabCellToolbar>();
  private _watched = new WeakSet<Cell>();
}
