import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { ServerConnection } from '@jupyterlab/services';

import {
  CollabStream,
  NOT_INSTALLED_MESSAGE,
  StreamCancelledError,
  StreamError,
  streamUrl
} from '../api';

/**
 * A WebSocket the test drives: it records what the client sends and lets the
 * test open, answer and close it.
 */
class FakeSocket {
  static instances: FakeSocket[] = [];

  constructor(readonly url: string) {
    FakeSocket.instances.push(this);
  }

  readyState = 0;
  sent: any[] = [];
  onopen: (() => void) | null = null;
  onclose: (() => void) | null = null;
  onmessage: ((event: { data: string }) => void) | null = null;

  send(data: string): void {
    this.sent.push(JSON.parse(data));
  }

  open(): void {
    this.readyState = 1;
    this.onopen?.();
  }

  receive(message: object): void {
    this.onmessage?.({ data: JSON.stringify(message) });
  }

  close(): void {
    this.readyState = 3;
    this.onclose?.();
  }
}

function settings(extra: Partial<ServerConnection.ISettings> = {}) {
  return ServerConnection.makeSettings({
    baseUrl: 'http://localhost:8888/user/ada/',
    wsUrl: 'ws://localhost:8888/user/ada/',
    WebSocket: FakeSocket as any,
    appendToken: false,
    token: 'secret',
    ...extra
  });
}

async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await Promise.resolve();
  }
}

/** A client with its socket opened. */
async function connected() {
  const client = new CollabStream({ serverSettings: settings() });
  return { client, socket: () => FakeSocket.instances.slice(-1)[0] };
}

afterEach(() => {
  FakeSocket.instances = [];
  jest.restoreAllMocks();
});

describe('streamUrl', () => {
  it('joins wsUrl and the route, without the token in the browser', () => {
    expect(streamUrl(settings())).toBe(
      'ws://localhost:8888/user/ada/jupyter-collab/stream'
    );
  });

  it('appends the token when the settings say so (as kernels do)', () => {
    expect(streamUrl(settings({ appendToken: true, token: 'a b' }))).toBe(
      'ws://localhost:8888/user/ada/jupyter-collab/stream?token=a%20b'
    );
    expect(streamUrl(settings({ appendToken: true, token: '' }))).toBe(
      'ws://localhost:8888/user/ada/jupyter-collab/stream'
    );
  });
});

describe('CollabStream.complete', () => {
  it('sends the request once the socket is open, streams deltas and resolves with the result', async () => {
    const { client, socket } = await connected();
    const deltas: string[] = [];

    const request = client.complete(
      { path: 'n.ipynb', source: '%%collab\nhi' },
      { onDelta: text => deltas.push(text) }
    );
    expect(socket().sent).toEqual([]);
    socket().open();
    await flush();

    expect(socket().sent).toEqual([
      {
        type: 'complete',
        id: request.id,
        path: 'n.ipynb',
        source: '%%collab\nhi'
      }
    ]);
    socket().receive({ type: 'delta', id: request.id, text: 'Hel' });
    socket().receive({ type: 'delta', id: 'other', text: 'ignored' });
    socket().receive({ type: 'delta', id: request.id, text: 'lo' });
    const output = { output_type: 'display_data', data: {}, metadata: {} };
    socket().receive({
      type: 'result',
      id: request.id,
      result: { answer: 'Hello' },
      output
    });

    await expect(request.done).resolves.toEqual({
      result: { answer: 'Hello' },
      output
    });
    expect(deltas).toEqual(['Hel', 'lo']);
  });

  it('carries many requests on one socket, each with its own id', async () => {
    const { client, socket } = await connected();
    const first = client.complete({ prompt: 'a' });
    const second = client.complete({ prompt: 'b' });
    socket().open();
    await flush();

    expect(FakeSocket.instances).toHaveLength(1);
    expect(first.id).not.toBe(second.id);
    expect(socket().sent.map(m => m.id)).toEqual([first.id, second.id]);
  });

  it('rejects with the server error (status, reason, message)', async () => {
    const { client, socket } = await connected();
    const request = client.complete({ prompt: 'a' });
    socket().open();
    await flush();
    socket().receive({
      type: 'error',
      id: request.id,
      status: 502,
      reason: 'provider_error',
      message: 'Overloaded'
    });

    const error = (await request.done.catch(e => e)) as StreamError;
    expect(error).toBeInstanceOf(StreamError);
    expect(error.message).toBe('Overloaded');
    expect(error.status).toBe(502);
    expect(error.reason).toBe('provider_error');
  });

  it('cancels: sends cancel and rejects at once', async () => {
    const { client, socket } = await connected();
    const request = client.complete({ prompt: 'a' });
    socket().open();
    await flush();

    request.cancel();
    await flush();

    await expect(request.done).rejects.toBeInstanceOf(StreamCancelledError);
    expect(socket().sent[1]).toEqual({ type: 'cancel', id: request.id });
    // A late result for a cancelled request changes nothing.
    socket().receive({
      type: 'result',
      id: request.id,
      result: {},
      output: {}
    });
  });

  it('fails running requests when the socket closes, and reconnects for the next', async () => {
    const { client, socket } = await connected();
    const request = client.complete({ prompt: 'a' });
    socket().open();
    await flush();
    socket().close();

    const error = (await request.done.catch(e => e)) as StreamError;
    expect(error.reason).toBe('connection_closed');

    const next = client.complete({ prompt: 'b' });
    expect(FakeSocket.instances).toHaveLength(2);
    socket().open();
    await flush();
    expect(socket().sent[0].id).toBe(next.id);
  });

  it('says the server extension is missing when the socket cannot open', async () => {
    jest
      .spyOn(ServerConnection, 'makeRequest')
      .mockResolvedValue(new Response('<html>404</html>', { status: 404 }));
    const { client, socket } = await connected();
    const request = client.complete({ prompt: 'a' });
    socket().close();

    const error = (await request.done.catch(e => e)) as StreamError;
    expect(error).toBeInstanceOf(StreamError);
    expect(error.message).toBe(NOT_INSTALLED_MESSAGE);
    expect(error.reason).toBe('not_connected');
  });
});

