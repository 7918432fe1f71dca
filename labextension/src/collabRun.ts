/**
 * Running one collaborator cell through the server door.
 *
 * 0. under real-time collaboration, when another page's run is still
 *    writing this cell's answer, ask first (one writer per output);
 * 1. wait for collaborator cells above this one that are still running (their
 *    answers are this cell's history, as in a top-to-bottom headless run);
 * 2. have the server parse the cell and read the `{name}` references it
 *    finds from the kernel (only if there are any);
 * 3. send the cell source, the values, the cells above (the server takes the
 *    conversation from them) and the cell id on the stream socket, showing
 *    the answer as it arrives;
 * 4. replace the streaming view by the server's ready-made output.
 *
 * The kernel is not involved otherwise, so the cell runs while the kernel is
 * busy or when there is none.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import type { ICellModel, ICodeCellModel } from '@jupyterlab/cells';
import type {
  INotebookCellExecutor,
  INotebookModel
} from '@jupyterlab/notebook';
import type { TranslationBundle } from '@jupyterlab/translation';

import {
  CollabStream,
  ICellAbove,
  ICompletionRequest,
  StreamCancelledError,
  isCancelled,
  parseCell
} from './api';
import { AnswerWriter } from './answerWriter';
import { METADATA_KEY } from './cellSource';
import { COLLAB_MIME, STREAM_MIME } from './mimetypes';
import { IStreamingAnswer, describeFailure, finalOutput } from './outputs';
import { ActiveRun, ActiveRuns } from './runs';
import { readVariables } from './variables';

/**
 * What a run needs from the outside (replaceable in tests).
 */
export interface ICollabRunDeps {
  stream: Pick<CollabStream, 'complete'>;
  runs: ActiveRuns;
  /** The extension's translation bundle (the notes and errors shown). */
  trans: TranslationBundle;
  readVariables?: typeof readVariables;
  parseCell?: typeof parseCell;
  throttleMs?: number;
  /**
   * The path of the document that holds a notebook model. The session's path
   * lags behind a rename, so the document's own path is preferred.
   */
  documentPath?: (notebook: INotebookModel) => string | undefined;
  /**
   * Whether to run a cell whose answer another page is still writing (real-
   * time collaboration); by default the user is asked.
   */
  confirmOverOtherRun?: (trans: TranslationBundle) => Promise<boolean>;
}

/**
 * The id of a run of another page that is still writing into this cell, or
 * `null`. Under real-time collaboration the outputs are shared: the page that
 * started a run is the only one writing its answer, and a second page
 * running the same cell meanwhile would make two writers of one output.
 */
export function otherPageRun(
  model: ICodeCellModel,
  runs: ActiveRuns
): string | null {
  const outputs = model.outputs;
  for (let i = 0; i < outputs.length; i++) {
    const payload = outputs.get(i).data[STREAM_MIME] as
      IStreamingAnswer | undefined;
    if (
      payload?.run_id &&
      (payload.status === 'waiting' || payload.status === 'streaming') &&
      runs.get(payload.run_id) === undefined
    ) {
      return payload.run_id;
    }
  }
  return null;
}

/**
 * Ask whether to run a cell another collaborator's run is still answering
 * (its page may also have closed mid-answer, leaving the answer unfinished).
 */
export async function askRunOverOtherRun(
  trans: TranslationBundle
): Promise<boolean> {
  const result = await showDialog({
    title: trans.__('Another collaborator is running this cell'),
    body: trans.__(
      'Its answer is still arriving from their page and will appear here. Run it again from this page anyway (their answer would be replaced)?'
    ),
    buttons: [
      Dialog.cancelButton({ label: trans.__('Wait for their answer') }),
      Dialog.warnButton({ label: trans.__('Run here') })
    ],
    // Enter keeps the one writer.
    defaultButton: 0
  });
  return result.button.accept;
}

/**
 * Run a collaborator cell; resolves true when an answer was written.
 */
