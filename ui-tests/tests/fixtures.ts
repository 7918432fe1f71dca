/**
 * Galata's `test` with the option that says which model provider the
 * project's JupyterLab uses (set per project in playwright.config.ts).
 */
import { test as base } from '@jupyterlab/galata';

import type { Provider } from '../servers';

export { expect } from '@jupyterlab/galata';

export interface ICollabOptions {
  /**
   * The provider of the JupyterLab under test: `anthropic` (the wire-level
   * server) or `local` (the embedded SmolLM2 model).
   */
  provider: Provider;
}

export const test = base.extend<ICollabOptions>({
  provider: ['anthropic', { option: true }]
});
