/**
 * The notebook cell executor: collaborator cells go to the server door,
 * every other cell to JupyterLab's own `runCell` (the kernel).
 *
 * Why an executor: since JupyterLab 4.1 every way of running cells (toolbar,
 * Shift+Enter, Run All, the Run menu, Notebook 7) goes through the
 * `INotebookCellExecutor` token, so providing it catches them all without
 * wrapping commands, and the kernel never sees `%%collab` cells while the lab
 * extension is present (the kernel magic stays the door for headless runs and
 * other front ends).
 *
 * The cost: only one extension can provide the token. To provide it,
 * package.json lists `@jupyterlab/notebook-extension:cell-executor` under
 * `jupyterlab.disabledExtensions`, and also
 * `@jupyter/docprovider-extension:notebook-cell-executor`, the executor of
 * real-time collaboration (jupyter-collaboration): it runs cells with
 * JupyterLab's `runCell` unless the server executes them
 * (`YDocExtension.server_side_execution`, off by default), and with both
 * present whichever registered last would win. Under real-time collaboration
 * the answer is written only by the page that ran the cell, into the shared
 * document, which the other collaborators see. Other extensions that replace
 * the executor (jupyter-server-nbmodel, server-side execution) still conflict:
 * disable one of them (`jupyter labextension disable
 * jupyter-collab:cell-executor` keeps the rest of this extension working;
 * collaborator cells then run through the kernel magic).
 */
import {
  INotebookCellExecutor,
  runCell as kernelRunCell
} from '@jupyterlab/notebook';

import { isCollabSource } from './cellSource';
import { ICollabRunDeps, runCollabCell } from './collabRun';

/**
 * Whether a cell model is a collaborator cell.
 */
export function isCollabCellModel(model: {
  type: string;
  sharedModel: { getSource(): string };
}): boolean {
  return model.type === 'code' && isCollabSource(model.sharedModel.getSource());
}

export class CollabCellExecutor implements INotebookCellExecutor {
  constructor(options: CollabCellExecutor.IOptions) {
    this._deps = options;
    this._fallback = options.fallback ?? kernelRunCell;
  }

  runCell(options: INotebookCellExecutor.IRunCellOptions): Promise<boolean> {
    if (isCollabCellModel(options.cell.model)) {
      return runCollabCell(options, this._deps);
    }
    return this._fallback(options);
  }

  private _deps: ICollabRunDeps;
  private _fallback: (
    options: INotebookCellExecutor.IRunCellOptions
  ) => Promise<boolean>;
}

export namespace CollabCellExecutor {
  export interface IOptions extends ICollabRunDeps {
    /** The executor of ordinary cells (JupyterLab's `runCell`). */
    fallback?: (
      options: INotebookCellExecutor.IRunCellOptions
    ) => Promise<boolean>;
  }
}