export async function runCollabCell(
  options: INotebookCellExecutor.IRunCellOptions,
  deps: ICollabRunDeps
): Promise<boolean> {
  const { cell, notebook, sessionContext } = options;
  const model = cell.model as ICodeCellModel;
  if (otherPageRun(model, deps.runs) !== null) {
    const confirm = deps.confirmOverOtherRun ?? askRunOverOtherRun;
    if (!(await confirm(deps.trans))) {
      return false;
    }
  }
  const run = deps.runs.start(notebook, model);
  const isCurrent = () => deps.runs.get(run.id) === run;
  const { trans } = deps;
  const writer = new AnswerWriter(
    model,
    run.id,
    isCurrent,
    trans,
    deps.throttleMs
  );
  const removed = () => {
    if (model.isDisposed || indexOf(notebook, model) < 0) {
      run.cancel();
    }
  };
  notebook.cells.changed.connect(removed);

  options.onCellExecutionScheduled({ cell });
  // The kernel does not run this cell, so its execution count stays null
  // (the saved output is the same display_data the kernel door writes).
  model.sharedModel.transact(() => {
    model.clearExecution();
    model.executionState = 'running';
    if (!model.getMetadata(METADATA_KEY)) {
      model.setMetadata(METADATA_KEY, { role: 'collaborator' });
    }
  });
  writer.status('waiting');

  let success = false;
  try {
    await waitForCellsAbove(run, deps.runs, notebook, writer, trans);

    const source = model.sharedModel.getSource();
    const parse = deps.parseCell ?? parseCell;
    const parsed = await abortable(run, parse(source));
    const names = parsed.variables;
    let variables: Record<string, string> = {};
    if (names.length > 0) {
      writer.status(
        'waiting',
        trans.__(
          'Reading %1 from the kernel…',
          names.map(n => `{${n}}`).join(', ')
        )
      );
      const read = deps.readVariables ?? readVariables;
      variables = await abortable(
        run,
        read(sessionContext?.session?.kernel, parsed.expressions)
      );
    }

    const request: ICompletionRequest = {
      path: deps.documentPath?.(notebook) || sessionContext?.path || null,
      source,
      variables,
      cell_id: model.id,
      cells_above: cellsAbove(notebook, model)
    };
    writer.status('streaming');
    const call = deps.stream.complete(request, {
      onDelta: text => writer.append(text)
    });
    run.onCancel(() => call.cancel());
    const { output } = await call.done;
    writer.finish(finalOutput(output));
    success = true;
  } catch (error) {
    if (isCancelled(error) || run.cancelled) {
      writer.cancelled();
    } else {
      console.warn('jupyter-collab: the collaborator cell failed', error);
      writer.failed(describeFailure(error, trans));
    }
  } finally {
    notebook.cells.changed.disconnect(removed);
    if (isCurrent() && !model.isDisposed) {
      model.executionState = 'idle';
    }
    deps.runs.end(run);
  }
  options.onCellExecuted({ cell, success });
  return success;
}

/**
 * Wait until the collaborator cells above `run`'s cell finished.
 */
async function waitForCellsAbove(
  run: ActiveRun,
  runs: ActiveRuns,
  notebook: INotebookCellExecutor.IRunCellOptions['notebook'],
  writer: AnswerWriter,
  trans: TranslationBundle
): Promise<void> {
  const index = indexOf(notebook, run.cell);
  const above = runs
    .all()
    .filter(
      other =>
        other !== run &&
        other.notebook === notebook &&
        indexOf(notebook, other.cell) < index
    );
  if (above.length > 0) {
    writer.status(
      'waiting',
      trans.__('Waiting for the collaborator cells above…')
    );
    await abortable(run, Promise.all(above.map(other => other.finished)));
  }
}

/**
 * `promise`, or a StreamCancelledError as soon as `run` is cancelled.
 */
function abortable<T>(run: ActiveRun, promise: Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    run.onCancel(() => reject(new StreamCancelledError(run.id)));
    promise.then(resolve, reject);
  });
}

function cellsAbove(
  notebook: INotebookCellExecutor.IRunCellOptions['notebook'],
  cell: object
): ICellAbove[] {
  const cells = Array.from(notebook.cells);
  return cells
    .slice(0, Math.max(0, cells.indexOf(cell as never)))
    .map(cellAbove);
}

/**
 * A cell as the server's history rule reads it: type, source and outputs.
 * Of each output only the collab MIME entry is sent (the only one the rule
 * looks at), so plots and tables above do not travel with every request.
 */
function cellAbove(model: ICellModel): ICellAbove {
  const outputs: ICellAbove['outputs'] = [];
  if (model.type === 'code') {
    const list = (model as ICodeCellModel).outputs;
    for (let i = 0; i < list.length; i++) {
      const data = list.get(i).data;
      if (COLLAB_MIME in data) {
        outputs.push({ data: { [COLLAB_MIME]: data[COLLAB_MIME] } });
      }
    }
  }
  return {
    cell_type: model.type,
    source: model.sharedModel.getSource(),
    outputs
  };
}

function indexOf(
  notebook: INotebookCellExecutor.IRunCellOptions['notebook'],
  cell: object
): number {
  return Array.from(notebook.cells).indexOf(cell as never);
}
