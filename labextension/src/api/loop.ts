/**
 * Typed wrappers of the feedback loop's routes: `suggest`, `propose`,
 * `probes`, `finalize` (REST), and a preview and a check over the `stream` socket.
 * The shapes are the generated wire types of `./wire`.
 */
import { ServerConnection } from '@jupyterlab/services';

import { jsonInit, requestAPI } from './request';
import {
  CollabStream,
  ICheckHandlers,
  IPreviewHandlers,
  IStreamRequest
} from './stream';
import {
  IAmendRequest,
  ICheckMessage,
  ICheckRequest,
  IAmendmentDraft,
  ICorrectionInput,
  IFinalizeReply,
  IFinalizeRequest,
  IHighlightInput,
  ILayerImportEffectRequest,
  ILayerMoveRequest,
  IPreviewProgress,
  IPreviewReport,
  IPreviewRequest,
  IProbe,
  IProbeOutcome,
  IProbesReply,
  IProbesRequest,
  IProposeReply,
  IProposedAmendment,
  ISuggestReply,
  ISuggestRequest,
  ISuggestedCorrection
} from './wire';

/**
 * How a running preview is observed and cancelled.
 */
export interface IPreviewOptions {
  /**
   * Called for every progress event, in order.
   */
  onProgress?: (progress: IPreviewProgress) => void;
  /**
   * Aborting asks the server to finish early: the promise then resolves with
   * the report of the probes that ran (marked `cancelled`).
   */
  signal?: AbortSignal;
  /**
   * The stream client to use (one shared client by default).
   */
  stream?: CollabStream;
}

/**
 * `POST suggest`: candidate corrections of a highlighted span.
 */
export async function suggestCorrections(
  highlight: IHighlightInput,
  path?: string | null,
  n = 3,
  settings?: ServerConnection.ISettings
): Promise<ISuggestedCorrection[]> {
  const body: ISuggestRequest = { path: path ?? null, highlight, n };
  const reply = await requestAPI<ISuggestReply>(
    'suggest',
    jsonInit('POST', body),
    settings
  );
  return reply.suggestions;
}

/**
 * `POST propose`: candidate amendments from a chosen correction.
 */
export async function proposeAmendments(
  highlight: IHighlightInput,
  correction: ICorrectionInput,
  path?: string | null,
  n = 3,
  settings?: ServerConnection.ISettings
): Promise<IProposedAmendment[]> {
  const body: IAmendRequest = { path: path ?? null, highlight, correction, n };
  const reply = await requestAPI<IProposeReply>(
    'propose',
    jsonInit('POST', body),
    settings
  );
  return reply.amendments;
}

/**
 * `POST probes`: probe prompts to preview an amendment with (the original
 * prompt, the notebook's other prompts, and generated over-reach checks).
 */
export async function generateProbes(
  amendment: IAmendmentDraft,
  notebookPrompts: string[],
  originalPrompt: string | null,
  n = 4,
  settings?: ServerConnection.ISettings
): Promise<IProbe[]> {
  const body: IProbesRequest = {
    amendment,
    notebook_prompts: notebookPrompts,
    original_prompt: originalPrompt,
    n
  };
  const reply = await requestAPI<IProbesReply>(
    'probes',
    jsonInit('POST', body),
    settings
  );
  return reply.probes;
}

/**
 * `POST finalize`: add the amendment, with its provenance, to the context
 * (409 when `revision` is given and the context moved on).
 */
export function finalizeAmendment(
  request: IFinalizeRequest,
  settings?: ServerConnection.ISettings
): Promise<IFinalizeReply> {
  return requestAPI<IFinalizeReply>(
    'finalize',
    jsonInit('POST', request),
    settings
  );
}

let sharedStream: CollabStream | null = null;

function defaultStream(): CollabStream {
  if (!sharedStream || sharedStream.isDisposed) {
    sharedStream = new CollabStream();
  }
  return sharedStream;
}

/**
 * The report of the probes that ran, when a preview ended without its own.
 */
export function partialReport(
  request: IPreviewRequest,
  outcomes: IProbeOutcome[],
  noiseSamples: number
): IPreviewReport {
  const order = new Map(request.probes.map((probe, i) => [probe.prompt, i]));
  return {
    amendment: {
      ...request.amendment,
      rationale: request.amendment.rationale ?? ''
    },
    outcomes: [...outcomes].sort(
      (a, b) =>
        (order.get(a.probe.prompt) ?? 0) - (order.get(b.probe.prompt) ?? 0)
    ),
    cancelled: true,
    model: '',
    duration_s: 0,
    noise_samples: noiseSamples
  };
}

/**
 * Run a preview over the stream socket and resolve with its report.
 */
export async function runPreview(
  request: IPreviewRequest,
  options: IPreviewOptions = {}
): Promise<IPreviewReport> {
  const outcomes: IProbeOutcome[] = [];
  // The server says on 'started' how many extra samples it draws; a preview
  // cancelled before then drew none beyond the default.
  let noiseSamples = 1;
  if (options.signal?.aborted) {
    return partialReport(request, outcomes, noiseSamples);
  }
  const running = (options.stream ?? defaultStream()).preview(request, {
    onProgress: progress => {
      if (progress.noise_samples) {
        noiseSamples = progress.noise_samples;
      }
      if (progress.outcome) {
        outcomes.push(progress.outcome);
      }
      options.onProgress?.(progress);
    }
  });
  const onAbort = () => running.cancel();
  options.signal?.addEventListener('abort', onAbort);
  try {
    return await running.done;
  } catch (error) {
    if (options.signal?.aborted) {
      return partialReport(request, outcomes, noiseSamples);
    }
    throw error;
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * Start a constitution check over the shared stream socket.
 */
export function startCheck(
  request: ICheckRequest,
  handlers: ICheckHandlers = {},
  stream?: CollabStream
): IStreamRequest<ICheckMessage> {
  return (stream ?? defaultStream()).check(request, handlers);
}

/**
 * Start a promotion's model preview over the shared stream socket.
 */
export function startLayerEffect(
  request: ILayerMoveRequest,
  handlers: IPreviewHandlers = {},
  stream?: CollabStream
): IStreamRequest<IPreviewReport> {
  return (stream ?? defaultStream()).layerEffect(request, handlers);
}

/**
 * Start an import's model preview over the shared stream socket.
 */
export function startImportEffect(
  request: ILayerImportEffectRequest,
  handlers: IPreviewHandlers = {},
  stream?: CollabStream
): IStreamRequest<IPreviewReport> {
  return (stream ?? defaultStream()).importEffect(request, handlers);
}
