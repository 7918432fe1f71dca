/**
 * The collaborator cell's output bundle (`core/outputs.py`) as the page reads
 * it: the `application/vnd.jupyter.collab+json` payload. The server builds
 * the bundle and its `text/markdown` and `text/html` fallbacks, also when a
 * finalized highlight is added to an answer (the `finalize` reply's `output`).
 */
import { COLLAB_MIME } from '../mimetypes';
import { ICollabOutput } from '../api/wire';

export { COLLAB_MIME };

/**
 * The MIME payload (`CollabOutput`).
 */
export type ICollabPayload = ICollabOutput;

/**
 * Whether a MIME bundle value looks like a collab payload.
 */
export function isCollabPayload(value: unknown): value is ICollabPayload {
  const payload = value as ICollabPayload | null;
  return (
    typeof payload === 'object' &&
    payload !== null &&
    typeof payload.result === 'object' &&
    payload.result !== null &&
    typeof payload.result.answer === 'string'
  );
}
