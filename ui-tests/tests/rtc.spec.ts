/**
 * Real-time collaboration (jupyter-collaboration): two users, each in their
 * own browser context (own cookie, so their own Jupyter identity), on one
 * notebook of a JupyterLab with collaboration enabled (the `rtc` project's
 * server; see servers.ts).
 *
 * (a) an answer streamed for one user appears once for both: only the page
 *     that ran the cell writes it, into the shared document;
 * (b) a highlight finalized by one user appears on the other's answer, and a
 *     context-panel edit by one shows in the other's panel;
 * (c) two users finalizing on one context keep both amendments: the second
 *     is refused as stale (409), sent again on the newer context, and the
 *     user is told;
 * (d) nothing of that diverges the shared document or loses cells: a cell
 *     user B typed survives user A's finalize, on both pages and on disk.
 */
import { expect, test } from '@jupyterlab/galata';
import type { Browser, BrowserContext, Page } from '@playwright/test';
import * as fs from 'fs';
import * as path from 'path';

import { rtcServer, rtcWireServerPort, token } from '../servers';
import { collabAnswers, screenshotDir } from './helpers';
import {
  AMENDMENTS,
  PROBES,
  readContextFile,
  SUGGESTIONS
} from './loopHelpers';

const wireUrl = `http://127.0.0.1:${rtcWireServerPort}`;
const NOTEBOOK = 'rtc/shared.ipynb';
const COLLAB_MIME = 'application/vnd.jupyter.collab+json';

const ANSWER =
  'The results are best summarized in *Concrete Problems in AI Safety* ' +
  '(Smith et al., 2019), which lists five problems. A second source is the ' +
  'survey by Jones (2021) on specification gaming.';

const RULE_A = 'Concrete Problems in AI Safety (2016) is by Amodei et al.';
const RULE_B = 'Say when a citation is uncertain.';
const TYPED_BY_B = '# typed by user B while A finalizes\ny = 2 * 21';

function shot(name: string): { path: string } {
  return { path: path.join(screenshotDir, `rtc-${name}.png`) };
}

async function wire(route: string, body?: object): Promise<any> {
  const response = await fetch(`${wireUrl}${route}`, {
    method: body === undefined ? 'GET' : 'POST',
    body: body === undefined ? undefined : JSON.stringify(body)
  });
  if (!response.ok) {
    throw new Error(`wire ${route}: ${await response.text()}`);
  }
  return route === '/_log' ? response.json() : null;
}

const scriptJSON = (value: object) =>
  wire('/_script', [
    { kind: 'text', answer: JSON.stringify(value), chunks: 2 }
  ]);

async function modelCallCount(): Promise<number> {
  const log = (await wire('/_log')) as { path: string }[];
  return log.filter(request => request.path === '/v1/messages').length;
}

function serverFile(relative: string): string {
  return path.join(rtcServer.root, relative);
}

function readJSON(relative: string): any {
  return JSON.parse(fs.readFileSync(serverFile(relative), 'utf-8'));
}

/** A fresh copy of the citation notebook, with no context yet. */
function prepareNotebook(): void {
  const notebook = JSON.parse(
    fs.readFileSync(
      path.join(__dirname, '..', 'notebooks', 'loop-citation.ipynb'),
      'utf-8'
    )
  );
  delete notebook.metadata.jupyter_collab;
  fs.mkdirSync(serverFile('rtc'), { recursive: true });
  fs.rmSync(serverFile('rtc/shared.collab.json'), { force: true });
  fs.writeFileSync(serverFile(NOTEBOOK), JSON.stringify(notebook, null, 1));
}

/** A user: a browser context of their own, on the shared notebook. */
async function openAsUser(browser: Browser): Promise<[BrowserContext, Page]> {
  const context = await browser.newContext({
    baseURL: `http://127.0.0.1:${rtcServer.port}`,
    extraHTTPHeaders: { Authorization: `token ${token}` },
    viewport: { width: 1280, height: 800 }
  });
  const page = await context.newPage();
  await page.goto(`/lab/tree/${NOTEBOOK}?token=${token}`);
  await page
    .locator('.jp-NotebookPanel .jp-collab-answer')
    .first()
    .waitFor({ timeout: 60_000 });
  return [context, page];
}

const cells = (page: Page) =>
  page.locator('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell');

/** What a page's shared notebook model holds: each cell's source and outputs. */
function sharedCells(
  page: Page
): Promise<{ source: string; outputs: any[] }[]> {
  return page.evaluate(() => {
    const panel = (window as any).jupyterapp.shell.currentWidget;
    return panel.model.sharedModel.cells.map((cell: any) => ({
      source: cell.getSource(),
      outputs: cell.cell_type === 'code' ? cell.getOutputs() : []
    }));
  });
}

async function username(page: Page): Promise<string> {
  return page.evaluate(async () => {
    const user = (window as any).jupyterapp.serviceManager.user;
    await user.ready;
    return user.identity.username;
  });
}

