/**
 * Galata's `test` with the options that say which model provider and which
 * server a project runs against (set per project in playwright.config.ts).
 */
import { test as base } from '@jupyterlab/galata';

import type { Provider, ServerName } from '../servers';

export { expect } from '@jupyterlab/galata';

export interface ICollabOptions {
  /**
   * The provider of the JupyterLab under test: `anthropic` (the wire-level
   * server) or `local` (the embedded SmolLM2 model).
   */
  provider: Provider;
  /**
   * The server of servers.ts the project runs against, when it is not the
   * provider's JupyterLab (`notebook`: Notebook 7).
   */
  server: ServerName | null;
}

export const test = base.extend<ICollabOptions>({
  provider: ['anthropic', { option: true }],
  server: [null, { option: true }]
});
