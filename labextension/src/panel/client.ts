/**
 * The context routes the panel, the feedback loop and sharing call, behind an
 * interface so the models can be tested without a server.
 */
import { acceptContext, getContext, patchContext } from '../api/context';
import { getModels } from '../api/info';
import { IContextView, IModelsInfo, IOpenedContext } from '../api/wire';
import { PatchOperation } from '../api/types';

export interface IContextClient {
  /**
   * `GET context?path=`: the sidecar reconciled with the embedded copy.
   */
  open(path: string): Promise<IOpenedContext>;
  /**
   * `PATCH context?path=`: apply operations against `revision` (409 if stale).
   */
  patch(
    path: string,
    revision: number,
    operations: PatchOperation[]
  ): Promise<IContextView>;
  /**
   * `POST context/accept?path=`: apply a reviewed embedded context.
   */
  accept(
    path: string,
    revision: number,
    pendingHash: string | null
  ): Promise<IContextView>;
  /**
   * `GET models`: the model setup.
   */
  models(): Promise<IModelsInfo>;
}

/**
 * The client that talks to the Jupyter server.
 */
export const serverContextClient: IContextClient = {
  open: path => getContext(path),
  patch: (path, revision, operations) =>
    patchContext(path, { revision, operations }),
  accept: (path, revision, pendingHash) =>
    acceptContext(path, { revision, pending_hash: pendingHash }),
  models: () => getModels()
};

/**
 * The HTTP status of a failed request, if it has one.
 */
export function statusOf(error: unknown): number | undefined {
  const response = (error as { response?: { status?: unknown } } | null)
    ?.response;
  return typeof response?.status === 'number' ? response.status : undefined;
}

/**
 * Whether a failed write was refused because the context moved on (409).
 */
export function isStaleError(error: unknown): boolean {
  return statusOf(error) === 409;
}

/**
 * The message of an error, for the user.
 */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
