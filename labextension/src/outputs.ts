/**
 * The outputs a collaborator cell shows while and after it runs.
 *
 * - While the answer streams: one `display_data` with the STREAM_MIME payload
 *   (the text so far and the state) plus a `text/markdown` fallback.
 * - When it is complete: the server's `output`, unchanged. It is exactly what
 *   the kernel door writes (core/outputs.py `build_output`), so a notebook
 *   saved in JupyterLab replays headless.
 * - When it fails: the partial answer (if any) stays, followed by an nbformat
 *   `error` output with the server's message and what to do about it.
 */
import type * as nbformat from '@jupyterlab/nbformat';
import type { TranslationBundle } from '@jupyterlab/translation';
import type { PartialJSONObject } from '@lumino/coreutils';

import { CollabAPIError, ICollabDisplayData, StreamError } from './api';
import { CELL_MAGIC } from './cellSource';
import { COLLAB_MIME, STREAM_MIME } from './mimetypes';
import { NoKernelError } from './variables';

/**
 * The state of an answer that is not (yet) complete.
 */
export type StreamingStatus = 'waiting' | 'streaming' | 'cancelled' | 'error';

/**
 * The STREAM_MIME payload.
 */
export interface IStreamingAnswer {
  /** The answer text received so far. */
  text: string;
  status: StreamingStatus;
  /** The run to cancel from the streaming view (null once it ended). */
  run_id: string | null;
  /** What the cell is doing or why it stopped, for the user. */
  note?: string;
}

/**
 * The fallback's line under an answer that ended incomplete.
 */
function statusNote(status: StreamingStatus, trans: TranslationBundle): string {
  switch (status) {
    case 'cancelled':
      return `*(${trans.__('cancelled: the answer above is incomplete')})*`;
    case 'error':
      return `*(${trans.__('failed: the answer above is incomplete')})*`;
    default:
      return '';
  }
}

/**
 * The output showing an incomplete answer.
 */
export function streamingOutput(
  answer: IStreamingAnswer,
  trans: TranslationBundle
): nbformat.IDisplayData {
  const note = statusNote(answer.status, trans);
  const markdown = [answer.text, note].filter(part => part).join('\n\n');
  return {
    output_type: 'display_data',
    data: {
      [STREAM_MIME]: answer as unknown as PartialJSONObject,
      'text/markdown': markdown
    },
    metadata: {}
  };
}

/**
 * The server's output, checked to be an answer bundle.
 *
 * @throws Error when the server sent something else
 */
export function finalOutput(output: ICollabDisplayData): nbformat.IDisplayData {
  if (
    output?.output_type !== 'display_data' ||
    typeof output.data !== 'object' ||
    !output.data[COLLAB_MIME]
  ) {
    throw new StreamError(
      'The server sent an answer without the jupyter-collab output bundle.',
      500,
      'invalid_response'
    );
  }
  return output as unknown as nbformat.IDisplayData;
}

/**
 * A failure explained to the user.
 */
export interface IFailure {
  /** A short error name (the `ename` of the error output). */
  ename: string;
  /** The server's or provider's own message. */
  message: string;
  /** What to do about it. */
  advice: string;
}

/**
 * The error name and the advice for a reason of the server extension, or
 * `null` for a reason it does not know.
 */
