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
 * - a label row drawn by CSS (`--jp-collab-cell-label`), and on the active
 *   collaborator cell the toolbar: the same label with the mode and model,
 *   written into the options line.
 * All of it goes away when `%%collab` is removed.
 *
 * One toolbar per notebook moves to the active cell, the way JupyterLab's own
 * cell toolbar does: a notebook of hundreds of collaborator cells opens
 * without creating hundreds of widgets (see `browser_open_ratio` in
 * benchmarks/). It covers the label row exactly, so moving it shifts nothing.
 */
import type { Cell, ICodeCellModel } from '@jupyterlab/cells';
import type { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import type { TranslationBundle } from '@jupyterlab/translation';
import { PanelLayout } from '@lumino/widgets';

import { IModelsInfo } from './api';
import { isCollabSource, splitCell, withOptions } from './cellSource';
import { CollabCellToolbar, OptionChange } from './cellToolbar';
import { collabIcon } from './icons';

export const COLLAB_CELL_CLASS = 'jp-collab-cell';
export const EMPTY_PROMPT_CLASS = 'jp-collab-mod-empty';
export const HAS_TOOLBAR_CLASS = 'jp-collab-mod-toolbar';

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
    // What CSS draws on every collaborator cell: the icon, and texts in the
    // user's language.
    const root = document.documentElement.style;
    root.setProperty(
      '--jp-collab-cell-icon',
      `url("data:image/svg+xml,${encodeURIComponent(collabIcon.svgstr)}")`
    );
    root.setProperty(
      '--jp-collab-cell-label',
      JSON.stringify(_trans.__('Collaborator'))
    );
    root.setProperty(
      '--jp-collab-prompt-placeholder',
      JSON.stringify(
        _trans.__('Ask the collaborator… ({name} inserts a kernel variable)')
      )
    );
    void _models.then(info => {
      this._modelsInfo = info;
    });
    tracker.forEach(panel => this._watchNotebook(panel));
    tracker.widgetAdded.connect((_, panel) => this._watchNotebook(panel));
  }

  private _watchNotebook(panel: NotebookPanel): void {
    const notebook = panel.content;
    // Synchronous: the notebook connects its own handler first, so the
    // widgets of new cells exist here, still placeholders (no editor yet);
    // each editor is then created with the prompt language.
    const refresh = () =>
      notebook.widgets.forEach(cell => this._watchCell(cell, panel));
    const watchModel = () => {
      notebook.model?.cells.changed.connect(refresh);
      refresh();
    };
    notebook.modelChanged.connect(watchModel);
    watchModel();
    const place = () => this._placeToolbar(panel);
    notebook.activeCellChanged.connect(place);
    panel.disposed.connect(() => {
      notebook.activeCellChanged.disconnect(place);
      this._toolbars.get(panel)?.dispose();
    });
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
    if (cell === panel.content.activeCell) {
      this._placeToolbar(panel);
    }
  }

  /**
   * Show the notebook's toolbar on its active cell when that is a
   * collaborator cell (in the label row, after the cell's header).
   */
  private _placeToolbar(panel: NotebookPanel): void {
    const cell = panel.content.activeCell;
    const source = cell?.model.sharedModel.getSource() ?? '';
    const target =
      cell && cell.model.type === 'code' && isCollabSource(source)
        ? cell
        : null;
    let toolbar = this._toolbars.get(panel);
    if (toolbar?.parent && toolbar.parent !== target) {
      toolbar.parent.removeClass(HAS_TOOLBAR_CLASS);
      toolbar.parent = null;
    }
    if (!target || target.isPlaceholder()) {
      return;
    }
    if (!toolbar || toolbar.isDisposed) {
      toolbar = this._createToolbar(panel);
    }
    if (toolbar.parent !== target) {
      (target.layout as PanelLayout).insertWidget(1, toolbar);
      target.addClass(HAS_TOOLBAR_CLASS);
    }
    toolbar.setSource(source);
  }

  private _createToolbar(panel: NotebookPanel): CollabCellToolbar {
    const toolbar = new CollabCellToolbar({
      // Known once the server answered (usually before a notebook opens).
      models: this._modelsInfo === undefined ? this._models : this._modelsInfo,
      onChange: change => {
        const cell = toolbar.parent as Cell | null;
        if (cell) {
          setCellOptions(cell.model as ICodeCellModel, change);
        }
      },
      trans: this._trans
    });
    this._toolbars.set(panel, toolbar);
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
  private _modelsInfo: IModelsInfo | null | undefined = undefined;
  private _toolbars = new WeakMap<NotebookPanel, CollabCellToolbar>();
  private _watched = new WeakSet<Cell>();
}
