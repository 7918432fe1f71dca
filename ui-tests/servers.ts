/**
 * The Jupyter servers the browser tests run against, shared by
 * playwright.config.ts (which starts them with start-server.sh) and the tests
 * (which read their files and script their wire-level servers).
 *
 * - `anthropic`: JupyterLab with the wire-level Anthropic server (tests/wire)
 *   behind the real SDK; its request log is at `GET /_log`.
 * - `local`: JupyterLab with the embedded SmolLM2 model run by
 *   llama-cpp-python on the CPU.
 * - `notebook`: Notebook 7 (`jupyter notebook`) with a wire-level Anthropic
 *   server of its own.
 * - `rtc`: JupyterLab with real-time collaboration (jupyter-collaboration)
 *   enabled for it alone, with a wire-level Anthropic server of its own.
 */
import * as os from 'os';
import * as path from 'path';

export type Provider = 'anthropic' | 'local';

/** The front end a server serves: JupyterLab or Notebook 7. */
export type App = 'lab' | 'notebook';

export type ServerName = 'anthropic' | 'local' | 'notebook' | 'rtc';

export interface ICollabServer {
  provider: Provider;
  app: App;
  /** The Jupyter server's port on 127.0.0.1. */
  port: string;
  /** The folder it serves (a fresh copy of ui-tests/notebooks). */
  root: string;
  /** The port of its wire-level Anthropic server, or `null` (embedded model). */
  wirePort: string | null;
}

function rootFor(port: string, override?: string): string {
  return override ?? path.join(os.tmpdir(), `jupyter-collab-ui-${port}`);
}

const env = process.env;
const labPort = env.COLLAB_UI_PORT ?? '8866';
const localPort = env.COLLAB_UI_LOCAL_PORT ?? '8868';
const notebookPort = env.COLLAB_UI_NOTEBOOK_PORT ?? '8869';
const rtcPort = env.COLLAB_UI_RTC_PORT ?? '8871';

export const token = env.COLLAB_UI_TOKEN ?? 'collab-ui-test-token';

/** The wire-level Anthropic server's port of the `anthropic` server. */
export const wireServerPort = env.COLLAB_WIRE_PORT ?? '8867';

/** The wire-level Anthropic server's port of the `notebook` server. */
export const notebookWirePort = env.COLLAB_NOTEBOOK_WIRE_PORT ?? '8870';

/** The wire-level Anthropic server's port of the `rtc` server. */
export const rtcWireServerPort = env.COLLAB_RTC_WIRE_PORT ?? '8872';

export const servers: Record<ServerName, ICollabServer> = {
  anthropic: {
    provider: 'anthropic',
    app: 'lab',
    port: labPort,
    root: rootFor(labPort, env.COLLAB_UI_ROOT),
    wirePort: wireServerPort
  },
  local: {
    provider: 'local',
    app: 'lab',
    port: localPort,
    root: rootFor(localPort, env.COLLAB_UI_LOCAL_ROOT),
    wirePort: null
  },
  notebook: {
    provider: 'anthropic',
    app: 'notebook',
    port: notebookPort,
    root: rootFor(notebookPort, env.COLLAB_UI_NOTEBOOK_ROOT),
    wirePort: notebookWirePort
  },
  rtc: {
    provider: 'anthropic',
    app: 'lab',
    port: rtcPort,
    root: rootFor(rtcPort, env.COLLAB_UI_RTC_ROOT),
    wirePort: rtcWireServerPort
  }
};

/** The real-time collaboration server (rtc.spec.ts). */
export const rtcServer = servers.rtc;