async function selectInAnswer(page: Page, text: string): Promise<void> {
  await page.evaluate(text => {
    const answer = document.querySelector('.jp-collab-answer')!;
    const walker = document.createTreeWalker(answer, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const at = (node as Text).data.indexOf(text);
      if (at >= 0) {
        const range = document.createRange();
        range.setStart(node, at);
        range.setEnd(node, at + text.length);
        window.getSelection()!.removeAllRanges();
        window.getSelection()!.addRange(range);
        return;
      }
    }
    throw new Error(`"${text}" is not in the answer`);
  }, text);
}

/**
 * Highlight `span`, pick the first suggestion, write `amendment` over the
 * second candidate and preview it: the page is left with the preview ready
 * to finalize. The wire server's replies are queued one user at a time.
 */
async function previewAmendment(
  page: Page,
  span: string,
  amendment: string
): Promise<void> {
  // Leave a cell editor first: the shortcut is the notebook's, not the editor's.
  await page.keyboard.press('Escape');
  await selectInAnswer(page, span);
  await scriptJSON(SUGGESTIONS);
  await page.keyboard.press('Control+Alt+f');
  const popover = page.locator('.jp-collab-popover');
  await expect(popover.locator('.jp-collab-choice')).toHaveCount(2);
  await scriptJSON(AMENDMENTS);
  await popover.locator('.jp-collab-choice').first().click();
  await expect(popover.locator('.jp-collab-candidate')).toHaveCount(3);
  await popover.locator('.jp-collab-candidate textarea').nth(1).focus();
  await page.keyboard.press('Control+a');
  await page.keyboard.type(amendment);
  await scriptJSON(PROBES);
  await page.keyboard.press('Control+Enter');
  await expect(
    page.locator('.jp-collab-preview .jp-collab-finalize')
  ).toBeEnabled({ timeout: 60_000 });
}

async function openContextPanel(page: Page): Promise<void> {
  await page.evaluate(() =>
    (window as any).jupyterapp.commands.execute(
      'jupyter-collab:open-context-panel'
    )
  );
  await page.locator('#jupyter-collab-context').waitFor({ state: 'visible' });
}

test.use({ kernels: null, sessions: null });

