/**
 * The extension in Notebook 7 (`jupyter notebook`, project `notebook7`)
 * against its wire-level Anthropic server: a collaborator cell runs and its
 * answer streams in, a highlight goes through feedback, preview (in the
 * bottom panel: Notebook 7's main area holds the notebook alone) and
 * finalize, the context panel opens from the View menu in the right sidebar,
 * the next call carries the amendment and saving embeds the context; and the
 * page logs no error or warning of the extension, there or on the file browser
 * page.
 */
import { expect, test } from '@playwright/test';
import type { Locator, Page } from '@playwright/test';
import * as path from 'path';

import { PageProblems } from './consoleErrors';
import {
  contentText,
  modelCalls,
  readNotebook,
  screenshotDir,
  wireClear,
  wireScript
} from './helpers';
import {
  AMENDMENTS,
  PROBES,
  SUGGESTIONS,
  prepareNotebook,
  readSidecar,
  scriptJSON,
  selectInAnswer
} from './loopHelpers';

const ANSWER =
  'Specification gaming is when an agent satisfies the **letter** of its ' +
  'objective (Smith et al., 2019) but not its intent. The classic examples ' +
  'are reward hacking in simulated environments.';

const FACT = AMENDMENTS.amendments[0].text;

function shot(page: Page, name: string): Promise<Buffer> {
  return page.screenshot({
    path: path.join(screenshotDir, `notebook7-${name}.png`)
  });
}

/** The notebook's cells. */
function cells(page: Page): Locator {
  return page.locator('.jp-Notebook .jp-Cell');
}

/** Run a cell in place (command mode, Ctrl+Enter). */
async function runCell(cell: Locator): Promise<void> {
  await cell.locator('.jp-InputPrompt').click();
  await cell.page().keyboard.press('Control+Enter');
}

