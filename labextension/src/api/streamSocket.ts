/**
 * The connection under the `jupyter-collab/stream` client: one socket, opened
 * on first use and again after it closed, carrying JSON messages.
 *
 * It is built from the ServerConnection settings like JupyterLab's own sockets
 * (kernels, terminals, events): `settings.wsUrl` and `settings.WebSocket`,
 * with the token appended as `?token=` only when `settings.appendToken` says
 * so (in the browser the page's cookie authenticates the upgrade).
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { getVersion } from './info';
import { API_NAMESPACE } from './request';
import { StreamError } from './streamErrors';
import { StreamMessage } from './wire';

/**
 * The URL of the stream socket for the given settings.
 */
export function streamUrl(settings: ServerConnection.ISettings): string {
  let url = URLExt.join(settings.wsUrl, API_NAMESPACE, 'stream');
  if (settings.appendToken && settings.token !== '') {
    url += `?token=${encodeURIComponent(settings.token)}`;
  }
  return url;
}

/** `WebSocket.OPEN`, without relying on a global WebSocket. */
const SOCKET_OPEN = 1;

export interface IStreamSocketHandlers {
  /** A message from the server about request `id`. */
  onMessage(id: string, message: StreamMessage): void;
  /** The open socket closed: every request still waiting fails with `error`. */
  onClosed(error: StreamError): void;
}

export class StreamSocket {
  constructor(
    private readonly settings: ServerConnection.ISettings,
    private readonly handlers: IStreamSocketHandlers
  ) {}

  /**
   * Send `message`, opening the socket first if needed; rejects when it
   * cannot be opened.
   */
  async send(message: object): Promise<void> {
    const socket = await this._connect();
    socket.send(JSON.stringify(message));
  }

  close(): void {
    this._socket?.close();
    this._socket = null;
  }

  private _connect(): Promise<WebSocket> {
    if (this._socket && this._socket.readyState === SOCKET_OPEN) {
      return Promise.resolve(this._socket);
    }
    if (this._opening) {
      return this._opening;
    }
    const settings = this.settings;
    const socket = new settings.WebSocket(streamUrl(settings));
    this._socket = socket;
    let opening = true;
    this._opening = new Promise<WebSocket>((resolve, reject) => {
      socket.onopen = () => {
        opening = false;
        this._opening = null;
        resolve(socket);
      };
      socket.onclose = () => {
        if (this._socket === socket) {
          this._socket = null;
        }
        if (opening) {
          // The requests waiting for the socket fail with this reason.
          opening = false;
          this._opening = null;
          void this._openFailure().then(reject);
          return;
        }
        this.handlers.onClosed(
          new StreamError(
            'The connection to the Jupyter server closed before the answer was complete; run the cell again.',
            0,
            'connection_closed'
          )
        );
      };
    });
    socket.onmessage = event => this._dispatch(event.data);
    return this._opening;
  }

  /**
   * Why the socket did not open: a missing server extension gives its own
   * message (the WebSocket API hides the HTTP status of a failed upgrade).
   */
  private async _openFailure(): Promise<Error> {
    try {
      await getVersion(this.settings);
    } catch (error) {
      if (error instanceof Error) {
        return new StreamError(error.message, 0, 'not_connected');
      }
    }
    return new StreamError(
      'Cannot open the jupyter-collab stream connection to the Jupyter server.',
      0,
      'not_connected'
    );
  }

  private _dispatch(data: unknown): void {
    let message: StreamMessage;
    try {
      message = JSON.parse(String(data)) as StreamMessage;
    } catch {
      console.warn('jupyter-collab: a stream message is not JSON', data);
      return;
    }
    if (message.id === null || message.id === undefined) {
      console.warn('jupyter-collab: stream error', message);
      return;
    }
    this.handlers.onMessage(message.id, message);
  }

  private _opening: Promise<WebSocket> | null = null;
  private _socket: WebSocket | null = null;
}
