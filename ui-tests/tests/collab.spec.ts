/**
 * Collaborator cells in a real JupyterLab: insert (toolbar button, shortcut,
 * palette, context menu), run through the server door while the kernel is
 * busy, watch the answer stream in with its usage, cancel with the stop
 * button, read {x} from the kernel, send the earlier turns as history, save,
 * and replay the saved notebook headless with identical answers.
 */
import { expect, test } from '@jupyterlab/galata';
import type { Locator } from '@playwright/test';
import * as fs from 'fs';
import * as path from 'path';

import {
  collabAnswers,
  contentText,
  execute,
  executeHeadless,
  modelCalls,
  readNotebook,
  screenshotDir,
  serverRoot,
  wireClear,
  wireScript
} from './helpers';

const COLLAB_MIME = 'application/vnd.jupyter.collab+json';

const ANSWER =
  'The kernel is **busy** sleeping, so this answer comes from the server door. ' +
  'It streams in word by word, with $x^2$ math and `code`, while the code cell ' +
  'above keeps running: collaborator cells never wait for the kernel.';

/** The busy cell sleeps for 30 s in the browser and not at all headless. */
const BUSY_CODE =
  'import os, time\nx = 6 * 7\ntime.sleep(float(os.environ.get("BUSY_SECONDS", "30")))';

function cells(page: any): Locator {
  return page.locator(
    '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell'
  );
}

/** The n-th collaborator cell of the notebook. */
function collabCell(page: any, index: number): Locator {
  return cells(page).and(page.locator('.jp-collab-cell')).nth(index);
}

/** The code cell that keeps the kernel busy. */
function busyCell(page: any): Locator {
  return cells(page).filter({ hasText: 'time.sleep' });
}

/** Make a cell the active one (command mode). */
async function select(cell: Locator): Promise<void> {
  await cell.locator('.jp-InputPrompt').click();
}

async function screenshot(page: any, name: string): Promise<void> {
  await page.screenshot({ path: path.join(screenshotDir, name) });
}

// Galata's kernel and session tracking parses every POST answer as JSON, which
// breaks on the empty 204 of POST /api/kernels/<id>/interrupt (the stop
// button): use the real APIs unmocked.
test.use({ kernels: null, sessions: null });