test('two users on one notebook: one answer, shared highlights and context, no lost amendment or cell', async ({
  browser
}) => {
  prepareNotebook();
  await wire('/_clear', {});
  const [contextA, a] = await openAsUser(browser);
  const [contextB, b] = await openAsUser(browser);
  try {
    // Two identities, one shared document (the collaboration extension's).
    const [userA, userB] = [await username(a), await username(b)];
    expect(userA).not.toBe(userB);
    expect(
      await a.evaluate(() =>
        Boolean(
          (window as any).jupyterapp.shell.currentWidget.context.model
            .collaborative
        )
      )
    ).toBe(true);

    // (a) A runs the first collaborator cell; the answer streams into the
    // shared document once, and B sees the same single output.
    const callsBefore = await modelCallCount();
    await wire('/_script', [
      { kind: 'text', answer: ANSWER, chunks: 30, delta_delay: 0.25 }
    ]);
    await cells(a).first().locator('.jp-InputPrompt').click();
    await a.keyboard.press('Shift+Enter');
    const answerB = cells(b).first().locator('.jp-collab-answer');
    // B sees the answer arrive, without a cancel button: the run is A's.
    await expect(
      cells(b).first().locator('.jp-collab-mod-elsewhere')
    ).toContainText('Still arriving from the page that ran this cell', {
      timeout: 30_000
    });
    await expect(
      cells(a).first().locator('.jp-collab-mod-streaming')
    ).toBeVisible();
    await expect(answerB).toContainText('Concrete Problems', {
      timeout: 30_000
    });
    await expect(cells(a).first().locator('.jp-collab-cancel')).toBeVisible();
    await expect(cells(b).first().locator('.jp-collab-cancel')).toHaveCount(0);
    // B running the same cell meanwhile would make two writers of one
    // answer: B is asked, and waits for A's.
    await cells(b).first().locator('.jp-InputPrompt').click();
    await b.keyboard.press('Shift+Enter');
    const dialog = b.locator('.jp-Dialog');
    await expect(dialog).toContainText(
      'Another collaborator is running this cell'
    );
    await b.screenshot(shot('1-b-asked-while-a-streams'));
    await dialog
      .locator('button', { hasText: 'Wait for their answer' })
      .click();
    await expect(cells(a).first().locator('.jp-collab-answer')).toContainText(
      'on specification gaming.',
      { timeout: 30_000 }
    );
    await expect(answerB).toContainText('on specification gaming.');
    await expect
      .poll(async () =>
        (await sharedCells(b))[0].outputs.map(
          o => o.data?.[COLLAB_MIME]?.result?.answer
        )
      )
      .toEqual([ANSWER]);
    expect((await sharedCells(a))[0].outputs).toEqual(
      (await sharedCells(b))[0].outputs
    );
    await expect(cells(b).first().locator('.jp-OutputArea-output')).toHaveCount(
      1
    );
    expect(await modelCallCount()).toBe(callsBefore + 1);
    await b.screenshot(shot('2-answer-seen-by-b'));

    // B types a new cell (it must survive).
    await cells(b).nth(1).locator('.jp-InputPrompt').click();
    await b.keyboard.press('b');
    await expect(cells(b)).toHaveCount(3);
    await cells(b).nth(2).locator('.cm-content').click();
    await b.keyboard.type(TYPED_BY_B);
    await expect(cells(a)).toHaveCount(3);
    await expect(cells(a).nth(2)).toContainText('typed by user B');

    // (b)+(c) Both prepare an amendment on the same context (revision 0);
    // A finalizes first, then B: B's finalize is refused as stale, sent
    // again on the newer context, and B is told.
    await previewAmendment(a, 'Smith et al., 2019', RULE_A);
    await previewAmendment(b, 'Jones (2021)', RULE_B);
    await a.locator('.jp-collab-preview .jp-collab-finalize').click();
    await expect(a.locator('.jp-collab-mark')).toHaveText([
      'Smith et al., 2019'
    ]);
    // A's highlight reaches B's answer through the shared document.
    await expect(b.locator('.jp-collab-answer .jp-collab-mark')).toHaveText(
      ['Smith et al., 2019'],
      { timeout: 15_000 }
    );
    await b.screenshot(shot('3-a-finalized-seen-by-b'));

    await b.locator('.jp-collab-preview .jp-collab-finalize').click();
    await expect(
      b
        .getByText(
          /Someone else changed the context meanwhile \(revision 0 → 1\)/
        )
        .first()
    ).toBeVisible();
    await expect(b.locator('.jp-collab-answer .jp-collab-mark')).toHaveText([
      'Smith et al., 2019',
      'Jones (2021)'
    ]);
    await expect(a.locator('.jp-collab-answer .jp-collab-mark')).toHaveText(
      ['Smith et al., 2019', 'Jones (2021)'],
      { timeout: 15_000 }
    );
    await b.screenshot(shot('4-b-finalized-after-merge'));
    const sidecar = readContextFile(serverFile('rtc/shared.collab.json'));
    expect(sidecar.amendments.map((entry: any) => entry.text)).toEqual([
      RULE_A,
      RULE_B
    ]);
    expect(sidecar.revision).toBe(2);
    expect(
      sidecar.highlights.map((entry: any) => entry.quote.exact).sort()
    ).toEqual(['Jones (2021)', 'Smith et al., 2019']);

    // (b) Both context panels list both amendments; an edit in A's panel
    // (disable B's rule) shows in B's, which watches the context file.
    await openContextPanel(b);
    const panelB = b.locator('#jupyter-collab-context');
    await expect(panelB.locator('.jp-collab-entry-text')).toHaveText([
      RULE_A,
      RULE_B
    ]);
    await openContextPanel(a);
    const panelA = a.locator('#jupyter-collab-context');
    const ruleA = panelA
      .locator('.jp-collab-entry')
      .filter({ hasText: RULE_B });
    await ruleA.locator('.jp-collab-toggle').click();
    await expect(ruleA).toHaveClass(/jp-mod-disabled/);
    await expect(
      panelB.locator('.jp-collab-entry').filter({ hasText: RULE_B })
    ).toHaveClass(/jp-mod-disabled/, { timeout: 15_000 });
    await a.screenshot(shot('5-panel-edit-by-a'));
    await b.screenshot(shot('6-panel-edit-seen-by-b'));

    // (d) One document: both pages hold the same cells, B's typed cell
    // included, and the file the collaboration extension saves has it too,
    // with the single answer and both highlights.
    const cellsA = await sharedCells(a);
    expect(cellsA).toEqual(await sharedCells(b));
    expect(cellsA.map(cell => cell.source)[2]).toBe(TYPED_BY_B);
    await expect
      .poll(
        () => {
          const saved = readJSON(NOTEBOOK);
          const answers = collabAnswers(saved);
          return {
            cells: saved.cells.length,
            typed: [saved.cells[2]?.source ?? ''].flat().join(''),
            highlights: answers[0]?.highlights?.length
          };
        },
        { timeout: 20_000 }
      )
      .toEqual({ cells: 3, typed: TYPED_BY_B, highlights: 2 });
    const saved = readJSON(NOTEBOOK);
    expect(saved.cells[0].outputs).toHaveLength(1);
    expect(saved.cells[0].outputs[0].data[COLLAB_MIME].result.answer).toBe(
      ANSWER
    );
  } finally {
    await contextA.close();
    await contextB.close();
  }
});
