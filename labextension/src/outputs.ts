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
import type { PartialJSONObject } from '@lumino/coreutils';

import { ICollabDisplayData, StreamError } from './api';
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

const STATUS_NOTES: Record<StreamingStatus, string> = {
  waiting: '',
  streaming: '',
  cancelled: '*(cancelled: the answer above is incomplete)*',
  error: '*(failed: the answer above is incomplete)*'
};

/**
 * The output showing an incomplete answer.
 */
export function streamingOutput(
  answer: IStreamingAnswer
): nbformat.IDisplayData {
  const note = STATUS_NOTES[answer.status];
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

const REASONS: Record<string, [string, string]> = {
  not_configured: [
    'ConfigurationError',
    'Configure a model provider for the Jupyter server (for example set ANTHROPIC_API_KEY in its environment, or c.CollabExtension.provider) and restart it.'
  ],
  invalid_request: [
    'InvalidRequestError',
    'Fix the cell: check the options on the %%collab line and the prompt below it.'
  ],
  invalid_context_file: [
    'ContextFileError',
    "Fix or restore the notebook's context file named above; it is never overwritten while it is broken."
  ],
  stale_revision: [
    'StaleRevisionError',
    'The context changed meanwhile; run the cell again.'
  ],
  not_found: ['NotFoundError', 'Save the notebook and run the cell again.'],
  not_installed: [
    'ServerExtensionError',
    'Install jupyter-collab in the environment that runs the Jupyter server, then restart the server.'
  ],
  not_connected: [
    'ConnectionError',
    'Check that the Jupyter server is running and has the jupyter-collab server extension enabled (`jupyter server extension list`).'
  ],
  connection_closed: [
    'ConnectionError',
    'Run the cell again once the Jupyter server is reachable.'
  ],
  too_many_requests: [
    'TooManyRequests',
    'Wait for the running answers to finish, then run the cell again.'
  ],
  forbidden: [
    'PermissionError',
    'Your Jupyter user is not allowed to run collaborator cells on this server.'
  ],
  internal_error: [
    'InternalError',
    "The Jupyter server's log has the details; please report it."
  ]
};

/**
 * Advice for a provider failure, from the provider's message.
 */
function providerAdvice(message: string): string {
  if (
    /api[ _-]?key|authenticat|unauthori[sz]ed|\b401\b|permission/i.test(message)
  ) {
    return 'The provider refused the credentials: set a valid API key for the Jupyter server (e.g. ANTHROPIC_API_KEY) and restart it.';
  }
  if (/rate.?limit|\b429\b|overload|\b529\b|busy/i.test(message)) {
    return 'The provider is busy or rate-limiting: wait a moment and run the cell again.';
  }
  if (
    /model/i.test(message) &&
    /not.?found|unknown|invalid|\b404\b/i.test(message)
  ) {
    return 'Pick another model in the cell toolbar, or check c.CollabExtension.model on the server.';
  }
  if (/timed? ?out|timeout|connect/i.test(message)) {
    return "The provider could not be reached in time: check the server's network or base URL and run the cell again.";
  }
  return 'Run the cell again; if it keeps failing, check the model provider settings of the Jupyter server.';
}

/**
 * Explain any failure of a run.
 */
export function describeFailure(error: unknown): IFailure {
  if (error instanceof NoKernelError) {
    return {
      ename: 'NoKernelError',
      message: error.message,
      advice:
        'Start a kernel (Kernel › Change Kernel…) and run the cell again, or write the values into the prompt.'
    };
  }
  if (error instanceof StreamError) {
    if (error.reason === 'provider_error') {
      return {
        ename: 'ProviderError',
        message: error.message,
        advice: providerAdvice(error.message)
      };
    }
    const [ename, advice] = REASONS[error.reason] ?? [
      'CollabError',
      "Run the cell again; the Jupyter server's log may have details."
    ];
    return { ename, message: error.message, advice };
  }
  const message = error instanceof Error ? error.message : String(error);
  return {
    ename: 'CollabError',
    message,
    advice: 'Run the cell again; the browser console may have details.'
  };
}

/**
 * The nbformat error output for a failure.
 */
export function errorOutput(failure: IFailure): nbformat.IError {
  return {
    output_type: 'error',
    ename: failure.ename,
    evalue: failure.message,
    traceback: [
      `\u001b[0;31m${failure.ename}\u001b[0m: ${failure.message}`,
      '',
      `\u001b[1mWhat to do:\u001b[0m ${failure.advice}`
    ]
  };
}
