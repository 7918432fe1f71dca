/**
 * The feedback loop in a real JupyterLab (Chromium) against the wire-level
 * Anthropic server: highlight → correct → amend → preview → finalize, the
 * context panel, and the next call carrying the amendment.
 */
import { expect, test } from '@jupyterlab/galata';
import * as path from 'path';

import {
  contentText,
  execute,
  modelCalls,
  readNotebook,
  screenshotDir
} from './helpers';
import {
  AMENDMENTS,
  PROBES,
  SUGGESTIONS,
  openContextPanel,
  prepareNotebook,
  readSidecar,
  scriptJSON,
  selectInAnswer,
  writeSidecar
} from './loopHelpers';

const FACT = AMENDMENTS.amendments[0].text;

function shot(name: string): { path: string } {
  return { path: path.join(screenshotDir, `loop-${name}.png`) };
}

test('by mouse: highlight, correct, amend, preview, finalize', async ({
  page,
  tmpPath
}) => {
  const name = prepareNotebook(tmpPath, 'loop-mouse.ipynb');
  await page.notebook.openByPath(name);
  await page.locator('.jp-collab-answer').first().waitFor();

  // 1. Highlight: the affordance appears on a selection in the answer.
  await selectInAnswer(page, 'Smith et al., 2019');
  const affordance = page.locator('.jp-collab-affordance');
  await expect(affordance).toBeVisible();
  await page.screenshot(shot('1-affordance'));

  // 2. Correct: the popover quotes the span and lists suggestions.
  await scriptJSON(SUGGESTIONS);
  await affordance.click();
  const popover = page.locator('.jp-collab-popover');
  await expect(popover.locator('.jp-collab-quote')).toHaveText(
    'Smith et al., 2019'
  );
  await expect(popover.locator('.jp-collab-choice')).toHaveCount(2);
  await page.screenshot(shot('2-suggestions'));

  // 3. Amend: picking a suggestion proposes amendments, fact and process.
  await scriptJSON(AMENDMENTS);
  await popover.locator('.jp-collab-choice').first().click();
  await expect(popover.locator('.jp-collab-candidate')).toHaveCount(3);
  await expect(
    popover.locator('.jp-collab-candidate textarea').first()
  ).toHaveValue(FACT);
  await expect(popover.locator('.jp-collab-kind').nth(1)).toHaveValue(
    'process'
  );
  await page.screenshot(shot('3-amendments'));

  // The highlighted span and the correction reached the model.
  const calls = await modelCalls();
  const suggest = contentText(calls[calls.length - 2].body.messages[0].content);
  expect(suggest).toContain('[[Smith et al., 2019]]');

  // 4. Preview: probes side by side with a diff and verdicts.
  await scriptJSON(PROBES);
  await popover.locator('.jp-collab-preview-button').click();
  const preview = page.locator('.jp-collab-preview');
  await expect(preview).toBeVisible();
  await expect(preview.locator('.jp-collab-probe')).toHaveCount(3);
  await expect(
    preview.locator('.jp-collab-probe .jp-collab-verdict')
  ).toHaveCount(3, {
    timeout: 60_000
  });
  await expect(preview.locator('.jp-collab-diff-added').first()).toBeVisible();
  await expect(preview.locator('.jp-collab-finalize')).toBeEnabled();
  await page.screenshot(shot('4-preview'));

  // Edit the amendment and re-run: the baselines come from the server's cache.
  await preview
    .locator('.jp-collab-amendment-text')
    .fill(`${FACT} (arXiv:1606.06565)`);
  await expect(preview.locator('.jp-collab-finalize')).toBeDisabled();
  await preview.locator('.jp-collab-rerun').click();
  await expect(preview.locator('.jp-collab-cached')).toHaveCount(3, {
    timeout: 60_000
  });
  await expect(preview.locator('.jp-collab-cached').first()).toHaveText(
    'baseline cached'
  );
  await expect(preview.locator('.jp-collab-finalize')).toBeEnabled({
    timeout: 60_000
  });
  await page.screenshot(shot('5-rerun-cached'));

  // 5. Finalize: the mark stays on the answer, with its correction on hover.
  await preview.locator('.jp-collab-finalize').click();
  const mark = page.locator('.jp-collab-mark').first();
  await expect(mark).toHaveText('Smith et al., 2019');
  await expect(mark).toHaveAttribute('title', /Amodei et al\., 2016/);
  await expect(preview).toHaveCount(0);

  const sidecar = readSidecar(name);
  const entry = sidecar.amendments[0];
  expect(entry.text).toBe(`${FACT} (arXiv:1606.06565)`);
  expect(entry.provenance).toMatchObject({
    cell_id: 'cell-a',
    quote: 'Smith et al., 2019',
    correction: 'Amodei et al., 2016',
    source: 'loop'
  });
  expect(entry.preview).toHaveLength(3);
  expect(sidecar.highlights[0].quote.exact).toBe('Smith et al., 2019');

  // The context panel shows the entry with its provenance.
  await openContextPanel(page);
  const panel = page.locator('#jupyter-collab-context');
  await expect(
    panel.locator('.jp-collab-group.jp-mod-fact .jp-collab-entry')
  ).toHaveCount(1);
  await panel.locator('.jp-collab-provenance summary').click();
  await expect(panel.locator('.jp-collab-provenance')).toContainText(
    'Smith et al., 2019'
  );
  await expect(panel.locator('.jp-collab-size')).toContainText('tokens');
  // Provenance: jump to the cell, whose highlight flashes.
  await panel.locator('.jp-collab-jump').click();
  await expect(
    page.locator('.jp-collab-mark.jp-collab-flash').first()
  ).toBeVisible();
  await expect(
    page.locator('.jp-Notebook .jp-Cell.jp-mod-active')
  ).toContainText('Which paper introduced');
  await page.screenshot(shot('6-panel'));

  // Saving embeds the context and keeps the highlight in the output.
  await page.notebook.save();
  const saved = readNotebook(name);
  expect(saved.metadata.jupyter_collab.context.amendments[0].text).toBe(
    entry.text
  );
  const payload =
    saved.cells[0].outputs[0].data['application/vnd.jupyter.collab+json'];
  expect(payload.highlights[0].highlight.quote.exact).toBe(
    'Smith et al., 2019'
  );
  expect(payload.highlights[0].corrections[0].text).toBe('Amodei et al., 2016');

  // The next call of the notebook carries the amendment in its system prompt.
  const before = (await modelCalls()).length;
  await page.notebook.selectCells(1);
  await page.keyboard.press('Shift+Enter');
  await expect(page.locator('.jp-collab-answer')).toHaveCount(2, {
    timeout: 30_000
  });
  await expect
    .poll(async () => (await modelCalls()).length, { timeout: 30_000 })
    .toBeGreaterThan(before);
  const next = (await modelCalls()).slice(before);
  const system = JSON.stringify(next[next.length - 1].body.system);
  expect(system).toContain('arXiv:1606.06565');
  await page.screenshot(shot('7-next-call'));
});