test('a collaborator cell streams its answer while the kernel is busy, and replays headless', async ({
  page,
  tmpPath
}) => {
  await wireClear();
  const name = 'busy.ipynb';
  await page.notebook.createNew(name);
  await page.notebook.setCell(0, 'code', BUSY_CODE);

  await test.step('the kernel gets busy', async () => {
    await page.notebook.selectCells(0);
    await page.evaluate(() => {
      void window.jupyterapp.commands.execute('notebook:run-cell');
    });
    await expect(busyCell(page).locator('.jp-InputPrompt')).toHaveText('[*]:');
  });

  await test.step('insert from the notebook toolbar and run', async () => {
    await page
      .locator(
        '.jp-NotebookPanel-toolbar [data-jp-item-name="insert-collaborator-cell"]'
      )
      .click();
    const collab = collabCell(page, 0);
    await expect(collab.locator('.jp-collab-cell-toolbar')).toContainText(
      'Collaborator'
    );
    await expect(collab).toHaveClass(/jp-collab-mod-empty/);
    await screenshot(page, 'collab-inserted.png');
    // The notebook loads the kernel door for headless runs.
    await expect(cells(page).first()).toContainText('%load_ext jupyter_collab');
    await page.keyboard.type('Explain what the kernel is doing.');
    await wireScript({ kind: 'text', answer: ANSWER, delta_delay: 0.12 });
    await page.keyboard.press('Shift+Enter');

    // The answer streams in: part of it is there before all of it.
    const answer = collab.locator('.jp-collab-answer');
    await expect(
      collab.locator('.jp-collab-output.jp-collab-mod-streaming')
    ).toBeVisible();
    await expect(answer).toContainText('The kernel is');
    const partial = (await answer.textContent()) ?? '';
    expect(partial.length).toBeLessThan(ANSWER.length - 40);
    await expect(collab.locator('.jp-collab-cancel')).toBeVisible();
    await screenshot(page, 'collab-streaming.png');

    // Then the final answer, with usage and provenance.
    const footer = collab.locator('.jp-collab-footer');
    await expect(footer).toBeVisible({ timeout: 30_000 });
    await expect(footer.locator('.jp-collab-usage')).toHaveText(
      /^[\d,]+ in \/ [\d,]+ out/
    );
    await expect(footer.locator('.jp-collab-provenance')).toContainText(
      'context r0'
    );
    await expect(answer.locator('strong')).toHaveText('busy');
    await expect(collab.locator('.jp-collab-mod-streaming')).toHaveCount(0);

    // All of that while the code cell above was still running.
    await expect(busyCell(page).locator('.jp-InputPrompt')).toHaveText('[*]:');
  });

  await test.step('look at it in the light and dark themes', async () => {
    await select(collabCell(page, 0));
    await screenshot(page, 'collab-light.png');
    await page.theme.setDarkTheme();
    await screenshot(page, 'collab-dark.png');
    await page.theme.setLightTheme();
  });

  await test.step('the stop button cancels a streaming answer', async () => {
    await select(collabCell(page, 0));
    await page.keyboard.press('q'); // the command-mode shortcut
    const collab = collabCell(page, 1);
    await expect(collab).toBeVisible();
    await page.keyboard.type('Write a very long essay.');
    await wireScript({
      kind: 'text',
      answer: Array.from({ length: 80 }, (_, i) => `word${i}`).join(' '),
      delta_delay: 0.25
    });
    await page.keyboard.press('Shift+Enter');
    await expect(collab.locator('.jp-collab-answer')).toContainText('word2');
    await page
      .locator('.jp-NotebookPanel-toolbar [data-jp-item-name="interrupt"]')
      .click();
    await expect(collab.locator('.jp-collab-status')).toContainText(
      'Cancelled'
    );
    await expect(collab.locator('.jp-collab-answer')).not.toContainText(
      'word79'
    );
    await screenshot(page, 'collab-cancelled.png');
    // The interrupt stopped the sleeping cell as well.
    await expect(busyCell(page).locator('.jp-InputPrompt')).toHaveText('[1]:');

    // A cancelled answer is not stored: remove the cell before replaying.
    await select(collab);
    await execute(page, 'notebook:delete-cell');
    await expect(page.locator('.jp-collab-cell')).toHaveCount(1);
  });

  await test.step('{x} is read from the kernel and earlier turns go along', async () => {
    await select(collabCell(page, 0));
    await execute(page, 'jupyter-collab:insert-cell', {
      prompt: 'Is {x} the answer?'
    });
    const collab = collabCell(page, 1);
    await expect(collab).toBeVisible();
    const before = (await modelCalls()).length;
    await execute(page, 'notebook:run-cell');
    await expect(collab.locator('.jp-collab-footer')).toBeVisible();

    const calls = await modelCalls();
    expect(calls).toHaveLength(before + 1);
    const messages = calls[calls.length - 1].body.messages;
    expect(messages.map((m: any) => m.role)).toEqual([
      'user',
      'assistant',
      'user'
    ]);
    expect(contentText(messages[0].content)).toBe(
      'Explain what the kernel is doing.'
    );
    expect(contentText(messages[1].content)).toBe(ANSWER);
    expect(contentText(messages[2].content)).toBe('Is 42 the answer?');
    await expect(collab.locator('.jp-collab-answer')).toContainText(
      'Is 42 the answer?'
    );
  });

  await test.step('the context menu and the palette offer the command', async () => {
    await busyCell(page).locator('.jp-InputPrompt').click({ button: 'right' });
    await expect(
      page.locator('.lm-Menu-itemLabel', {
        hasText: 'Insert Collaborator Cell'
      })
    ).toBeVisible();
    await page.keyboard.press('Escape');
    await page.keyboard.press('Control+Shift+C');
    await page.keyboard.type('Insert Collaborator');
    await expect(
      page.locator('.lm-CommandPalette-itemLabel', {
        hasText: 'Insert Collaborator Cell'
      })
    ).toBeVisible();
    await page.keyboard.press('Escape');
  });

  await test.step('saved, the notebook replays headless with identical answers', async () => {
    await page.notebook.save();
    const file = `${tmpPath}/${name}`;
    const saved = readNotebook(file);
    const source = (c: any) => [].concat(c.source).join('');
    expect(source(saved.cells[0])).toBe('%load_ext jupyter_collab');
    const collabCells = saved.cells.filter((c: any) =>
      source(c).startsWith('%%collab')
    );
    expect(collabCells).toHaveLength(2);
    for (const c of collabCells) {
      expect(c.metadata.jupyter_collab).toEqual({ role: 'collaborator' });
      expect(c.outputs).toHaveLength(1);
      const [output] = c.outputs;
      expect(output.output_type).toBe('display_data');
      expect(Object.keys(output.data).sort()).toEqual(
        [COLLAB_MIME, 'text/html', 'text/markdown'].sort()
      );
      expect(output.metadata.jupyter_collab.input_hash).toBe(
        output.data[COLLAB_MIME].result.input_hash
      );
    }

    const callsBefore = (await modelCalls()).length;
    const replayed = await executeHeadless(file, 'replay', {
      BUSY_SECONDS: '0'
    });
    expect(collabAnswers(replayed)).toEqual(collabAnswers(saved));
    expect(collabAnswers(replayed).map(a => a.result.answer)).toEqual([
      ANSWER,
      expect.stringContaining('Is 42 the answer?')
    ]);
    // Replay never calls the model.
    expect(await modelCalls()).toHaveLength(callsBefore);
  });
});

