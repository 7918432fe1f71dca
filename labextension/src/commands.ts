/**
 * The extension's commands. Where they appear (command palette, notebook
 * toolbar, cell context menu, keyboard shortcut) is declared in
 * labextension/schema/plugin.json, except the palette (registered here).
 */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import type { ICommandPalette } from '@jupyterlab/apputils';
import type {
  INotebookModel,
  INotebookTracker,
  NotebookPanel
} from '@jupyterlab/notebook';
import type { TranslationBundle } from '@jupyterlab/translation';

import { METADATA_KEY, newCellSource } from './cellSource';
import { collabIcon } from './icons';
import { ActiveRuns } from './runs';
import { ICollabSettings } from './settings';

export namespace CommandIDs {
  export const insertCell = 'jupyter-collab:insert-cell';
  export const cancel = 'jupyter-collab:cancel';
}

/**
 * The commands that stop a notebook's kernel work; they cancel its
 * collaborator answers too.
 */
export const INTERRUPT_COMMANDS = [
  'notebook:interrupt-kernel',
  'kernelmenu:interrupt'
];

/**
 * The cell that loads the kernel door. Headless runs (`jupyter nbconvert
 * --execute`, papermill) and front ends without this extension run
 * collaborator cells through the `%%collab` magic, which the notebook must
 * load itself; in JupyterLab the cell is harmless (the magic is never used).
 */
export const LOADER_SOURCE = '%load_ext jupyter_collab';

const LOADER = /^\s*%(re)?load_ext\s+jupyter_collab\b/m;

/**
 * Where the loader goes: after the leading markdown cells (a title stays on
 * top), before the first other cell.
 */
function loaderIndex(cells: ArrayLike<{ type: string }>): number {
  let index = 0;
  while (index < cells.length && cells[index].type === 'markdown') {
    index++;
  }
  return index;
}

/**
 * Add the loader cell unless a cell already loads the extension; returns the
 * index it was inserted at, or -1.
 */
export function ensureLoaderCell(model: INotebookModel): number {
  const cells = Array.from(model.cells);
  if (cells.some(cell => LOADER.test(cell.sharedModel.getSource()))) {
    return -1;
  }
  const index = loaderIndex(cells);
  model.sharedModel.insertCell(index, {
    cell_type: 'code',
    source: LOADER_SOURCE,
    metadata: { [METADATA_KEY]: { role: 'loader' } }
  });
  return index;
}

export interface IInsertOptions {
  mode?: string | null;
  model?: string | null;
  /** Text to put below `%%collab`. */
  prompt?: string;
}

/**
 * Insert a collaborator cell below the active cell (or turn the active cell
 * into one when it is an empty code cell), and put the cursor on the prompt.
 */
export function insertCollabCell(
  panel: NotebookPanel,
  options: IInsertOptions = {}
): void {
  const notebook = panel.content;
  const model = notebook.model;
  if (!model) {
    return;
  }
  const source = newCellSource(options) + (options.prompt ?? '');
  const metadata = { [METADATA_KEY]: { role: 'collaborator' } };
  const active = notebook.activeCell;
  let index: number;
  ensureLoaderCell(model);
  if (
    active &&
    active.model.type === 'code' &&
    active.model.sharedModel.getSource().trim() === ''
  ) {
    index = notebook.widgets.indexOf(active);
    active.model.sharedModel.transact(() => {
      active.model.sharedModel.setSource(source);
      active.model.setMetadata(METADATA_KEY, metadata[METADATA_KEY]);
    });
  } else {
    index = active ? notebook.widgets.indexOf(active) + 1 : model.cells.length;
    model.sharedModel.insertCell(index, {
      cell_type: 'code',
      source,
      metadata
    });
  }
  notebook.deselectAll();
  notebook.activeCellIndex = index;
  notebook.mode = 'edit';
  const cell = notebook.widgets[index];
  void cell?.ready.then(() => {
    const editor = cell.editor;
    if (editor) {
      const lines = editor.model.sharedModel.getSource().split('\n');
      editor.setCursorPosition({
        line: lines.length - 1,
        column: lines[lines.length - 1].length
      });
      editor.focus();
    }
  });
}

export function addCommands(
  app: JupyterFrontEnd,
  tracker: INotebookTracker,
  runs: ActiveRuns,
  settings: () => ICollabSettings,
  palette: ICommandPalette | null,
  trans: TranslationBundle
): void {
  const current = (): NotebookPanel | null => tracker.currentWidget;

  app.commands.addCommand(CommandIDs.insertCell, {
    label: args => (args.toolbar ? '' : trans.__('Insert Collaborator Cell')),
    caption: trans.__(
      'Insert a collaborator cell: a prompt (which may use {variables} of the kernel) answered by the AI collaborator'
    ),
    icon: collabIcon,
    describedBy: {
      args: {
        type: 'object',
        properties: {
          mode: {
            type: 'string',
            description: 'The --mode of the new cell (default: the setting)'
          },
          model: {
            type: 'string',
            description: 'The --model of the new cell (default: the setting)'
          },
          prompt: {
            type: 'string',
            description: 'Text to put below %%collab'
          }
        }
      }
    },
    isEnabled: () => current() !== null,
    execute: args => {
      const panel = current();
      if (!panel) {
        return;
      }
      const defaults = settings();
      insertCollabCell(panel, {
        mode: (args.mode as string) ?? (defaults.defaultMode || null),
        model: (args.model as string) ?? (defaults.defaultModel || null),
        prompt: (args.prompt as string) ?? ''
      });
    }
  });

  app.commands.addCommand(CommandIDs.cancel, {
    label: trans.__('Cancel Collaborator Answers'),
    caption: trans.__(
      'Stop the collaborator answers streaming into this notebook'
    ),
    describedBy: { args: { type: 'object', properties: {} } },
    isEnabled: () => {
      const model = current()?.content.model;
      return !!model && runs.all().some(run => run.notebook === model);
    },
    execute: () => {
      const model = current()?.content.model;
      if (model) {
        runs.cancelNotebook(model);
      }
    }
  });

  // The notebook's stop button (and Kernel › Interrupt) stops answers too.
  app.commands.commandExecuted.connect((_, args) => {
    if (INTERRUPT_COMMANDS.includes(args.id)) {
      const model = tracker.currentWidget?.content.model;
      if (model) {
        runs.cancelNotebook(model);
      }
    }
  });

  const category = trans.__('AI Collaboration');
  palette?.addItem({ command: CommandIDs.insertCell, category });
  palette?.addItem({ command: CommandIDs.cancel, category });
}
