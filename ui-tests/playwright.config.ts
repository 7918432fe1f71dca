/**
 * Browser tests in Debian's Chromium (never Playwright's own download)
 * against real Jupyter servers started by start-server.sh (servers.ts):
 *
 * - project `wire`: every JupyterLab spec, against a JupyterLab whose server
 *   extension talks to the wire-level Anthropic server (tests/wire) through
 *   the SDK;
 * - project `embedded`: the end-to-end scenario (endToEnd.spec.ts) again,
 *   against a JupyterLab answering with the embedded SmolLM2 model on the CPU;
 * - project `notebook7`: notebook7.spec.ts, against Notebook 7
 *   (`jupyter notebook`) with a wire-level Anthropic server of its own;
 * - project `rtc`: rtc.spec.ts, two users in two browser contexts on one
 *   notebook of a JupyterLab with real-time collaboration enabled
 *   (jupyter-collaboration, on for that server only; the others run with
 *   `YDocExtension.disable_rtc`).
 *
 * One project alone: `npx playwright test --project=wire` (or `embedded`,
 * `notebook7`, `rtc`).
 */
import baseConfig from '@jupyterlab/galata/lib/playwright-config';
import { defineConfig } from '@playwright/test';

import {
  notebookWirePort,
  rtcWireServerPort,
  servers,
  token,
  wireServerPort
} from './servers';
import type { ICollabOptions } from './tests/fixtures';

const wire = servers.anthropic;
const local = servers.local;
const notebook = servers.notebook;
const rtc = servers.rtc;

/** The spec that runs against Notebook 7 only. */
const NOTEBOOK7_SPEC = /notebook7\.spec\.ts/;

/** The spec that runs against the real-time collaboration server only. */
const RTC_SPEC = /rtc\.spec\.ts/;

function webServer(server: typeof wire, env: Record<string, string>) {
  return {
    command: './start-server.sh',
    url: `http://127.0.0.1:${server.port}/api/status?token=${token}`,
    env: {
      COLLAB_UI_APP: server.app,
      COLLAB_UI_PROVIDER: server.provider,
      COLLAB_UI_PORT: server.port,
      COLLAB_UI_ROOT: server.root,
      COLLAB_UI_TOKEN: token,
      ...env
    },
    timeout: 120_000,
    reuseExistingServer: false,
    stdout: 'ignore' as const,
    stderr: 'pipe' as const,
    gracefulShutdown: { signal: 'SIGTERM' as const, timeout: 5_000 }
  };
}

export default defineConfig<ICollabOptions>({
  ...baseConfig,
  testDir: './tests',
  outputDir: './test-results',
  timeout: 90_000,
  expect: { timeout: 15_000 },
  retries: 0,
  workers: 1,
  reporter: [['list']],
  use: {
    ...baseConfig.use,
    extraHTTPHeaders: { Authorization: `token ${token}` },
    headless: true,
    launchOptions: {
      executablePath: '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run'
      ]
    },
    video: 'off',
    // Failures keep a screenshot and a trace in test-results/<test>-<project>/.
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure'
  },
  projects: [
    {
      name: 'wire',
      testIgnore: [NOTEBOOK7_SPEC, RTC_SPEC],
      use: {
        provider: 'anthropic',
        baseURL: `http://127.0.0.1:${wire.port}`
      }
    },
    {
      name: 'embedded',
      testMatch: /endToEnd\.spec\.ts/,
      // A real (small) model on two CPU cores: the scenario sets its own,
      // longer timeouts for the steps that wait for the model.
      timeout: 8 * 60_000,
      use: {
        provider: 'local',
        baseURL: `http://127.0.0.1:${local.port}`
      }
    },
    {
      name: 'notebook7',
      testMatch: NOTEBOOK7_SPEC,
      use: {
        provider: 'anthropic',
        server: 'notebook',
        baseURL: `http://127.0.0.1:${notebook.port}`
      }
    },
    {
      name: 'rtc',
      testMatch: RTC_SPEC,
      timeout: 4 * 60_000,
      use: {
        provider: 'anthropic',
        server: 'rtc',
        baseURL: `http://127.0.0.1:${rtc.port}`
      }
    }
  ],
  webServer: [
    webServer(wire, { COLLAB_WIRE_PORT: wireServerPort }),
    webServer(local, {}),
    webServer(notebook, { COLLAB_WIRE_PORT: notebookWirePort }),
    webServer(rtc, {
      COLLAB_WIRE_PORT: rtcWireServerPort,
      COLLAB_UI_RTC: '1'
    })
  ]
});
