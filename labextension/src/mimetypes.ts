/**
 * The MIME types of the answer bundle.
 */

/**
 * The answer as both doors save it (core/outputs.py `MIME_TYPE`); its payload
 * is an `ICollabOutput`.
 */
export const COLLAB_MIME = 'application/vnd.jupyter.collab+json';

/**
 * An answer still streaming in, or one that was cancelled or failed part way:
 * an `IStreamingAnswer`. It exists only in the lab front end; a saved notebook
 * holding one has no stored answer for that cell (so a replay run says so).
 */
export const STREAM_MIME = 'application/vnd.jupyter.collab.stream+json';
