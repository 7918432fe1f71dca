/**
 * The review of an embedded context from a notebook this server does not
 * trust: its entries would become part of the system prompt (a
 * prompt-injection path), so they are shown first and applied only when
 * accepted.
 */
import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { errorMessage } from '../panel/client';
import { NotebookContextModel } from '../panel/model';
import { reviewBody } from './reviewBody';

/**
 * Show the review dialog; apply the context when accepted. Resolves with
 * whether it was applied.
 */
export async function reviewEmbedded(
  model: NotebookContextModel,
  notebookName: string
): Promise<boolean> {
  const pending = model.opened?.pending;
  if (!model.opened?.needs_review || !pending) {
    return false;
  }
  const result = await showDialog({
    title: 'Review the notebook’s AI context',
    body: new Widget({ node: reviewBody(pending, notebookName) }),
    buttons: [
      Dialog.cancelButton({ label: 'Not now' }),
      Dialog.okButton({ label: 'Apply context' })
    ]
  });
  if (!result.button.accept) {
    return false;
  }
  try {
    const written = await model.acceptPending();
    if (written === 'written') {
      Notification.success(`Applied the context of ${notebookName}.`, {
        autoClose: 3000
      });
      return true;
    }
  } catch (error) {
    Notification.error(`The context was not applied: ${errorMessage(error)}`);
  }
  return false;
}
