/**
 * The constitution check in the context panel, in a real JupyterLab (Chromium)
 * against the wire-level Anthropic server: a finalized amendment is checked
 * with the Check button, its health appears with the evidence, a probe's
 * expectation is edited, Check all streams every entry's health, and a slow
 * check is cancelled.
 */
import { expect, test } from '@jupyterlab/galata';
import * as path from 'path';

import { screenshotDir, wireClear, wireScript } from './helpers';
import {
  openContextPanel,
  prepareNotebook,
  readSidecar,
  writeSidecar
} from './loopHelpers';

const PROBE = 'Who wrote Concrete Problems in AI Safety?';

function shot(name: string): { path: string } {
  return { path: path.join(screenshotDir, `check-${name}.png`) };
}

test('check: Check shows an entry’s health, Check all every entry’s', async ({
  page,
  tmpPath
}) => {
  await wireClear();
  const name = prepareNotebook(tmpPath, 'check-panel.ipynb', {
    fixture: 'loop-shared.ipynb',
    sidecar: true
  });
  // The fact was finalized after a preview on one probe.
  const context = readSidecar(name);
  context.amendments[0].preview = [
    {
      probe: PROBE,
      probe_kind: 'original',
      baseline_hash: '',
      amended_hash: '',
      verdict: 'intended',
      reason: 'The answer names Amodei et al.'
    }
  ];
  writeSidecar(name, context);

  await page.notebook.openByPath(name);
  await openContextPanel(page);
  const panel = page.locator('#jupyter-collab-context');
  const fact = panel.locator('.jp-collab-entry').first();
  const health = fact.locator('.jp-collab-health');
  await expect(health).toContainText('Not checked yet');

  // Check the fact: its probe is answered again with and without it (the
  // echo model; what that decides is the core's, tested in pytest).
  await fact.getByRole('button', { name: /^Check “Concrete/ }).click();
  await expect(health).toHaveAttribute('data-health', /^(holds|broken|flaky)$/);
  await expect.poll(() => readSidecar(name).amendments[0].check).toBeTruthy();
  const stored = readSidecar(name).amendments[0].check;
  expect(stored.probes_total).toBe(1);
  await expect(health).toHaveAttribute('data-health', stored.health);
  const label = stored.health[0].toUpperCase() + stored.health.slice(1);
  await expect(health).toContainText(
    `${label} · ${stored.probes_passed}/1 probes · `
  );
  await expect(health).toContainText(stored.model);

  // The evidence and the probe, on expand.
  await fact.locator('.jp-collab-check summary').click();
  const probe = fact.locator('.jp-collab-stored-probe').first();
  await expect(probe).toContainText(PROBE);
  await expect(probe.locator('.jp-collab-outcome')).toHaveText(
    stored.probes_passed ? '✓ pass' : /✗ fail|~ flaky/
  );
  await expect(probe.locator('.jp-collab-why')).not.toBeEmpty();
  await page.screenshot(shot('1-checked'));

  // The researcher says this probe should not change: stored on the probe.
  await probe
    .getByRole('combobox', { name: 'Expectation of probe 1' })
    .selectOption('no_change');
  await expect
    .poll(() => readSidecar(name).amendments[0].preview[0].expectation)
    .toBe('no_change');

  // Check all: every enabled entry, the one without probes untested.
  await panel.getByRole('button', { name: 'Check all' }).click();
  const rule = panel.locator('.jp-collab-entry').nth(1);
  await expect(rule.locator('.jp-collab-health')).toHaveAttribute(
    'data-health',
    'untested'
  );
  await expect(panel.getByRole('button', { name: 'Check all' })).toBeEnabled();
  await expect
    .poll(() => readSidecar(name).amendments.map((a: any) => a.check?.health))
    .toEqual([expect.stringMatching(/holds|broken|flaky/), 'untested']);
  await page.screenshot(shot('2-check-all'));

  // A slow model: the check shows its progress and can be cancelled.
  const slow = { kind: 'text', answer: 'slow answer '.repeat(10), chunks: 10 };
  await wireScript(
    ...Array.from({ length: 6 }, () => ({ ...slow, delta_delay: 1 }))
  );
  const before = readSidecar(name).amendments[0].check.at;
  await panel.getByRole('button', { name: 'Check all' }).click();
  await expect(panel.locator('.jp-collab-check-progress')).toBeVisible();
  await expect(health).toHaveAttribute('data-health', 'checking');
  await expect(fact.locator('.jp-collab-health-text')).toContainText(
    'Checking… 0 of 1 probes'
  );
  await expect(panel.locator('.jp-collab-check-status')).toHaveText(
    /probes answered/
  );
  await page.screenshot(shot('3-running'));
  await panel.getByRole('button', { name: 'Cancel check' }).click();
  await expect(panel.locator('.jp-collab-check-status')).toHaveText(
    'Check cancelled: the entries it finished were stored.'
  );
  await expect(panel.getByRole('button', { name: 'Check all' })).toBeEnabled();
  // Nothing finished: the last stored health stays.
  expect(readSidecar(name).amendments[0].check.at).toBe(before);
  await wireClear();
});
