/**
 * Context layers in the context panel, in a real JupyterLab (Chromium): the
 * project layer above a notebook is shown with why its entries apply, a
 * notebook entry is promoted to it with a preview of the notebooks it would
 * reach and of its effect on their prompts (each answered by the model with
 * that notebook's context, without and with the entry, with a verdict; nothing
 * written before the confirmation), and the files on disk follow.
 */
import { expect, test } from '@jupyterlab/galata';
import * as fs from 'fs';
import * as path from 'path';

import { screenshotDir, serverRoot } from './helpers';
import {
  openContextPanel,
  prepareNotebook,
  readContextFile,
  readSidecar,
  writeSidecar
} from './loopHelpers';

const PROJECT_FACT = 'Concentrations in this project are in millimolar (mM).';

function shot(name: string): { path: string } {
  return { path: path.join(screenshotDir, `layers-${name}.png`) };
}

function projectLayer(folder: string): string {
  return path.join(serverRoot(), folder, '.collab', 'context.json');
}

test('layers: the panel shows the project layer and promotes with a preview', async ({
  page,
  tmpPath
}) => {
  const layerFile = projectLayer(tmpPath);
  fs.mkdirSync(path.dirname(layerFile), { recursive: true });
  fs.writeFileSync(
    layerFile,
    JSON.stringify({
      schema_version: 1,
      revision: 1,
      amendments: [{ id: 'a-projectfact1', kind: 'fact', text: PROJECT_FACT }]
    })
  );
  const name = prepareNotebook(`${tmpPath}/week1`, 'a.ipynb', {
    fixture: 'loop-shared.ipynb',
    sidecar: true
  });
  const own = readSidecar(name).amendments[0];
  // A second notebook of the project already says the same as the entry.
  const other = prepareNotebook(`${tmpPath}/week2`, 'b.ipynb', {
    fixture: 'loop-shared.ipynb',
    sidecar: true
  });
  const otherContext = readSidecar(other);
  otherContext.amendments[0].id = 'a-otherrepeat1';
  writeSidecar(other, otherContext);
  // A third one does not: its prompts are where the entry's effect shows.
  const third = prepareNotebook(`${tmpPath}/week3`, 'c.ipynb', {
    fixture: 'loop-citation.ipynb'
  });

  await page.notebook.openByPath(name);
  await openContextPanel(page);
  const panel = page.locator('#jupyter-collab-context');
  const project = panel.locator('.jp-collab-layer[data-layer="project"]');
  await expect(project).toContainText(PROJECT_FACT);
  await expect(project).toContainText(`${tmpPath}/.collab/context.json · r1`);
  const shared = project.locator('.jp-collab-layer-entry').first();
  await expect(shared).toHaveAttribute('data-applies', 'true');
  await expect(shared.locator('.jp-collab-layer-why')).toContainText(
    `Applies: project layer of ${tmpPath}`
  );
  const notebookLayer = panel.locator(
    '.jp-collab-layer[data-layer="notebook"]'
  );
  const entry = notebookLayer.locator(
    `.jp-collab-layer-entry[data-entry-id="${own.id}"]`
  );
  await expect(entry).toContainText(own.text);
  await page.screenshot(shot('1-layers'));

  // Promote: the preview names the notebooks the entry would reach.
  await entry.locator('.jp-collab-promote[data-target="project"]').click();
  const preview = entry.locator('.jp-collab-promote-preview');
  await expect(preview).toContainText(`Into ${tmpPath}/.collab/context.json`);
  await expect(
    preview.locator('li[data-effect="gains"]', { hasText: 'week1/a.ipynb' })
  ).toBeVisible();
  await expect(
    preview.locator('li[data-effect="repeats"]', { hasText: 'week2/b.ipynb' })
  ).toContainText('already says it (a-otherrepeat1)');
  // The model preview runs on its own: c.ipynb's prompts (not a.ipynb's, which
  // has the entry, nor b.ipynb's, which says it), each with a verdict.
  const effect = preview.locator('.jp-collab-promote-effect');
  const probes = effect.locator('.jp-collab-probe');
  await expect(probes).toHaveCount(2);
  for (const probe of await probes.all()) {
    await expect(probe).toHaveAttribute('data-notebook', third);
    await expect(probe.locator('.jp-collab-verdict')).toBeVisible({
      timeout: 60_000
    });
    await expect(probe.locator('.jp-collab-probe-column')).toHaveCount(2);
  }
  await expect(
    probes.locator('.jp-collab-probe-prompt', {
      hasText: 'Summarize specification gaming in two sentences.'
    })
  ).toBeVisible();
  await expect(effect.locator('.jp-collab-promote-effect-progress')).toHaveText(
    '2 prompt(s) of 1 notebook(s), each answered with its own context.'
  );
  await expect(preview.locator('.jp-collab-promote-confirm')).toBeEnabled();
  await page.screenshot(shot('2-preview'));
  await probes.first().screenshot(shot('2-effect-probe'));
  // Nothing written yet.
  expect(
    JSON.parse(fs.readFileSync(layerFile, 'utf-8')).amendments
  ).toHaveLength(1);
  expect(readSidecar(name).amendments.map((a: any) => a.id)).toContain(own.id);

  await preview.locator('.jp-collab-promote-confirm').click();
  await expect(
    project.locator(`.jp-collab-layer-entry[data-entry-id="${own.id}"]`)
  ).toBeVisible();
  const stored = readContextFile(layerFile);
  const moved = stored.amendments.find((a: any) => a.id === own.id);
  expect(moved.text).toBe(own.text);
  expect(moved.provenance.notebook).toBe('week1/a.ipynb');
  expect(readSidecar(name).amendments.map((a: any) => a.id)).not.toContain(
    own.id
  );
  // The panel's own list follows the notebook's context: the entry left it.
  await expect(
    notebookLayer.locator(`.jp-collab-layer-entry[data-entry-id="${own.id}"]`)
  ).toHaveCount(0);
  await page.screenshot(shot('3-promoted'));

  // Saved, the notebook carries the layer's entries it now uses.
  await page.notebook.save();
  await expect
    .poll(() => {
      const saved = JSON.parse(
        fs.readFileSync(path.join(serverRoot(), name), 'utf-8')
      );
      return (saved.metadata.jupyter_collab?.layers ?? []).map((l: any) => [
        l.layer,
        l.file,
        l.entries.map((e: any) => e.id).sort()
      ]);
    })
    .toEqual([
      ['project', '../.collab/context.json', ['a-projectfact1', own.id].sort()]
    ]);
});
