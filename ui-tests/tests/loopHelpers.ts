/**
 * Helpers of the feedback-loop browser tests (loop*.spec.ts): selecting a
 * span of a rendered answer, scripting the loop's structured model replies,
 * and reading the context file and the saved notebook.
 */
import * as fs from 'fs';
import * as path from 'path';

import type { IJupyterLabPageFixture } from '@jupyterlab/galata';

import { serverRoot, wireScript } from './helpers';

/**
 * Select `text` inside the rendered answer of the `nth` collaborator answer.
 */
export async function selectInAnswer(
  page: IJupyterLabPageFixture,
  text: string,
  nth = 0
): Promise<void> {
  await page.evaluate(
    ({ text, nth }) => {
      const answer = document.querySelectorAll('.jp-collab-answer')[nth];
      const walker = document.createTreeWalker(answer, NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const at = (node as Text).data.indexOf(text);
        if (at >= 0) {
          const range = document.createRange();
          range.setStart(node, at);
          range.setEnd(node, at + text.length);
          const selection = window.getSelection()!;
          selection.removeAllRanges();
          selection.addRange(range);
          return;
        }
      }
      throw new Error(`"${text}" is not in answer ${nth}`);
    },
    { text, nth }
  );
}

/**
 * Queue a structured (JSON) reply of the next model call.
 */
export function scriptJSON(value: object): Promise<void> {
  return wireScript({ kind: 'text', answer: JSON.stringify(value), chunks: 2 });
}

export const SUGGESTIONS = {
  suggestions: [
    {
      operation: 'replace',
      text: 'Amodei et al., 2016',
      why: 'The paper is by Amodei et al. (2016), not Smith et al.'
    },
    { operation: 'comment', text: 'Citation unverified', why: 'Flag it.' }
  ]
};

export const AMENDMENTS = {
  amendments: [
    {
      kind: 'fact',
      text: 'Concrete Problems in AI Safety (2016) is by Amodei, Olah, Steinhardt, Christiano, Schulman and Mané.',
      rationale: 'The citation was wrong.',
      duplicates: [],
      contradicts: []
    },
    {
      kind: 'process',
      text: 'Only cite papers you can name exactly; say when unsure.',
      rationale: 'Prevents invented citations.',
      duplicates: [],
      contradicts: []
    }
  ]
};

export const PROBES = {
  should_change: ['Who wrote Concrete Problems in AI Safety?'],
  should_not_change: ['What is 2 + 2?']
};

/**
 * Copy a fixture notebook of ui-tests/notebooks into a test's folder; with
 * `sidecar`, also write the fixture's embedded context as its context file;
 * without `embedded`, the embedded copy is dropped. Returns the notebook's
 * path (relative to the server root).
 */
export function prepareNotebook(
  folder: string,
  name: string,
  options: { fixture?: string; sidecar?: boolean; embedded?: boolean } = {}
): string {
  const source = path.join(
    serverRoot(),
    options.fixture ?? 'loop-citation.ipynb'
  );
  const notebook = JSON.parse(fs.readFileSync(source, 'utf-8'));
  const context = notebook.metadata.jupyter_collab?.context;
  if (!options.embedded) {
    delete notebook.metadata.jupyter_collab;
  }
  // Trust is by content: a notebook another test signed must not be trusted here.
  notebook.metadata.collab_test = `${folder}/${name} ${Date.now()} ${Math.random()}`;
  fs.mkdirSync(path.join(serverRoot(), folder), { recursive: true });
  const relative = `${folder}/${name}`;
  fs.writeFileSync(
    path.join(serverRoot(), relative),
    JSON.stringify(notebook, null, 1)
  );
  if (options.sidecar && context) {
    writeSidecar(relative, context);
  }
  return relative;
}

export function sidecarOf(notebook: string): string {
  return notebook.replace(/\.ipynb$/, '.collab.json');
}

/**
 * The context of a notebook as stored (path relative to the server root), or
 * `null`: its context file with the evidence files it names read back in
 * (each amendment's provenance, preview, history and check; the highlights and
 * corrections), the whole context the server's API returns.
 */
export function readSidecar(notebook: string): any {
  return readContextFile(path.join(serverRoot(), sidecarOf(notebook)));
}

/**
 * A context file (a notebook's, or a layer's) with the evidence files it names
 * read back in, or `null` when there is no such file.
 */
export function readContextFile(file: string): any {
  if (!fs.existsSync(file)) {
    return null;
  }
  const context = JSON.parse(fs.readFileSync(file, 'utf-8'));
  if (!context.evidence) {
    return context;
  }
  const folder = file.replace(/\.json$/, '.evidence');
  const evidence: Record<string, any> = {};
  context.highlights = [];
  context.corrections = [];
  for (const ref of context.evidence) {
    const part = JSON.parse(
      fs.readFileSync(path.join(folder, ref.file), 'utf-8')
    );
    Object.assign(evidence, part.amendments);
    context.highlights.push(...part.highlights);
    context.corrections.push(...part.corrections);
  }
  for (const amendment of context.amendments) {
    Object.assign(
      amendment,
      { provenance: {}, preview: [], history: [] },
      evidence[amendment.id] ?? {}
    );
  }
  delete context.evidence;
  return context;
}

/**
 * Write a notebook's context file (what the command line or git would do).
 */
export function writeSidecar(notebook: string, context: any): void {
  fs.writeFileSync(
    path.join(serverRoot(), sidecarOf(notebook)),
    JSON.stringify(context, null, 2)
  );
}

/**
 * Open the context panel (right sidebar).
 */
export async function openContextPanel(
  page: IJupyterLabPageFixture
): Promise<void> {
  await page.evaluate(() =>
    window.jupyterapp.commands.execute('jupyter-collab:open-context-panel')
  );
  await page.locator('#jupyter-collab-context').waitFor({ state: 'visible' });
}