test('a failing provider leaves the partial answer and says what to do', async ({
  page
}) => {
  await wireClear();
  await page.notebook.createNew('failure.ipynb');
  await execute(page, 'jupyter-collab:insert-cell', {
    prompt: 'Tell me something.'
  });
  await wireScript({
    kind: 'text',
    answer: 'Partial words before the failure and then more words',
    stream_error_after: 4,
    error_type: 'overloaded_error',
    error_message: 'Overloaded',
    delta_delay: 0.05
  });
  await execute(page, 'notebook:run-cell');

  const collab = collabCell(page, 0);
  await expect(collab.locator('.jp-collab-answer')).toContainText(
    'Partial words before'
  );
  const error = collab.locator(
    '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
  );
  await expect(error).toContainText('ProviderError');
  await expect(error).toContainText('Overloaded');
  await expect(error).toContainText('What to do:');
  await expect(collab.locator('.jp-collab-status')).toContainText('Failed');
  await screenshot(page, 'collab-error.png');
});

test('a stored answer shows its highlights, corrections, usage and math', async ({
  page,
  tmpPath
}) => {
  // An untrusted notebook from elsewhere: the renderer is safe, so it renders.
  fs.copyFileSync(
    path.join(serverRoot(), 'annotated.ipynb'),
    path.join(serverRoot(), tmpPath, 'annotated.ipynb')
  );
  await page.notebook.openByPath(`${tmpPath}/annotated.ipynb`);

  // This extension's executor replaced JupyterLab's (package.json disables it).
  expect(
    await page.evaluate(() => ({
      ours: window.jupyterapp.isPluginActivated('jupyter-collab:cell-executor'),
      core: window.jupyterapp.isPluginActivated(
        '@jupyterlab/notebook-extension:cell-executor'
      )
    }))
  ).toEqual({ ours: true, core: false });
  const collab = collabCell(page, 0);
  const output = collab.locator('.jp-collab-output');
  await expect(output.locator('.jp-collab-footer')).toBeVisible();

  // The quote spans **bold** markdown: it is still found in the rendered text.
  const corrected = output.locator('mark[data-collab-mark="h-fixture-1"]');
  await expect(corrected.first()).toHaveClass(/jp-collab-mod-corrected/);
  await expect(corrected).toHaveText([
    'written by ',
    'Dario Amodei',
    ' and others'
  ]);
  await expect(corrected.first()).toHaveAttribute('title', /Olah, Steinhardt/);
  await expect(
    output.locator('mark[data-collab-mark="h-fixture-2"]')
  ).toHaveText('reward hacking');
  await expect(output.locator('.jp-collab-notes')).toContainText(
    'replace: Amodei, Olah'
  );
  await expect(output.locator('.jp-collab-usage')).toHaveText(
    '1,840 in / 60 out · 1,800 cached'
  );
  await expect(output.locator('.jp-collab-provenance')).toHaveText(
    'claude-sonnet-5-5 · research · context r2'
  );
  await expect(output.locator('pre code')).toContainText('code stays code');
  await expect(output.locator('mjx-container, .MathJax').first()).toBeVisible();

  await screenshot(page, 'collab-annotated-light.png');
  await page.theme.setDarkTheme();
  await screenshot(page, 'collab-annotated-dark.png');
  await page.theme.setLightTheme();
});
