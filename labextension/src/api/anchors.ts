/**
 * `POST jupyter-collab/anchors`: stored highlights placed on the answers the
 * page shows now. The core decides (exact, moved or orphaned, and where);
 * the page only renders the result.
 */
import { ServerConnection } from '@jupyterlab/services';

import { jsonInit, requestAPI } from './request';
import { IAnchorPlacement, IAnchorQuery, IAnchorsReply } from './wire';

/**
 * Where each highlight sits on its text (offsets in code points), in the
 * order of `items`.
 */
export async function placeHighlights(
  items: IAnchorQuery[],
  settings?: ServerConnection.ISettings
): Promise<IAnchorPlacement[]> {
  if (!items.length) {
    return [];
  }
  const reply = await requestAPI<IAnchorsReply>(
    'anchors',
    jsonInit('POST', { items }),
    settings
  );
  return reply.anchors;
}
