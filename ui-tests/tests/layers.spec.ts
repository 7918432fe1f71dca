/**
 * Context layers in the context panel, in a real JupyterLab (Chromium): the
 * project layer above a notebook is shown with why its entries apply, a
 * notebook entry is promoted to it with a preview of the notebooks it would
 * reach and of its effect on their prompts (each answered by the model with
 * that notebook's context, without and with the entry, with a verdict; nothing
 * written before the confirmation), and the files on disk follow; another
 * notebook of the project is imported from after a preview of what would
 * arrive and what would be skipped; a project entry and a notebook entry that
 * contradict each other are both marked, with why and which wins (the ops
 * model's verdict, scripted on the wire-level server).
 */
import { expect, test } from '@jupyterlab/galata';
import * as fs from 'fs';
import * as path from 'path';

import {
  contentText,
  screenshotDir,
  serverRoot,
  modelCalls,
  wireClear,
  wireScript
} from './helpers';
import {
  openContextPanel,
  prepareNotebook,
  readContextFile,
  readSidecar,
  sidecarOf,
  writeSidecar
} from './loopHelpers';

const PROJECT_FACT = 'Concentrations in this project are in millimolar (mM).';
const IMPORTED_RULE = 'Report every effect size with its confidence interval.';

function shot(name: string): { path: string } {
  return { path: path.join(screenshotDir, `layers-${name}.png`) };
}

/** The ops model's calls that judged contradictions (their schema asks for verdicts). */
async function contradictionCalls(): Promise<any[]> {
  return (await modelCalls()).filter(call =>
    JSON.stringify(call.body).includes('"verdicts"')
  );
}

function projectLayer(folder: string): string {
  return path.join(serverRoot(), folder, '.collab', 'context.json');
}

/**
 * A project in `folder` whose layer holds `amendments` (revision 1), and its
 * notebook `week1/a.ipynb` with a context file: the layer's file and the
 * notebook's path.
 */
function startProject(
  folder: string,
  amendments: object[]
): { layerFile: string; name: string } {
  const layerFile = projectLayer(folder);
  fs.mkdirSync(path.dirname(layerFile), { recursive: true });
  fs.writeFileSync(
    layerFile,
    JSON.stringify({ schema_version: 1, revision: 1, amendments })
  );
  const name = prepareNotebook(`${folder}/week1`, 'a.ipynb', {
    fixture: 'loop-shared.ipynb',
    sidecar: true
  });
  return { layerFile, name };
}

