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
 * How many times a finalize refused as stale is sent again on the newer
 * context before the user is asked.
 */
export const FINALIZE_ATTEMPTS = 3;

/**
 * Finalize an amendment; `null` when it was not saved (stale context the
 * user chose to reload, or an error already shown).
 *
 * The finalize is sent against the revision this page last saw. When another
 * collaborator (another page on the same notebook, the CLI, a kernel) wrote
 * the context meanwhile, the server refuses it (409) and writes nothing; the
 * page then reloads the context and sends the same finalize against the new
 * revision, so both amendments are kept (the server still refuses one that
 * duplicates an amendment written meanwhile), and says so.
 */
export async function finalize(
  input: IFinalizeInput,
  trans: TranslationBundle,
  send: typeof finalizeAmendment = finalizeAmendment
): Promise<IAmendment | null> {
  const { panel, model } = input;
  if (!model.view) {
    await model.load();
  }
  const cellId = input.highlight?.cell_id ?? null;
  const firstRevision = model.revision;
  for (let attempt = 1; ; attempt++) {
    // Read the answer at each attempt: a collaborator's highlight may have
    // reached it through the shared document meanwhile.
    const answer = cellId ? answerOfCellId(panel, cellId) : null;
    try {
      const reply = await send({
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
      if (attempt > 1) {
        Notification.info(
          trans.__(
            'Someone else changed the context meanwhile (revision %1 → %2): your amendment was added on top.',
            firstRevision,
            reply.context.revision - 1
          ),
          { autoClose: 8000 }
        );
      }
      Notification.success(
        reply.amendment.kind === 'fact'
          ? trans.__('Added to the context (fact): %1', reply.amendment.text)
          : trans.__(
              'Added to the context (process): %1',
              reply.amendment.text
            ),
        { autoClose: 4000 }
      );
      return reply.amendment;
    } catch (error) {
      if (isStaleError(error) && attempt < FINALIZE_ATTEMPTS) {
        try {
          await model.load();
          continue;
        } catch {
          // The reload failed: fall through to the question below.
        }
      }
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
}