test('Notebook 7: run, stream, feedback, preview, finalize, context panel', async ({
  page
}) => {
  const problems = new PageProblems(page);
  await wireClear();
  const name = prepareNotebook('notebook7', 'loop.ipynb');

  await test.step('the notebook opens in Notebook 7 with its stored answer', async () => {
    await page.goto(`notebooks/${name}`);
    await expect(page.locator('.jp-collab-answer').first()).toContainText(
      'Smith et al., 2019'
    );
    expect(await page.evaluate(() => window.jupyterapp.name)).toBe(
      'Jupyter Notebook'
    );
    // Every plugin of the extension activates in Notebook 7's shell, and the
    // extension's cell executor replaces the notebook's own.
    const plugins = await page.evaluate(() => {
      const app = window.jupyterapp;
      return Object.fromEntries(
        app
          .listPlugins()
          .filter(id => id.startsWith('jupyter-collab:'))
          .map(id => [id, app.isPluginActivated(id)])
      );
    });
    expect(plugins).toEqual({
      'jupyter-collab:cell-executor': true,
      'jupyter-collab:plugin': true,
      'jupyter-collab:feedback': true,
      'jupyter-collab:context-panel': true,
      'jupyter-collab:sharing': true,
      'jupyter-collab:renderer': true
    });
    expect(
      await page.evaluate(() =>
        window.jupyterapp.isPluginActivated(
          '@jupyterlab/notebook-extension:cell-executor'
        )
      )
    ).toBe(false);
    await expect(cells(page).nth(1)).toHaveClass(/jp-collab-cell/);
  });

  const cell = cells(page).nth(1);
  const answer = cell.locator('.jp-collab-answer');

  await test.step('a collaborator cell runs and its answer streams in', async () => {
    await wireScript({ kind: 'text', answer: ANSWER, delta_delay: 0.1 });
    await runCell(cell);
    await expect(
      cell.locator('.jp-collab-output.jp-collab-mod-streaming')
    ).toBeVisible();
    await expect(answer).toContainText('Specification gaming');
    const partial = (await answer.textContent()) ?? '';
    expect(partial.length).toBeLessThan(ANSWER.length - 40);
    await shot(page, '1-streaming');

    const footer = cell.locator('.jp-collab-footer');
    await expect(footer).toBeVisible({ timeout: 30_000 });
    await expect(footer.locator('.jp-collab-usage')).toHaveText(
      /^[\d,]+ in \/ [\d,]+ out/
    );
    // Rendered as Markdown: the bold word is an element, not asterisks.
    await expect(answer.locator('strong')).toHaveText('letter');
    await expect(answer).not.toContainText('**');
    const calls = await modelCalls();
    expect(calls).toHaveLength(1);
    const asked = calls[0].body.messages.at(-1);
    expect(contentText(asked.content)).toContain(
      'Summarize specification gaming in two sentences.'
    );
    await shot(page, '2-answered');
  });

  const popover = page.locator('.jp-collab-popover');
  await test.step('a highlighted span opens the feedback popover', async () => {
    await selectInAnswer(page, 'Smith et al., 2019', 1);
    const affordance = page.locator('.jp-collab-affordance');
    await expect(affordance).toBeVisible();
    await scriptJSON(SUGGESTIONS);
    await affordance.click();
    await expect(popover.locator('.jp-collab-quote')).toHaveText(
      'Smith et al., 2019'
    );
    await expect(popover.locator('.jp-collab-choice')).toHaveCount(2);
    await scriptJSON(AMENDMENTS);
    await popover.locator('.jp-collab-choice').first().click();
    await expect(
      popover.locator('.jp-collab-candidate textarea').first()
    ).toHaveValue(FACT);
    await shot(page, '3-feedback');
  });

  const preview = page.locator('.jp-collab-preview');
  await test.step('the preview opens in the bottom panel, readable', async () => {
    await scriptJSON(PROBES);
    await popover.locator('.jp-collab-preview-button').click();
    // Notebook 7's main area takes no second widget: the bottom panel does.
    await expect(
      page.locator('#jp-down-stack .jp-collab-preview')
    ).toBeVisible();
    await expect(preview.locator('.jp-collab-finalize')).toBeEnabled({
      timeout: 60_000
    });
    const probes = await preview.locator('.jp-collab-probe').count();
    expect(probes).toBeGreaterThanOrEqual(3);
    await expect(
      preview.locator('.jp-collab-probe .jp-collab-verdict')
    ).toHaveCount(probes);
    // Tall enough to read two answers side by side, not just its tab bar.
    const box = await page.locator('#jp-down-stack').boundingBox();
    const viewport = page.viewportSize();
    expect(box!.height).toBeGreaterThan(viewport!.height * 0.35);
    await shot(page, '4-preview');
  });

  await test.step('finalize adds the amendment and closes the preview', async () => {
    await preview.locator('.jp-collab-finalize').click();
    const mark = answer.locator('.jp-collab-mark');
    await expect(mark).toHaveText('Smith et al., 2019');
    await expect(mark).toHaveAttribute('title', /Amodei et al\., 2016/);
    await expect(preview).toHaveCount(0);
    await expect(page.locator('#jp-down-stack')).toBeHidden();

    const sidecar = readSidecar(name);
    expect(sidecar.amendments).toHaveLength(1);
    expect(sidecar.amendments[0].text).toBe(FACT);
    expect(sidecar.amendments[0].provenance).toMatchObject({
      cell_id: 'cell-b',
      quote: 'Smith et al., 2019',
      correction: 'Amodei et al., 2016',
      source: 'loop'
    });
    expect(sidecar.amendments[0].preview.length).toBeGreaterThanOrEqual(3);
    await shot(page, '5-finalized');
  });

  const panel = page.locator('#jupyter-collab-context');
  await test.step('the context panel opens from the View menu, in the right sidebar', async () => {
    await expect(panel).toBeHidden();
    await page.locator('.lm-MenuBar-itemLabel', { hasText: 'View' }).click();
    await page
      .locator('.lm-Menu-itemLabel', { hasText: 'Show the Notebook Context' })
      .click();
    await expect(
      page.locator('#jp-right-stack #jupyter-collab-context')
    ).toBeVisible();
    const facts = panel.locator(
      '.jp-collab-group.jp-mod-fact .jp-collab-entry'
    );
    await expect(facts).toHaveCount(1);
    await expect(facts).toContainText(FACT);
    // Provenance: back to the cell, whose highlight flashes.
    await panel.locator('.jp-collab-provenance summary').click();
    await panel.locator('.jp-collab-jump').click();
    await expect(cell.locator('.jp-collab-mark.jp-collab-flash')).toBeVisible();
    await shot(page, '6-context-panel');
  });

  await test.step('the next call carries the amendment; saving embeds the context', async () => {
    await wireScript({
      kind: 'text',
      answer: 'Reward hacking, per Amodei et al. (2016).'
    });
    await runCell(cells(page).nth(0));
    await expect(cells(page).nth(0).locator('.jp-collab-answer')).toContainText(
      'per Amodei et al. (2016)',
      { timeout: 30_000 }
    );
    const calls = await modelCalls();
    expect(JSON.stringify(calls.at(-1)!.body.system)).toContain(FACT);

    await page.keyboard.press('Control+s');
    await expect
      .poll(() => readNotebook(name).metadata.jupyter_collab?.context, {
        timeout: 15_000
      })
      .toMatchObject({ amendments: [{ text: FACT }] });
  });

  await test.step('no error or warning of the extension on the page', async () => {
    const host = problems.hostErrors();
    if (host.length) {
      test.info().annotations.push({
        type: 'host errors (not the extension)',
        description: host.map(p => `${p.kind}: ${p.text}`).join('\n')
      });
    }
    expect(problems.fromExtension()).toEqual([]);
  });
});

test('Notebook 7: the file browser page loads the extension without an error', async ({
  page
}) => {
  const problems = new PageProblems(page);
  const handshake = page.waitForEvent(
    'console',
    message =>
      message.text().includes('jupyter-collab') &&
      message.text().includes('server extension')
  );
  await page.goto('tree');
  // The handshake runs once the page is restored, after every plugin activated.
  await handshake;
  await expect(page.locator('.jp-DirListing-item').first()).toBeVisible();
  expect(problems.fromExtension()).toEqual([]);
});