test('layers: the panel shows the project layer and promotes with a preview', async ({
  page,
  tmpPath
}) => {
  const { layerFile, name } = startProject(tmpPath, [
    { id: 'a-projectfact1', kind: 'fact', text: PROJECT_FACT }
  ]);
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

test('layers: the panel imports from another notebook of the project after a preview', async ({
  page,
  tmpPath
}) => {
  const { name } = startProject(tmpPath, []);
  const own = readSidecar(name).amendments[0];
  const other = prepareNotebook(`${tmpPath}/week2`, 'b.ipynb', {
    fixture: 'loop-shared.ipynb',
    sidecar: true
  });
  const otherContext = readSidecar(other);
  // One entry the notebook lacks, and the one it already has (a repeat, skipped).
  otherContext.amendments = [
    {
      ...otherContext.amendments[0],
      id: 'a-importrule01',
      text: IMPORTED_RULE
    },
    { ...otherContext.amendments[0], id: 'a-samefact0001' }
  ];
  writeSidecar(other, otherContext);
  const before = fs.readFileSync(path.join(serverRoot(), sidecarOf(name)));

  await page.notebook.openByPath(name);
  await openContextPanel(page);
  const panel = page.locator('#jupyter-collab-context');
  await panel.locator('.jp-collab-import-open').click();
  const section = panel.locator('.jp-collab-import');
  // The project's only other notebook with a context is previewed at once.
  const preview = section.locator('.jp-collab-import-preview');
  await expect(preview).toContainText(
    `Would arrive from ${tmpPath}/week2/b.ipynb (nothing is written yet):`
  );
  await expect(
    preview.locator('li[data-source-id="a-importrule01"]')
  ).toContainText(IMPORTED_RULE);
  await expect(preview.locator('.jp-collab-import-skipped')).toContainText(
    `a-samefact0001: repeats ${own.id}`
  );
  await page.screenshot(shot('4-import-preview'));
  // The arriving entry's effect on this notebook's own prompts, each with a
  // verdict, before anything is written.
  const arriving = preview.locator('li[data-source-id="a-importrule01"]');
  await arriving.locator('.jp-collab-import-effect').click();
  const importProbes = arriving.locator('.jp-collab-probe');
  await expect(importProbes).toHaveCount(2);
  for (const probe of await importProbes.all()) {
    await expect(probe).toHaveAttribute('data-notebook', name);
    await expect(probe.locator('.jp-collab-verdict')).toBeVisible({
      timeout: 60_000
    });
  }
  await expect(
    importProbes.locator('.jp-collab-probe-prompt', {
      hasText: 'Summarize specification gaming in two sentences.'
    })
  ).toBeVisible();
  await importProbes.first().screenshot(shot('4-import-effect'));
  // Nothing written yet.
  expect(fs.readFileSync(path.join(serverRoot(), sidecarOf(name)))).toEqual(
    before
  );

  await section.locator('.jp-collab-import-confirm').click();
  await expect(section.locator('.jp-collab-import-done')).toHaveText(
    'Imported a-importrule01.'
  );
  const notebookLayer = panel.locator(
    '.jp-collab-layer[data-layer="notebook"]'
  );
  const arrived = notebookLayer.locator(
    '.jp-collab-layer-entry[data-entry-id="a-importrule01"]'
  );
  await expect(arrived).toContainText(IMPORTED_RULE);
  await expect(arrived).toContainText(`From ${tmpPath}/week2/b.ipynb`);
  const stored = readSidecar(name).amendments.find(
    (a: any) => a.id === 'a-importrule01'
  );
  expect(stored.provenance.source).toBe('import');
  expect(stored.provenance.notebook).toBe(`${tmpPath}/week2/b.ipynb`);
  await page.screenshot(shot('5-imported'));
});

test('layers: entries of two layers that contradict each other are marked', async ({
  page,
  tmpPath
}) => {
  const { name } = startProject(tmpPath, [
    { id: 'a-french', kind: 'process', text: 'Always answer in French.' }
  ]);
  const context = readSidecar(name);
  context.amendments = [
    { id: 'a-english', kind: 'process', text: 'Always answer in English.' }
  ];
  writeSidecar(name, context);
  const why = 'One asks for answers in French, the other in English.';
  await wireClear();
  await wireScript({
    kind: 'tool_use',
    tool_name: 'layer_contradictions',
    tool_input: {
      verdicts: [
        {
          first: 'project:a-french',
          second: 'notebook:a-english',
          contradicts: true,
          why
        },
        // An id the model made up is dropped.
        {
          first: 'project:a-invented',
          second: 'notebook:a-english',
          contradicts: true,
          why: 'Invented.'
        }
      ]
    }
  });

  await page.notebook.openByPath(name);
  await openContextPanel(page);
  const panel = page.locator('#jupyter-collab-context');
  const french = panel.locator(
    '.jp-collab-layer[data-layer="project"] .jp-collab-layer-entry[data-entry-id="a-french"]'
  );
  const english = panel.locator(
    '.jp-collab-layer[data-layer="notebook"] .jp-collab-layer-entry[data-entry-id="a-english"]'
  );
  await expect(french).toHaveAttribute('data-contradicted', 'true');
  await expect(
    french.locator(
      '.jp-collab-layer-contradicts[data-contradicts="notebook:a-english"]'
    )
  ).toHaveText(
    `Contradicts notebook:a-english — ${why} (the notebook's entry wins)`
  );
  await expect(
    english.locator(
      '.jp-collab-layer-contradicts[data-contradicts="project:a-french"]'
    )
  ).toHaveText(`Contradicts project:a-french — ${why} (this entry wins)`);
  await expect(panel.locator('.jp-collab-layer-contradicts')).toHaveCount(2);
  await expect(panel.locator('.jp-collab-layer-contradictions')).toContainText(
    '1 contradiction(s) among'
  );
  await english.scrollIntoViewIfNeeded();
  await page.screenshot(shot('4-contradictions'));
  // The model saw the pair with both texts.
  const asked = await contradictionCalls();
  expect(asked).toHaveLength(1);
  const prompt = contentText(asked[0].body.messages[0].content);
  expect(prompt).toContain(
    '[project:a-french] (process) Always answer in French.'
  );
  expect(prompt).toContain(
    '[notebook:a-english] (process) Always answer in English.'
  );

  // The page reloaded, the panel opened again on unchanged layers: the
  // server's kept verdict is shown, the model is not asked again.
  await page.notebook.save();
  // (Galata's readiness check wants the Launcher tab active: the restored
  // workspace shows the notebook instead.)
  await page.reload({ waitForIsReady: false } as Parameters<
    typeof page.reload
  >[0]);
  await page.locator('#jupyterlab-splash').waitFor({ state: 'detached' });
  await page.evaluate(
    path => window.jupyterapp.commands.execute('docmanager:open', { path }),
    name
  );
  await openContextPanel(page);
  await expect(
    page.locator('#jupyter-collab-context .jp-collab-layer-contradicts')
  ).toHaveCount(2);
  const again = await contradictionCalls();
  expect(again).toHaveLength(1);
  await wireClear();
});