test('by keyboard: shortcut, Enter and Ctrl+Enter through to finalize', async ({
  page,
  tmpPath
}) => {
  const name = prepareNotebook(tmpPath, 'loop-keyboard.ipynb');
  await page.notebook.openByPath(name);
  await page.locator('.jp-collab-answer').first().waitFor();

  await selectInAnswer(page, 'Jones (2021)');
  await scriptJSON(SUGGESTIONS);
  await page.keyboard.press('Control+Alt+f');
  const popover = page.locator('.jp-collab-popover');
  await expect(popover.locator('.jp-collab-choice').first()).toBeFocused();

  // Esc closes; the shortcut opens it again.
  await page.keyboard.press('Escape');
  await expect(popover).toHaveCount(0);
  await selectInAnswer(page, 'Jones (2021)');
  await scriptJSON(SUGGESTIONS);
  await page.keyboard.press('Control+Alt+f');
  await expect(popover.locator('.jp-collab-choice').first()).toBeFocused();

  // Arrow down to the second suggestion; Enter picks it.
  await page.keyboard.press('ArrowDown');
  await expect(popover.locator('.jp-collab-choice').nth(1)).toBeFocused();
  await scriptJSON(AMENDMENTS);
  await page.keyboard.press('Enter');
  await expect(popover.locator('.jp-collab-candidate')).toHaveCount(3);
  await expect(
    popover.locator('.jp-collab-candidate-pick').first()
  ).toBeFocused();

  // Tab into the second candidate's text, write over it, Ctrl+Enter previews.
  await popover.locator('.jp-collab-candidate textarea').nth(1).focus();
  await page.keyboard.press('Control+a');
  await page.keyboard.type('Say when a citation is uncertain.');
  await scriptJSON(PROBES);
  await page.keyboard.press('Control+Enter');
  const preview = page.locator('.jp-collab-preview');
  await expect(preview.locator('.jp-collab-finalize')).toBeFocused({
    timeout: 60_000
  });
  await page.screenshot(shot('8-keyboard-preview'));
  await page.keyboard.press('Enter');
  await expect(page.locator('.jp-collab-mark')).toHaveText('Jones (2021)');

  const sidecar = readSidecar(name);
  expect(sidecar.amendments.map((a: any) => [a.kind, a.text])).toEqual([
    ['process', 'Say when a citation is uncertain.']
  ]);
});

