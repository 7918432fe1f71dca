/**
 * The JupyterLab servers the browser tests run against, one per model
 * provider, shared by playwright.config.ts (which starts them with
 * start-server.sh) and the tests (which read their files).
 *
 * - `anthropic`: the wire-level Anthropic server (tests/wire) behind the real
 *   SDK; its request log is at `GET /_log`.
 * - `local`: the embedded SmolLM2 model run by llama-cpp-python on the CPU.
 *
 * And `rtcServer`: a third JupyterLab, with real-time collaboration
 * (jupyter-collaboration) enabled for it alone, answering through its own
 * wire-level Anthropic server (`rtcWireServerPort`).
 */
import * as os from 'os';
import * as path from 'path';

export type Provider = 'anthropic' | 'local';

export interface ICollabServer {
  provider: Provider;
  /** JupyterLab's port on 127.0.0.1. */
  port: string;
  /** The folder JupyterLab serves (a fresh copy of ui-tests/notebooks). */
  root: string;
}

function rootFor(port: string, override?: string): string {
  return override ?? path.join(os.tmpdir(), `jupyter-collab-ui-${port}`);
}

const wirePort = process.env.COLLAB_UI_PORT ?? '8866';
const localPort = process.env.COLLAB_UI_LOCAL_PORT ?? '8868';

export const token = process.env.COLLAB_UI_TOKEN ?? 'collab-ui-test-token';

/** The wire-level Anthropic server's port. */
export const wireServerPort = process.env.COLLAB_WIRE_PORT ?? '8867';

export const servers: Record<Provider, ICollabServer> = {
  anthropic: {
    provider: 'anthropic',
    port: wirePort,
    root: rootFor(wirePort, process.env.COLLAB_UI_ROOT)
  },
  local: {
    provider: 'local',
    port: localPort,
    root: rootFor(localPort, process.env.COLLAB_UI_LOCAL_ROOT)
  }
};

const rtcPort = process.env.COLLAB_UI_RTC_PORT ?? '8869';

/** The real-time collaboration server's own wire-level Anthropic server. */
export const rtcWireServerPort = process.env.COLLAB_RTC_WIRE_PORT ?? '8870';

export const rtcServer: ICollabServer = {
  provider: 'anthropic',
  port: rtcPort,
  root: rootFor(rtcPort, process.env.COLLAB_UI_RTC_ROOT)
};
