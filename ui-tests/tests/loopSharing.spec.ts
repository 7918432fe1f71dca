/**
 * Sharing the context inside the notebook: an untrusted notebook's embedded
 * context is reviewed before it applies; a trusted one is restored.
 */
import { expect, test } from '@jupyterlab/galata';
import { execFile } from 'child_process';
import * as path from 'path';
import { promisify } from 'util';

import { modelCalls, screenshotDir, serverRoot } from './helpers';
import { openContextPanel, prepareNotebook, readSidecar } from './loopHelpers';

const PROCESS_RULE =
  'Ask one clarifying question before writing a long report.';

function shot(name: string): { path: string } {
  return { path: path.join(screenshotDir, `loop-sharing-${name}.png`) };
}

test('untrusted notebook: the embedded context is reviewed, then applied', async ({
  page,
  tmpPath
}) => {
  const name = prepareNotebook(tmpPath, 'shared.ipynb', {
    fixture: 'loop-shared.ipynb',
    embedded: true
  });
  await page.notebook.openByPath(name);
  const dialog = page.locator('.jp-Dialog');
  await expect(dialog).toContainText('Review the notebook’s AI context');
  await expect(dialog.locator('.jp-collab-review-entry')).toHaveCount(2);
  await expect(dialog).toContainText(PROCESS_RULE);
  await page.screenshot(shot('1-review'));

  // Not now: nothing is applied, and a call does not carry the entries.
  await dialog.locator('button', { hasText: 'Not now' }).click();
  expect(readSidecar(name)).toBeNull();
  await openContextPanel(page);
  const panel = page.locator('#jupyter-collab-context');
  await expect(panel.locator('.jp-collab-review-banner')).toBeVisible();
  await expect(panel.locator('.jp-collab-entry')).toHaveCount(0);
  const before = (await modelCalls()).length;
  await page.notebook.selectCells(1);
  await page.keyboard.press('Shift+Enter');
  await expect(page.locator('.jp-collab-answer')).toHaveCount(2, {
    timeout: 30_000
  });
  await expect
    .poll(async () => (await modelCalls()).length, { timeout: 30_000 })
    .toBeGreaterThan(before);
  const call = (await modelCalls()).slice(before).pop()!;
  expect(JSON.stringify(call.body.system)).not.toContain(PROCESS_RULE);
  await page.screenshot(shot('2-not-applied'));

  // Review from the panel and accept: the context file is written.
  await panel.locator('.jp-collab-review-banner button').click();
  await dialog.locator('button', { hasText: 'Apply context' }).click();
  await expect(panel.locator('.jp-collab-entry')).toHaveCount(2);
  await expect(panel.locator('.jp-collab-review-banner')).toHaveCount(0);
  const sidecar = readSidecar(name);
  expect(sidecar.amendments.map((a: any) => a.text)).toContain(PROCESS_RULE);
  await page.screenshot(shot('3-applied'));
});

test('trusted notebook without a context file: restored from the notebook', async ({
  page,
  tmpPath
}) => {
  const name = prepareNotebook(tmpPath, 'trusted.ipynb', {
    fixture: 'loop-shared.ipynb',
    embedded: true
  });
  await promisify(execFile)('jupyter', [
    'trust',
    path.join(serverRoot(), name)
  ]);
  await page.notebook.openByPath(name);
  await openContextPanel(page);
  const panel = page.locator('#jupyter-collab-context');
  await expect(panel.locator('.jp-collab-entry')).toHaveCount(2);
  await expect(page.locator('.jp-Dialog')).toHaveCount(0);
  expect(readSidecar(name).amendments).toHaveLength(2);
  await page.screenshot(shot('4-restored'));
});
