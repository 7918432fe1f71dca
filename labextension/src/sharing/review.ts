/**
 * The review of an embedded context from a notebook this server does not
 * trust: its entries would become part of the system prompt (a
 * prompt-injection path), so they are shown first and applied only when
 * accepted.
 */
import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
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
  notebookName: string,
  trans: TranslationBundle
): Promise<boolean> {
  const pending = model.opened?.pending;
  if (!model.opened?.needs_review || !pending) {
    return false;
  }
  const result = await showDialog({
    title: trans.__('Review the notebook’s AI context'),
    body: new Widget({ node: reviewBody(pending, notebookName, trans) }),
    buttons: [
      Dialog.cancelButton({ label: trans.__('Not now') }),
      Dialog.okButton({ label: trans.__('Apply context') })
    ]
  });
  if (!result.button.accept) {
    return false;
  }
  try {
    const written = await model.acceptPending();
    if (written === 'written') {
      Notification.success(
        trans.__('Applied the context of %1.', notebookName),
        { autoClose: 3000 }
      );
      return true;
    }
  } catch (error) {
    Notification.error(
      trans.__('The context was not applied: %1', errorMessage(error))
    );
  }
  return false;
}