test('context panel: toggle, edit, delete, undo and a stale write', async ({
  page,
  request,
  tmpPath
}) => {
  const name = prepareNotebook(tmpPath, 'loop-panel.ipynb', {
    fixture: 'loop-shared.ipynb',
    sidecar: true
  });
  await page.notebook.openByPath(name);
  await openContextPanel(page);
  const panel = page.locator('#jupyter-collab-context');
  const entry = panel.locator('.jp-collab-entry').first();
  await expect(entry).toBeVisible();
  await expect(panel.locator('.jp-collab-entry')).toHaveCount(2);
  const original = readSidecar(name).amendments[0].text;

  // Toggle off; undo.
  await entry.locator('.jp-collab-toggle').click();
  await expect(entry).toHaveClass(/jp-mod-disabled/);
  expect(readSidecar(name).amendments[0].status).toBe('disabled');
  await panel.locator('.jp-collab-undo').click();
  await expect(entry).not.toHaveClass(/jp-mod-disabled/);
  expect(readSidecar(name).amendments[0].status).toBe('accepted');

  // Edit in place; undo.
  await entry.locator('.jp-collab-edit').click();
  await entry
    .locator('textarea')
    .fill('Concrete Problems in AI Safety is Amodei et al. 2016.');
  await entry.locator('button', { hasText: 'Save' }).click();
  await expect(entry.locator('.jp-collab-entry-text')).toHaveText(
    'Concrete Problems in AI Safety is Amodei et al. 2016.'
  );
  await panel.locator('.jp-collab-undo').click();
  await expect(entry.locator('.jp-collab-entry-text')).toHaveText(original);

  // Delete; Ctrl+Z in the panel brings it back.
  await entry.locator('.jp-collab-delete').click();
  await expect(panel.locator('.jp-collab-entry')).toHaveCount(1);
  expect(readSidecar(name).amendments).toHaveLength(1);
  await page.screenshot(shot('9-panel-deleted'));
  await panel.focus();
  await page.keyboard.press('Control+z');
  await expect(panel.locator('.jp-collab-entry')).toHaveCount(2);
  expect(readSidecar(name).amendments.map((a: any) => a.text)[0]).toBe(
    original
  );

  // Mode setting; undo.
  await panel.locator('.jp-collab-mode').selectOption('learning');
  await expect.poll(() => readSidecar(name).settings.mode).toBe('learning');
  await panel.locator('.jp-collab-undo').click();
  await expect.poll(() => readSidecar(name).settings.mode).toBe('research');
  await expect(panel.locator('.jp-collab-mode')).toHaveValue('research');

  // Another client changes the context: the panel's next write is refused
  // (409) and the user is offered a reload, never a silent overwrite.
  const revision = readSidecar(name).revision;
  const id = readSidecar(name).amendments[0].id;
  const other = await request.patch(
    `/jupyter-collab/context?path=${encodeURIComponent(name)}`,
    {
      data: {
        revision,
        operations: [
          { op: 'update_amendment', id, text: 'Edited in another tab.' }
        ]
      }
    }
  );
  expect(other.ok()).toBe(true);
  await entry.locator('.jp-collab-toggle').click();
  const dialog = page.locator('.jp-Dialog');
  await expect(dialog).toContainText('The context changed elsewhere');
  await page.screenshot(shot('10-stale'));
  await dialog.locator('button', { hasText: 'Reload' }).click();
  await expect(entry.locator('.jp-collab-entry-text')).toHaveText(
    'Edited in another tab.'
  );
  expect(readSidecar(name).amendments[0]).toMatchObject({
    text: 'Edited in another tab.',
    status: 'accepted'
  });
});

