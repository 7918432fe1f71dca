/**
 * Finalize: save the amendment with its provenance, leave the highlight (and
 * its correction) on the answer, and update the notebook's context model.
 */
import { Notification } from '@jupyterlab/apputils';
import { NotebookPanel } from '@jupyterlab/notebook';
import type { TranslationBundle } from '@jupyterlab/translation';

import { finalizeAmendment } from '../api/loop';
import {
  IAmendment,
  IAmendmentDraft,
  ICorrectionInput,
  IHighlightInput,
  IPreviewReport
} from '../api/wire';
import { errorMessage, isStaleError } from '../panel/client';
import { NotebookContextModel } from '../panel/model';
import { answerOfCellId, showAnnotatedAnswer } from './notebook';

export interface IFinalizeInput {
  panel: NotebookPanel;
  model: NotebookContextModel;
  amendment: IAmendmentDraft;
  highlight: IHighlightInput | null;
  correction: ICorrectionInput | null;
  report: IPreviewReport | null;
}

/**
 * Finalize an amendment; `null` when it was not saved (stale context the
 * user chose to reload, or an error already shown).
 */
export async function finalize(
  input: IFinalizeInput,
  trans: TranslationBundle
): Promise<IAmendment | null> {
  const { panel, model } = input;
  if (!model.view) {
    await model.load();
  }
  const cellId = input.highlight?.cell_id ?? null;
  const answer = cellId ? answerOfCellId(panel, cellId) : null;
  try {
    const reply = await finalizeAmendment({
      path: model.path,
      revision: model.revision,
      amendment: input.amendment,
      highlight: input.highlight,
      correction: input.correction,
      report: input.report,
      cell_id: cellId,
      // The server adds the highlight to the answer's output and rebuilds
      // its fallbacks.
      output: answer ? { ...answer.payload } : null
    });
    model.finalized(reply.context, reply.amendment);
    if (reply.output && answer && cellId) {
      showAnnotatedAnswer(panel, cellId, answer.payload, reply.output);
    }
    Notification.success(
      reply.amendment.kind === 'fact'
        ? trans.__('Added to the context (fact): %1', reply.amendment.text)
        : trans.__('Added to the context (process): %1', reply.amendment.text),
      { autoClose: 4000 }
    );
    return reply.amendment;
  } catch (error) {
    if (isStaleError(error)) {
      await model.resolveStale(errorMessage(error));
      return null;
    }
    Notification.error(trans.__('Finalize failed: %1', errorMessage(error)), {
      autoClose: false
    });
    return null;
  }
}