function reasonFailure(
  reason: string,
  trans: TranslationBundle
): [string, string] | null {
  switch (reason) {
    case 'not_configured':
      return [
        'ConfigurationError',
        trans.__(
          'Configure a model provider for the Jupyter server (for example set ANTHROPIC_API_KEY in its environment, or c.CollabExtension.provider) and restart it.'
        )
      ];
    case 'invalid_request':
      return [
        'InvalidRequestError',
        trans.__(
          'Fix the cell: check the options on the %1 line and the prompt below it.',
          CELL_MAGIC
        )
      ];
    case 'invalid_context_file':
      return [
        'ContextFileError',
        trans.__(
          "Fix or restore the notebook's context file named above; it is never overwritten while it is broken."
        )
      ];
    case 'stale_revision':
      return [
        'StaleRevisionError',
        trans.__('The context changed meanwhile; run the cell again.')
      ];
    case 'not_found':
      return [
        'NotFoundError',
        trans.__('Save the notebook and run the cell again.')
      ];
    case 'not_installed':
      return [
        'ServerExtensionError',
        trans.__(
          'Install jupyter-collab in the environment that runs the Jupyter server, then restart the server.'
        )
      ];
    case 'not_connected':
      return [
        'ConnectionError',
        trans.__(
          'Check that the Jupyter server is running and has the jupyter-collab server extension enabled (`jupyter server extension list`).'
        )
      ];
    case 'connection_closed':
      return [
        'ConnectionError',
        trans.__('Run the cell again once the Jupyter server is reachable.')
      ];
    case 'too_many_requests':
      return [
        'TooManyRequests',
        trans.__(
          'Wait for the running answers to finish, then run the cell again.'
        )
      ];
    case 'forbidden':
      return [
        'PermissionError',
        trans.__(
          'Your Jupyter user is not allowed to run collaborator cells on this server.'
        )
      ];
    case 'internal_error':
      return [
        'InternalError',
        trans.__("The Jupyter server's log has the details; please report it.")
      ];
    default:
      return null;
  }
}

/**
 * Advice for a provider failure, from the provider's message.
 */
function providerAdvice(message: string, trans: TranslationBundle): string {
  if (
    /api[ _-]?key|authenticat|unauthori[sz]ed|\b401\b|permission/i.test(message)
  ) {
    return trans.__(
      'The provider refused the credentials: set a valid API key for the Jupyter server (e.g. ANTHROPIC_API_KEY) and restart it.'
    );
  }
  if (/rate.?limit|\b429\b|overload|\b529\b|busy/i.test(message)) {
    return trans.__(
      'The provider is busy or rate-limiting: wait a moment and run the cell again.'
    );
  }
  if (
    /model/i.test(message) &&
    /not.?found|unknown|invalid|\b404\b/i.test(message)
  ) {
    return trans.__(
      'Pick another model in the cell toolbar, or check c.CollabExtension.model on the server.'
    );
  }
  if (/timed? ?out|timeout|connect/i.test(message)) {
    return trans.__(
      "The provider could not be reached in time: check the server's network or base URL and run the cell again."
    );
  }
  return trans.__(
    'Run the cell again; if it keeps failing, check the model provider settings of the Jupyter server.'
  );
}

/**
 * Explain any failure of a run.
 */
export function describeFailure(
  error: unknown,
  trans: TranslationBundle
): IFailure {
  if (error instanceof NoKernelError) {
    const names = error.names.map(name => `{${name}}`).join(', ');
    return {
      ename: 'NoKernelError',
      message: trans._n(
        "This prompt references %2, which is read from the notebook's kernel, but the notebook has no running kernel.",
        "This prompt references %2, which are read from the notebook's kernel, but the notebook has no running kernel.",
        error.names.length,
        names
      ),
      advice: trans.__(
        'Start a kernel (Kernel › Change Kernel…) and run the cell again, or write the values into the prompt.'
      )
    };
  }
  // The server's errors read the same whether they came over the stream or
  // from a REST route (the cell's parse).
  const server =
    error instanceof StreamError ||
    (error instanceof CollabAPIError && error.reason !== null)
      ? error
      : null;
  if (server) {
    const reason = server.reason ?? '';
    if (reason === 'provider_error') {
      return {
        ename: 'ProviderError',
        message: server.message,
        advice: providerAdvice(server.message, trans)
      };
    }
    const [ename, advice] = reasonFailure(reason, trans) ?? [
      'CollabError',
      trans.__("Run the cell again; the Jupyter server's log may have details.")
    ];
    return { ename, message: server.message, advice };
  }
  const message = error instanceof Error ? error.message : String(error);
  return {
    ename: 'CollabError',
    message,
    advice: trans.__(
      'Run the cell again; the browser console may have details.'
    )
  };
}

/**
 * The nbformat error output for a failure.
 */
export function errorOutput(
  failure: IFailure,
  trans: TranslationBundle
): nbformat.IError {
  return {
    output_type: 'error',
    ename: failure.ename,
    evalue: failure.message,
    traceback: [
      `\u001b[0;31m${failure.ename}\u001b[0m: ${failure.message}`,
      '',
      `\u001b[1m${trans.__('What to do:')}\u001b[0m ${failure.advice}`
    ]
  };
}