describe('CollabStream.preview', () => {
  it('reports progress and resolves with the finished report', async () => {
    const { client, socket } = await connected();
    const events: string[] = [];
    const request = client.preview(
      {
        amendment: { kind: 'process', text: 'Be terse.' },
        probes: [{ prompt: 'p', kind: 'user' }]
      },
      { onProgress: p => events.push(p.event) }
    );
    socket().open();
    await flush();
    expect(socket().sent[0].type).toBe('preview');

    const report = { cancelled: true, outcomes: [] };
    socket().receive({
      type: 'progress',
      id: request.id,
      event: 'started',
      total: 1
    });
    request.cancel();
    await flush();
    expect(socket().sent[1]).toEqual({ type: 'cancel', id: request.id });
    socket().receive({
      type: 'progress',
      id: request.id,
      event: 'finished',
      report
    });

    await expect(request.done).resolves.toEqual(report);
    expect(events).toEqual(['started', 'finished']);
  });
});

describe('CollabStream.layerEffect', () => {
  it("sends the move and reports the other notebooks' probes", async () => {
    const { client, socket } = await connected();
    const probes: (string | null)[] = [];
    const move = {
      path: 'study/nb.ipynb',
      entry_id: 'a-own',
      from_layer: 'notebook' as const,
      to_layer: 'project' as const
    };
    const request = client.layerEffect(move, {
      onProgress: p => probes.push(...(p.probes ?? []).map(q => q.notebook))
    });
    socket().open();
    await flush();
    expect(socket().sent[0]).toEqual({
      ...move,
      type: 'layer_effect',
      id: request.id
    });
    const probe = { prompt: 'q', kind: 'notebook', notebook: 'study/b.ipynb' };
    socket().receive({
      type: 'progress',
      id: request.id,
      event: 'started',
      total: 1,
      probes: [probe]
    });
    const report = { cancelled: false, outcomes: [] };
    socket().receive({
      type: 'progress',
      id: request.id,
      event: 'finished',
      report
    });
    await expect(request.done).resolves.toEqual(report);
    expect(probes).toEqual(['study/b.ipynb']);
  });
});

describe('CollabStream.check', () => {
  it('reports each event and resolves with the finished one', async () => {
    const { client, socket } = await connected();
    const events: string[] = [];
    const request = client.check(
      { path: 'nb.ipynb', amendment_id: 'a-1' },
      { onProgress: p => events.push(p.event) }
    );
    socket().open();
    await flush();
    expect(socket().sent[0]).toEqual({
      type: 'check',
      id: request.id,
      path: 'nb.ipynb',
      amendment_id: 'a-1'
    });
    socket().receive({ type: 'check', id: request.id, event: 'started' });
    socket().receive({ type: 'progress', id: request.id, event: 'probe' });
    request.cancel();
    await flush();
    expect(socket().sent[1]).toEqual({ type: 'cancel', id: request.id });
    const finished = {
      type: 'check',
      id: request.id,
      event: 'finished',
      report: { cancelled: true, amendments: [] },
      context: { revision: 5 }
    };
    socket().receive(finished);
    await expect(request.done).resolves.toEqual(finished);
    // Only check events reach the handler.
    expect(events).toEqual(['started', 'finished']);
  });

  it('rejects when the check ends without a report', async () => {
    const { client, socket } = await connected();
    const request = client.check({ path: 'nb.ipynb' });
    socket().open();
    await flush();
    socket().receive({
      type: 'check',
      id: request.id,
      event: 'error',
      message: 'the model is unavailable'
    });
    await expect(request.done).rejects.toThrow('the model is unavailable');
  });
});
