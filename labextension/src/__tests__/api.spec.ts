import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { ServerConnection } from '@jupyterlab/services';

import {
  CollabAPIError,
  IModelsInfo,
  IVersionInfo,
  NOT_INSTALLED_MESSAGE,
  acceptContext,
  getContext,
  getModels,
  getVersion,
  patchContext,
  putContext,
  requestAPI
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
    expect((error as CollabAPIError).reason).toBe('not_installed');
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
    expect((error as CollabAPIError).reason).toBeNull();
  });

  it("keeps the server's machine-readable reason", async () => {
    respond('{"message": "file changed", "reason": "stale_revision"}', {
      status: 409
    });

    const error = (await rejection(
      requestAPI('context/x', {}, settings)
    )) as CollabAPIError;

    expect(error).toBeInstanceOf(CollabAPIError);
    expect(error.reason).toBe('stale_revision');
    expect(error.status).toBe(409);
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

describe('getModels', () => {
  it('GETs jupyter-collab/models', async () => {
    const info: IModelsInfo = {
      provider: 'anthropic',
      model: 'claude-x',
      ops_model: null,
      allowed_models: ['claude-x', 'claude-y'],
      default_mode: 'research',
      key_configured: true,
      preview_concurrency: 4,
      token_budget: 50000
    };
    const makeRequest = respond(JSON.stringify(info), { status: 200 });

    await expect(getModels(settings)).resolves.toEqual(info);
    expect(makeRequest.mock.calls[0][0]).toBe(
      'http://localhost:8888/user/ada/jupyter-collab/models'
    );
  });
});

describe('context', () => {
  const base = 'http://localhost:8888/user/ada/jupyter-collab/';
  const view = { path: 'dir/a b.ipynb', revision: 3 };

  it('GETs the context of a notebook path', async () => {
    const makeRequest = respond(JSON.stringify(view), { status: 200 });

    await expect(getContext('dir/a b.ipynb', settings)).resolves.toEqual(view);
    expect(makeRequest).toHaveBeenCalledWith(
      `${base}context?path=dir%2Fa%20b.ipynb`,
      { method: 'GET' },
      settings
    );
  });

  it('PUTs, PATCHes and accepts with the base revision in the body', async () => {
    const makeRequest = jest
      .spyOn(ServerConnection, 'makeRequest')
      .mockImplementation(
        async () => new Response(JSON.stringify(view), { status: 200 })
      );
    const context = { revision: 3 } as any;
    const operations = [{ op: 'toggle_amendment' as const, id: 'a-1' }];

    await putContext('n.ipynb', { context, revision: 3 }, settings);
    await patchContext('n.ipynb', { revision: 3, operations }, settings);
    await acceptContext(
      'n.ipynb',
      { revision: 0, pending_hash: 'h' },
      settings
    );

    const calls = makeRequest.mock.calls.map(([url, init]) => [
      url,
      init?.method,
      JSON.parse(String(init?.body))
    ]);
    expect(calls).toEqual([
      [`${base}context?path=n.ipynb`, 'PUT', { context, revision: 3 }],
      [`${base}context?path=n.ipynb`, 'PATCH', { revision: 3, operations }],
      [
        `${base}context/accept?path=n.ipynb`,
        'POST',
        { revision: 0, pending_hash: 'h' }
      ]
    ]);
  });
});
