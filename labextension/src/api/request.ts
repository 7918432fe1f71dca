/**
 * REST requests to the jupyter-collab server extension.
 *
 * Every request goes through the Jupyter server (which holds the API keys),
 * authenticated the way JupyterLab's own requests are
 * (`ServerConnection.makeRequest`: token header or cookie + XSRF).
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/**
 * The URL namespace of the server extension's handlers.
 */
export const API_NAMESPACE = 'jupyter-collab';

/**
 * The error message when the server does not know the extension's routes.
 */
export const NOT_INSTALLED_MESSAGE =
  'jupyter-collab server extension not installed or not enabled';

/**
 * An error answer of the server extension: the HTTP response, the server's
 * sentence for the user (`message`) and its machine-readable `reason`
 * (`stale_revision`, `provider_error`, `not_configured`…; see
 * jupyter_collab/server/errors.py), or `not_installed` when the routes do not
 * exist.
 */
export class CollabAPIError extends ServerConnection.ResponseError {
  constructor(
    response: Response,
    message: string,
    readonly reason: string | null = null
  ) {
    super(response, message);
    this.name = 'CollabAPIError';
  }

  /**
   * The HTTP status of the answer.
   */
  get status(): number {
    return this.response.status;
  }
}

/**
 * Call a jupyter-collab endpoint and return its decoded JSON body.
 *
 * @param endPoint - path below `<baseUrl>/jupyter-collab/`
 * @param init - the fetch request options
 * @param settings - the server connection settings (defaults to the page's)
 * @returns the decoded JSON body, or `undefined` for an empty body
 * @throws CollabAPIError (a ServerConnection.ResponseError) carrying the server's message; a
 *   404 that is not a JSON error from the extension's own handlers means the
 *   routes do not exist and gives {@link NOT_INSTALLED_MESSAGE}
 */
export async function requestAPI<T>(
  endPoint = '',
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<T> {
  const url = URLExt.join(settings.baseUrl, API_NAMESPACE, endPoint);
  const response = await ServerConnection.makeRequest(url, init, settings);
  const text = await response.text();
  const body = parseJSON(text);

  if (!response.ok) {
    const message = errorField(body, 'message');
    if (response.status === 404 && message === undefined) {
      throw new CollabAPIError(
        response,
        NOT_INSTALLED_MESSAGE,
        'not_installed'
      );
    }
    throw new CollabAPIError(
      response,
      message ?? `${response.status} ${response.statusText}`.trim(),
      errorField(body, 'reason') ?? null
    );
  }
  if (text.length === 0) {
    return undefined as T;
  }
  if (body === undefined) {
    throw new CollabAPIError(
      response,
      `Invalid JSON in the response to ${url}`,
      'invalid_response'
    );
  }
  return body as T;
}

function parseJSON(text: string): unknown {
  if (text.length === 0) {
    return undefined;
  }
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function errorField(body: unknown, name: string): string | undefined {
  if (typeof body === 'object' && body !== null && name in body) {
    const value = (body as Record<string, unknown>)[name];
    if (typeof value === 'string' && value.length > 0) {
      return value;
    }
  }
  return undefined;
}

/**
 * JSON request options: the method and, when given, the serialized body.
 */
export function jsonInit(method: string, body?: unknown): RequestInit {
  return body === undefined
    ? { method }
    : { method, body: JSON.stringify(body) };
}
