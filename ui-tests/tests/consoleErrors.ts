/**
 * The errors and warnings a page logs, told apart by where they come from:
 * the extension's own (its message names jupyter-collab, or its source or
 * stack is one of the extension's files or routes) or the host application's.
 */
import type { Page } from '@playwright/test';

/**
 * In the paths of the extension's code (`…/lab/extensions/jupyter-collab/…`)
 * and of its server routes (`…/jupyter-collab/…`).
 */
const EXTENSION_PATH = '/jupyter-collab/';

/** What the extension's messages start with. */
const EXTENSION_PREFIX = 'jupyter-collab';

export interface IPageProblem {
  kind: 'console.error' | 'console.warning' | 'uncaught';
  text: string;
  /** The script that logged it, or the stack of an uncaught error. */
  source: string;
}

export class PageProblems {
  constructor(page: Page) {
    page.on('console', message => {
      const type = message.type();
      if (type === 'error' || type === 'warning') {
        this._all.push({
          kind: type === 'error' ? 'console.error' : 'console.warning',
          text: message.text(),
          source: message.location().url
        });
      }
    });
    page.on('pageerror', error => {
      this._all.push({
        kind: 'uncaught',
        text: error.message,
        source: error.stack ?? ''
      });
    });
  }

  /** The problems that come from the extension. */
  fromExtension(): IPageProblem[] {
    return this._all.filter(isExtensions);
  }

  /** The host application's own errors (its warnings are left out). */
  hostErrors(): IPageProblem[] {
    return this._all.filter(
      problem => !isExtensions(problem) && problem.kind !== 'console.warning'
    );
  }

  private _all: IPageProblem[] = [];
}

function isExtensions(problem: IPageProblem): boolean {
  return (
    problem.text.includes(EXTENSION_PREFIX) ||
    problem.source.includes(EXTENSION_PATH)
  );
}
