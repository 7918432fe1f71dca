/**
 * Finding collaborator answers in a notebook's model: a cell's payload, the
 * prompts of the notebook, and writing a finalized highlight back.
 */
import { Cell, CodeCell } from '@jupyterlab/cells';
import { NotebookPanel } from '@jupyterlab/notebook';

import { ICollabDisplayData } from '../api/wire';
import { COLLAB_MIME, ICollabPayload, isCollabPayload } from './payload';

/**
 * A collaborator answer: its cell and where its payload sits in the outputs.
 */
export interface IAnswerRef {
  cell: CodeCell;
  cellId: string;
  outputIndex: number;
  payload: ICollabPayload;
}

/**
 * The collab payload of a cell, if it has one (the last such output).
 */
export function answerOfCell(cell: Cell): IAnswerRef | null {
  if (cell.model.type !== 'code') {
    return null;
  }
  const code = cell as CodeCell;
  const outputs = code.model.outputs;
  for (let i = outputs.length - 1; i >= 0; i--) {
    const data = outputs.get(i).data[COLLAB_MIME];
    if (isCollabPayload(data)) {
      return {
        cell: code,
        cellId: code.model.id,
        outputIndex: i,
        payload: data
      };
    }
  }
  return null;
}

/**
 * The cell widget of `panel` whose node contains `node`.
 */
export function cellOfNode(panel: NotebookPanel, node: Node): Cell | null {
  for (const cell of panel.content.widgets) {
    if (cell.node.contains(node)) {
      return cell;
    }
  }
  return null;
}

/**
 * The cell with model id `cellId`, and its index.
 */
export function findCell(
  panel: NotebookPanel,
  cellId: string
): { cell: Cell; index: number } | null {
  const index = panel.content.widgets.findIndex(c => c.model.id === cellId);
  return index >= 0 ? { cell: panel.content.widgets[index], index } : null;
}

/**
 * Every collaborator answer of the notebook, in cell order.
 */
export function notebookAnswers(panel: NotebookPanel): IAnswerRef[] {
  const answers: IAnswerRef[] = [];
  for (const cell of panel.content.widgets) {
    const answer = answerOfCell(cell);
    if (answer) {
      answers.push(answer);
    }
  }
  return answers;
}

/**
 * The prompts of the notebook's other answers (regression probes).
 */
export function notebookPrompts(
  panel: NotebookPanel,
  exceptCellId?: string
): string[] {
  const prompts: string[] = [];
  for (const answer of notebookAnswers(panel)) {
    const prompt = answer.payload.result.prompt;
    if (answer.cellId !== exceptCellId && prompt && !prompts.includes(prompt)) {
      prompts.push(prompt.slice(0, 20000));
    }
  }
  return prompts.slice(0, 20);
}

/**
 * The answer text of a cell id (`undefined` when no such cell; `null` when
 * the cell has no answer).
 */
export function answerTextOf(
  panel: NotebookPanel,
  cellId: string
): string | null | undefined {
  const found = findCell(panel, cellId);
  if (!found) {
    return undefined;
  }
  return answerOfCell(found.cell)?.payload.result.answer ?? null;
}

/**
 * The most recent answer's result (for "did the last call read the cache").
 */
export function lastResult(
  panel: NotebookPanel
): ICollabPayload['result'] | null {
  let latest: ICollabPayload['result'] | null = null;
  for (const answer of notebookAnswers(panel)) {
    const result = answer.payload.result;
    if (!latest || String(result.created) > String(latest.created)) {
      latest = result;
    }
  }
  return latest;
}

/**
 * The answer of the cell with model id `cellId`, if it has one.
 */
export function answerOfCellId(
  panel: NotebookPanel,
  cellId: string
): IAnswerRef | null {
  const found = findCell(panel, cellId);
  return found ? answerOfCell(found.cell) : null;
}

/**
 * Show `output` (the server's display output of `answered` with a finalized
 * highlight) in place of the answer of `cellId`; the renderer then shows the
 * highlight. Nothing changes when the cell no longer holds that answer (it ran
 * again meanwhile). Returns whether the output was replaced.
 */
export function showAnnotatedAnswer(
  panel: NotebookPanel,
  cellId: string,
  answered: ICollabPayload,
  output: ICollabDisplayData
): boolean {
  const answer = answerOfCellId(panel, cellId);
  if (
    !answer ||
    answer.payload.result.answer_hash !== answered.result.answer_hash ||
    answer.payload.result.response_id !== answered.result.response_id
  ) {
    return false;
  }
  const outputs = answer.cell.model.outputs;
  const current = outputs.get(answer.outputIndex).toJSON();
  outputs.set(answer.outputIndex, {
    ...current,
    output_type: 'display_data',
    data: output.data as any,
    metadata: (current as { metadata?: any }).metadata ?? {}
  });
  return true;
}
