/**
 * Typed access to the jupyter-collab server extension.
 *
 * Every request goes through the Jupyter server (which holds the API keys);
 * the wire types below mirror the server's pydantic models.
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
 * `GET jupyter-collab/version`.
 */
export interface IVersionInfo {
  /**
   * The Python package version.
   */
  version: string;
  /**
   * The version of the context file schema the server reads and writes.
   */
  schema_version: number;
  /**
   * The name of the model provider the server is configured with.
   */
  provider: string;
}

/**
 * Call a jupyter-collab endpoint and return its decoded JSON body.
 *
 * @param endPoint - path below `<baseUrl>/jupyter-collab/`
 * @param init - the fetch request options
 * @param settings - the server connection settings (defaults to the page's)
 * @returns the decoded JSON body, or `undefined` for an empty body
 * @throws ServerConnection.ResponseError carrying the server's message; a
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
    const message = errorMessage(body);
    if (response.status === 404 && message === undefined) {
      throw new ServerConnection.ResponseError(response, NOT_INSTALLED_MESSAGE);
    }
    throw new ServerConnection.ResponseError(
      response,
      message ?? `${response.status} ${response.statusText}`.trim()
    );
  }
  if (text.length === 0) {
    return undefined as T;
  }
  if (body === undefined) {
    throw new ServerConnection.ResponseError(
      response,
      `Invalid JSON in the response to ${url}`
    );
  }
  return body as T;
}

/**
 * Get the server extension's version, context schema version and provider.
 */
export function getVersion(
  settings?: ServerConnection.ISettings
): Promise<IVersionInfo> {
  return requestAPI<IVersionInfo>('version', { method: 'GET' }, settings);
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

function errorMessage(body: unknown): string | undefined {
  if (typeof body === 'object' && body !== null && 'message' in body) {
    const message = (body as { message: unknown }).message;
    if (typeof message === 'string' && message.length > 0) {
      return message;
    }
  }
  return undefined;
}
