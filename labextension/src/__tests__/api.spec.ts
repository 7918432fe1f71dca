import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { ServerConnection } from '@jupyterlab/services';

import {
  NOT_INSTALLED_MESSAGE,
  getVersion,
  requestAPI,
  IVersionInfo
} from '../api';

const settings = ServerConnection.makeSettings({
  baseUrl: 'http://localhost:8888/user/ada/'
});

function respond(body: string, init: ResponseInit = {}) {
  return jest
    .spyOn(ServerConnection, 'makeRequest')
    .mockResolvedValue(new Response(body, init));
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the request to fail');
}

afterEach(() => {
  jest.restoreAllMocks();
});

describe('requestAPI', () => {
  it('joins the base URL, the namespace and the endpoint', async () => {
    const makeRequest = respond('{"ok": true}', { status: 200 });
    const init = { method: 'POST', body: '{}' };

    const reply = await requestAPI<{ ok: boolean }>(
      'context/analysis.ipynb',
      init,
      settings
    );

    expect(reply).toEqual({ ok: true });
    expect(makeRequest).toHaveBeenCalledTimes(1);
    expect(makeRequest).toHaveBeenCalledWith(
      'http://localhost:8888/user/ada/jupyter-collab/context/analysis.ipynb',
      init,
      settings
    );
  });

  it('maps a 404 from the server itself to "not installed"', async () => {
    respond('<html><body>404 : Not Found</body></html>', {
      status: 404,
      statusText: 'Not Found',
      headers: { 'Content-Type': 'text/html' }
    });

    const error = await rejection(requestAPI('version', {}, settings));

    expect(error).toBeInstanceOf(ServerConnection.ResponseError);
    expect(error.message).toBe(NOT_INSTALLED_MESSAGE);
    expect((error as ServerConnection.ResponseError).response.status).toBe(404);
  });

  it("keeps the message of a 404 from the extension's own handlers", async () => {
    respond('{"message": "no context for analysis.ipynb", "reason": null}', {
      status: 404
    });

    const error = await rejection(requestAPI('context/x', {}, settings));

    expect(error.message).toBe('no context for analysis.ipynb');
  });

  it("surfaces the server's JSON message for other errors", async () => {
    respond('{"message": "stale revision 3, current is 4", "reason": null}', {
      status: 409,
      statusText: 'Conflict'
    });

    const error = await rejection(requestAPI('context/x', {}, settings));

    expect(error).toBeInstanceOf(ServerConnection.ResponseError);
    expect(error.message).toBe('stale revision 3, current is 4');
    expect((error as ServerConnection.ResponseError).response.status).toBe(409);
  });

  it('falls back to the HTTP status for an error without a JSON body', async () => {
    respond('upstream down', { status: 502, statusText: 'Bad Gateway' });

    const error = await rejection(requestAPI('version', {}, settings));

    expect(error.message).toBe('502 Bad Gateway');
  });

  it('returns undefined for an empty body', async () => {
    respond('', { status: 200 });

    await expect(requestAPI('context/x', {}, settings)).resolves.toBe(
      undefined
    );
  });

  it('rejects a successful response that is not JSON', async () => {
    respond('<html></html>', { status: 200 });

    const error = await rejection(requestAPI('version', {}, settings));

    expect(error.message).toBe(
      'Invalid JSON in the response to http://localhost:8888/user/ada/jupyter-collab/version'
    );
  });
});

describe('getVersion', () => {
  it('GETs jupyter-collab/version and returns its JSON', async () => {
    const info: IVersionInfo = {
      version: '0.1.0',
      schema_version: 1,
      provider: 'anthropic'
    };
    const makeRequest = respond(JSON.stringify(info), { status: 200 });

    await expect(getVersion(settings)).resolves.toEqual(info);
    expect(makeRequest).toHaveBeenCalledWith(
      'http://localhost:8888/user/ada/jupyter-collab/version',
      { method: 'GET' },
      settings
    );
  });
});
