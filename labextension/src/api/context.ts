/**
 * A notebook's context (`X.collab.json`) through the server:
 * `GET|PUT|PATCH jupyter-collab/context?path=` and `POST context/accept?path=`.
 *
 * Writes carry the revision they were based on; a stale one is refused with a
 * 409 (`CollabAPIError` with reason `stale_revision`), never merged over.
 */
import { ServerConnection } from '@jupyterlab/services';

import { jsonInit, requestAPI } from './request';
import {
  IAcceptReview,
  IContextPatch,
  IContextPut,
  IContextView,
  IOpenedContext
} from './wire';

/**
 * The endpoint of a notebook's context (`path` is the notebook's API path).
 */
export function contextEndpoint(path: string, suffix = ''): string {
  return `context${suffix}?path=${encodeURIComponent(path)}`;
}

/**
 * Open a notebook's context: the sidecar reconciled with the embedded copy.
 */
export function getContext(
  path: string,
  settings?: ServerConnection.ISettings
): Promise<IOpenedContext> {
  return requestAPI(contextEndpoint(path), jsonInit('GET'), settings);
}

/**
 * Replace a notebook's whole context.
 */
export function putContext(
  path: string,
  body: IContextPut,
  settings?: ServerConnection.ISettings
): Promise<IContextView> {
  return requestAPI(contextEndpoint(path), jsonInit('PUT', body), settings);
}

/**
 * Apply operations (add, update, toggle, remove, restore, undo, settings).
 */
export function patchContext(
  path: string,
  body: IContextPatch,
  settings?: ServerConnection.ISettings
): Promise<IContextView> {
  return requestAPI(contextEndpoint(path), jsonInit('PATCH', body), settings);
}

/**
 * Accept the embedded context a `GET` returned for review.
 */
export function acceptContext(
  path: string,
  body: IAcceptReview,
  settings?: ServerConnection.ISettings
): Promise<IContextView> {
  return requestAPI(
    contextEndpoint(path, '/accept'),
    jsonInit('POST', body),
    settings
  );
}
