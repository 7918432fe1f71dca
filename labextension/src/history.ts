/**
 * The conversation a collaborator cell continues: the (prompt, answer) turns
 * of the answered collaborator cells above it, in notebook order.
 *
 * The same rule as core/history.py (`turns_above`), so a cell's input hash is
 * the same whichever door runs it: only code cells whose source starts with
 * `%%collab`; the first output carrying the collab MIME type; its stored
 * (filled) `result.prompt` and `result.answer`; turns with an empty answer are
 * skipped.
 */
import type { ICellModel, ICodeCellModel } from '@jupyterlab/cells';

import { ICollabOutput, ITurnModel } from './api';
import { isCollabSource } from './cellSource';
import { COLLAB_MIME } from './mimetypes';

/**
 * The little the history needs to know about a cell.
 */
export interface IHistoryCell {
  type: string;
  source: string;
  /** The `data` bundles of the cell's outputs, in order. */
  outputs: ReadonlyArray<Readonly<Record<string, unknown>> | undefined>;
}

/**
 * The collab payload of an output bundle, or null when it has none or it is
 * not a well-formed answer.
 */
export function collabPayload(
  data: Readonly<Record<string, unknown>> | undefined
): ICollabOutput | null {
  const payload = data?.[COLLAB_MIME] as ICollabOutput | undefined;
  const result = payload?.result;
  if (
    !result ||
    typeof result.answer !== 'string' ||
    typeof result.prompt !== 'string'
  ) {
    return null;
  }
  return payload;
}

/**
 * The turns of the collaborator cells before index `before`.
 */
export function turnsAbove(
  cells: ReadonlyArray<IHistoryCell>,
  before: number
): ITurnModel[] {
  const turns: ITurnModel[] = [];
  for (const cell of cells.slice(0, Math.max(0, before))) {
    if (cell.type !== 'code' || !isCollabSource(cell.source)) {
      continue;
    }
    for (const data of cell.outputs) {
      const payload = collabPayload(data);
      if (payload) {
        if (payload.result.answer) {
          turns.push({
            prompt: payload.result.prompt,
            answer: payload.result.answer
          });
        }
        break;
      }
    }
  }
  return turns;
}

/**
 * Adapt a cell model to the history's view of it (reads the source and the
 * output bundles, never serializes the whole cell).
 */
export function historyCell(model: ICellModel): IHistoryCell {
  const source = model.sharedModel.getSource();
  if (model.type !== 'code' || !isCollabSource(source)) {
    return { type: model.type, source, outputs: [] };
  }
  const outputs = (model as ICodeCellModel).outputs;
  const data = [];
  for (let i = 0; i < outputs.length; i++) {
    data.push(outputs.get(i).data as Record<string, unknown>);
  }
  return { type: model.type, source, outputs: data };
}
