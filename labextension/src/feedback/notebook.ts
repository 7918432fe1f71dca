/**
 * Finding collaborator answers in a notebook's model: a cell's payload, the
 * prompts of the notebook, and writing a finalized highlight back.
 */
import { Cell, CodeCell } from '@jupyterlab/cells';
import { NotebookPanel } from '@jupyterlab/notebook';

import { IAnnotatedHighlight } from '../api/wire';
import {
  COLLAB_MIME,
  ICollabPayload,
  bundleData,
  isCollabPayload,
  withAnnotation
} from './payload';

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
 * Add a finalized highlight to the answer of `cellId`; the renderer then
 * shows it. Returns whether the answer was found.
 */
export function annotateAnswer(
  panel: NotebookPanel,
  cellId: string,
  annotation: IAnnotatedHighlight
): boolean {
  const found = findCell(panel, cellId);
  const answer = found ? answerOfCell(found.cell) : null;
  if (!answer) {
    return false;
  }
  const outputs = answer.cell.model.outputs;
  const current = outputs.get(answer.outputIndex).toJSON();
  const payload = withAnnotation(answer.payload, annotation);
  outputs.set(answer.outputIndex, {
    ...current,
    output_type: 'display_data',
    data: bundleData(payload) as any,
    metadata: (current as { metadata?: any }).metadata ?? {}
  });
  return true;
}