test('orphaned highlights: the server places them, the panel lists them', async ({
  page,
  tmpPath
}) => {
  const name = prepareNotebook(tmpPath, 'loop-orphans.ipynb', {
    fixture: 'loop-shared.ipynb',
    sidecar: true
  });
  // The request made once the notebook's answers are loaded (an earlier one,
  // sent before, has no text to place the highlight on).
  const answered = page.waitForResponse(
    response =>
      response.url().includes('/jupyter-collab/anchors') &&
      response.request().method() === 'POST' &&
      response.request().postDataJSON().items[0]?.text !== null
  );
  await page.notebook.openByPath(name);
  await openContextPanel(page);
  const panel = page.locator('#jupyter-collab-context');
  await expect(panel.locator('.jp-collab-entry').first()).toBeVisible();
  // The stored highlight is on cell-a's answer: the server places it there.
  const response = await answered;
  const body = response.request().postDataJSON();
  expect(body.items.map((item: any) => item.quote.exact)).toEqual([
    'Smith et al., 2019'
  ]);
  expect((await response.json()).anchors[0]).toMatchObject({
    status: 'exact'
  });
  await expect(panel.locator('.jp-collab-orphans')).toHaveCount(0);

  // Without the answer, the server finds nothing to place it on.
  await execute(page, 'notebook:clear-all-cell-outputs');
  const orphans = panel.locator('.jp-collab-orphans li');
  await expect(orphans).toHaveCount(1, { timeout: 10_000 });
  await expect(orphans.first().locator('q')).toHaveText('Smith et al., 2019');
  await expect(panel.locator('.jp-collab-issues h3').first()).toHaveText(
    'Orphaned highlights (1)'
  );
  await page.screenshot(shot('11-orphaned'));
});

test('live update: a change on disk shows in the panel', async ({
  page,
  tmpPath
}) => {
  const name = prepareNotebook(tmpPath, 'loop-live.ipynb', {
    fixture: 'loop-shared.ipynb',
    sidecar: true
  });
  await page.notebook.openByPath(name);
  await openContextPanel(page);
  const panel = page.locator('#jupyter-collab-context');
  await expect(panel.locator('.jp-collab-entry')).toHaveCount(2);
  // What the command line would do: write the file with a new revision.
  const context = readSidecar(name);
  context.amendments[0].text = 'Written by the command line.';
  context.revision += 1;
  writeSidecar(name, context);
  await expect(panel.locator('.jp-collab-entry-text').first()).toHaveText(
    'Written by the command line.',
    { timeout: 15_000 }
  );
});
