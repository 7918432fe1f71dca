/**
 * Browser tests in Debian's Chromium (never Playwright's own download)
 * against a real JupyterLab and the wire-level Anthropic server, both started
 * by start-server.sh.
 */
import * as os from 'os';
import * as path from 'path';

import baseConfig from '@jupyterlab/galata/lib/playwright-config';
import { defineConfig } from '@playwright/test';

const port = process.env.COLLAB_UI_PORT ?? '8866';
const wirePort = process.env.COLLAB_WIRE_PORT ?? '8867';
const token = process.env.COLLAB_UI_TOKEN ?? 'collab-ui-test-token';
const root =
  process.env.COLLAB_UI_ROOT ??
  path.join(os.tmpdir(), `jupyter-collab-ui-${port}`);

// Read by the tests (the same process tree) and by start-server.sh.
process.env.COLLAB_UI_PORT = port;
process.env.COLLAB_WIRE_PORT = wirePort;
process.env.COLLAB_UI_TOKEN = token;
process.env.COLLAB_UI_ROOT = root;

export default defineConfig({
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
    baseURL: `http://127.0.0.1:${port}`,
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
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure'
  },
  webServer: {
    command: './start-server.sh',
    url: `http://127.0.0.1:${port}/api/status?token=${token}`,
    timeout: 120_000,
    reuseExistingServer: false,
    stdout: 'ignore',
    stderr: 'pipe',
    gracefulShutdown: { signal: 'SIGTERM', timeout: 5_000 }
  }
});
