/**
 * The question asked when a write was refused because the context changed
 * elsewhere (409): reload, or keep the current view; never overwrite.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import type { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import { StaleChoice } from './model';

export async function askStale(
  message: string,
  trans: TranslationBundle
): Promise<StaleChoice> {
  const body = document.createElement('div');
  body.className = 'jp-collab-stale';
  const lead = document.createElement('p');
  lead.textContent = trans.__(
    'The context changed elsewhere (another tab, the command line or a file edit) since this view was loaded. Your change was not saved, and nothing was overwritten.'
  );
  const detail = document.createElement('p');
  detail.className = 'jp-collab-muted';
  detail.textContent = message;
  body.append(lead, detail);
  const result = await showDialog({
    title: trans.__('The context changed elsewhere'),
    body: new Widget({ node: body }),
    buttons: [
      Dialog.cancelButton({ label: trans.__('Not now') }),
      Dialog.okButton({ label: trans.__('Reload') })
    ]
  });
  return result.button.accept ? 'reload' : 'cancel';
}
