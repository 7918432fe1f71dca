/**
 * Helpers of the browser tests: the wire server's control routes, the files
 * under the server root, and headless runs of saved notebooks.
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { promisify } from 'util';

import { test } from '@jupyterlab/galata';
import type { IJupyterLabPageFixture } from '@jupyterlab/galata';

import {
  ICollabServer,
  Provider,
  ServerName,
  servers,
  wireServerPort
} from '../servers';

/** The Jupyter server of the running test's project. */
export function currentServer(): ICollabServer {
  const use = test.info().project.use as {
    provider?: Provider;
    server?: ServerName | null;
  };
  return servers[use.server ?? use.provider ?? 'anthropic'];
}

/**
 * The wire-level Anthropic server of the running test's server (the
 * `anthropic` one when the project answers with the embedded model).
 */
function wireUrl(): string {
  return `http://127.0.0.1:${currentServer().wirePort ?? wireServerPort}`;
}

/**
 * The folder the running test's server serves (start-server.sh copies
 * ui-tests/notebooks there).
 */
export function serverRoot(): string {
  return currentServer().root;
}

/** The repository root. */
export const repoRoot = path.resolve(__dirname, '..', '..');

export interface IWireRequest {
  method: string;
  path: string;
  status: number | null;
  headers: Record<string, string>;
  body: any;
}

/** The requests the wire server received. */
export async function wireLog(): Promise<IWireRequest[]> {
  const response = await fetch(`${wireUrl()}/_log`);
  return (await response.json()) as IWireRequest[];
}

/** The Messages API calls the wire server received. */
export async function modelCalls(): Promise<IWireRequest[]> {
  return (await wireLog()).filter(r => r.path === '/v1/messages');
}

/** Queue replies (Reply fields of tests/wire/anthropic_server.py). */
export async function wireScript(...replies: object[]): Promise<void> {
  const response = await fetch(`${wireUrl()}/_script`, {
    method: 'POST',
    body: JSON.stringify(replies)
  });
  if (!response.ok) {
    throw new Error(`cannot script the wire server: ${await response.text()}`);
  }
}

export async function wireClear(): Promise<void> {
  await fetch(`${wireUrl()}/_clear`, { method: 'POST' });
}

/** The text of a message's content (a string or text blocks). */
export function contentText(content: any): string {
  if (typeof content === 'string') {
    return content;
  }
  return (content ?? []).map((block: any) => block.text ?? '').join('');
}

/** Read a notebook from the server root. */
export function readNotebook(relativePath: string): any {
  return JSON.parse(
    fs.readFileSync(path.join(serverRoot(), relativePath), 'utf-8')
  );
}

/** The collab payloads of a notebook's cells, in order. */
export function collabAnswers(notebook: any): any[] {
  const answers = [];
  for (const cell of notebook.cells) {
    for (const output of cell.outputs ?? []) {
      const payload = output.data?.['application/vnd.jupyter.collab+json'];
      if (payload) {
        answers.push(payload);
      }
    }
  }
  return answers;
}

/**
 * The environment of a headless run with the running test's provider: the
 * wire-level server behind a fake key, or the embedded model and no key.
 */
export function headlessEnv(): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = { ...process.env };
  if (currentServer().provider === 'local') {
    delete env.ANTHROPIC_API_KEY;
    delete env.ANTHROPIC_BASE_URL;
    env.JUPYTER_COLLAB_PROVIDER = 'local';
  } else {
    env.ANTHROPIC_API_KEY = 'fake-key-for-browser-tests';
    env.ANTHROPIC_BASE_URL = wireUrl();
  }
  return env;
}

/**
 * Execute a saved notebook headless (`jupyter nbconvert --execute`) in the
 * given run mode, with the running test's provider; resolves with the
 * executed notebook.
 */
export async function executeHeadless(
  relativePath: string,
  mode: string,
  env: Record<string, string> = {}
): Promise<any> {
  const input = path.join(serverRoot(), relativePath);
  const output = input.replace(/\.ipynb$/, `.${mode}.ipynb`);
  await promisify(execFile)(
    'jupyter',
    [
      'nbconvert',
      '--to',
      'notebook',
      '--execute',
      '--output',
      path.basename(output),
      input
    ],
    {
      cwd: path.dirname(input),
      env: {
        ...headlessEnv(),
        JUPYTER_COLLAB_MODE: mode,
        ...env
      },
      timeout: 240_000
    }
  );
  return JSON.parse(fs.readFileSync(output, 'utf-8'));
}

/** Run a command of the application. */
export async function execute(
  page: IJupyterLabPageFixture,
  command: string,
  args: object = {}
): Promise<void> {
  await page.evaluate(
    ({ command, args }) =>
      window.jupyterapp.commands.execute(command, args as any),
    { command, args }
  );
}

/** Where screenshots are kept for people to look at. */
export const screenshotDir = path.resolve(
  __dirname,
  '..',
  'test-results',
  'screenshots'
);
