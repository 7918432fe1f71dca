/**
 * A notebook's context layers through the server: `GET layers?path=`,
 * `POST layers/contradictions` (the ops model's verdicts on entries of
 * different layers), `POST layers/preview` (what a promotion would do, nothing
 * written), `POST layers/move` (promote, demote; 409 when a layer moved on),
 * `POST layers/import` (`dry_run`: what it would import, nothing written) and
 * `GET layers/importable?path=` (the notebooks it could import from).
 */
import { ServerConnection } from '@jupyterlab/services';

import { jsonInit, requestAPI } from './request';
import {
  IImportableView,
  ILayerContradictionsReply,
  ILayerContradictionsRequest,
  ILayerImportReply,
  ILayerImportRequest,
  ILayerMovePreview,
  ILayerMoveReply,
  ILayerMoveRequest,
  ILayersView
} from './wire';

/**
 * Every layer of a notebook, which entries apply and why.
 */
export function getLayers(
  path: string,
  settings?: ServerConnection.ISettings
): Promise<ILayersView> {
  return requestAPI(
    `layers?path=${encodeURIComponent(path)}`,
    jsonInit('GET'),
    settings
  );
}

/**
 * Which entries of a notebook's layers contradict an entry of another layer.
 */
export function getContradictions(
  path: string,
  settings?: ServerConnection.ISettings
): Promise<ILayerContradictionsReply> {
  const body: ILayerContradictionsRequest = { path };
  return requestAPI('layers/contradictions', jsonInit('POST', body), settings);
}

/**
 * What moving an entry would do, before anything is written.
 */
export function previewMove(
  body: ILayerMoveRequest,
  settings?: ServerConnection.ISettings
): Promise<ILayerMovePreview> {
  return requestAPI('layers/preview', jsonInit('POST', body), settings);
}

/**
 * Move an entry between layers (both files or neither).
 */
export function moveEntry(
  body: ILayerMoveRequest,
  settings?: ServerConnection.ISettings
): Promise<ILayerMoveReply> {
  return requestAPI('layers/move', jsonInit('POST', body), settings);
}

/**
 * Import another notebook's accepted entries into this one.
 */
export function importEntries(
  body: ILayerImportRequest,
  settings?: ServerConnection.ISettings
): Promise<ILayerImportReply> {
  return requestAPI('layers/import', jsonInit('POST', body), settings);
}

/**
 * The notebooks of the project (or folder) that `path` could import from.
 */
export function getImportable(
  path: string,
  settings?: ServerConnection.ISettings
): Promise<IImportableView> {
  return requestAPI(
    `layers/importable?path=${encodeURIComponent(path)}`,
    jsonInit('GET'),
    settings
  );
}
