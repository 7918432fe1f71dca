/**
 * `POST jupyter-collab/cell`: a collaborator cell's source as the server's
 * parser reads it (the one implementation of the `%%collab` format).
 */
import { ServerConnection } from '@jupyterlab/services';

import { jsonInit, requestAPI } from './request';
import { ICellSourceRequest, IParsedCell } from './wire';

/**
 * The prompt, options and `{name}` references of a collaborator cell; a cell
 * the server cannot read is a CollabAPIError (400) naming the problem.
 */
export function parseCell(
  source: string,
  settings?: ServerConnection.ISettings
): Promise<IParsedCell> {
  const body: ICellSourceRequest = { source };
  return requestAPI<IParsedCell>('cell', jsonInit('POST', body), settings);
}
