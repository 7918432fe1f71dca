import { describe, expect, it } from '@jest/globals';

import {
  IImportableView,
  ILayerImportEffectRequest,
  ILayerImportReply,
  ILayerImportRequest,
  IPreviewProgress,
  IProbe
} from '../api/wire';
import { IRunningEffect } from '../panel/effectRun';
import { IImportClient, NotebookImport } from '../panel/imports';
import { importView } from '../panel/importView';
import { FakeEffect, probeOutcome, progress } from './effectFixtures';
import { amendment, context, httpError } from './feedbackFixtures';
import { trans } from './translationFixtures';

const FACT = amendment({ id: 'a-fact', text: 'Units are mM.' });
const RULE = amendment({
  id: 'a-renamed',
  kind: 'process',
  text: 'Ask before writing a long report.'
});

class FakeImports implements IImportClient {
  requests: ILayerImportRequest[] = [];
  notebooks = ['week2/b.ipynb'];
  failNext: Error | null = null;
  effects: { body: ILayerImportEffectRequest; run: FakeEffect }[] = [];

  effect(
    body: ILayerImportEffectRequest,
    onProgress: (progress: IPreviewProgress) => void
  ): IRunningEffect {
    const run = new FakeEffect(onProgress);
    this.effects.push({ body, run });
    return run;
  }

  async importable(path: string): Promise<IImportableView> {
    return { path, notebooks: this.notebooks, truncated: false };
  }

  async importEntries(body: ILayerImportRequest): Promise<ILayerImportReply> {
    this.requests.push(body);
    if (this.failNext) {
      const error = this.failNext;
      this.failNext = null;
      throw error;
    }
    const wanted = body.entry_ids?.length
      ? body.entry_ids
      : ['a-fact', 'a-rule'];
    const both = [
      ['a-fact', FACT],
      ['a-rule', RULE]
    ] as const;
    const chosen = both.filter(([id]) => wanted.includes(id));
    return {
      imported: chosen.map(([, entry]) => entry),
      source_ids: chosen.map(([id]) => id),
      skipped: ['a-dup: repeats a-own (units are mm)'],
      written: !body.dry_run,
      context: {
        path: body.path,
        context: context(),
        revision: body.dry_run ? 3 : 4,
        token_count: 0,
        embedded: null,
        expectations: {}
      }
    };
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await Promise.resolve();
  }
}

function setup(client = new FakeImports()) {
  let reloads = 0;
  let renders = 0;
  const imports = new NotebookImport(
    client,
    () => (renders += 1),
    async () => {
      reloads += 1;
    }
  );
  imports.follow('week1/a.ipynb', 3);
  return {
    client,
    imports,
    reloads: () => reloads,
    renders: () => renders
  };
}

describe('importing from another notebook', () => {
  it('previews the only candidate, imports the checked entries, then reloads', async () => {
    const { client, imports, reloads } = setup();
    imports.actions.open();
    await settle();
    expect(client.requests).toEqual([
      {
        path: 'week1/a.ipynb',
        from_path: 'week2/b.ipynb',
        entry_ids: [],
        revision: 3,
        dry_run: true
      }
    ]);
    let node = importView(imports.state, imports.actions, trans);
    expect(node.textContent).toContain(
      'Would arrive from week2/b.ipynb (nothing is written yet):'
    );
    expect(node.textContent).toContain(
      'arrives as a-renamed (a-rule is taken here)'
    );
    expect(node.textContent).toContain('Skipped a-dup: repeats a-own');
    const confirm = node.querySelector<HTMLButtonElement>(
      '.jp-collab-import-confirm'
    )!;
    expect(confirm.textContent).toBe('Import 2 entries');

    imports.actions.toggle('a-rule', false);
    node = importView(imports.state, imports.actions, trans);
    expect(node.querySelector('.jp-collab-import-confirm')!.textContent).toBe(
      'Import 1 entry'
    );
    node.querySelector<HTMLButtonElement>('.jp-collab-import-confirm')!.click();
    await settle();
    expect(client.requests[1]).toEqual({
      path: 'week1/a.ipynb',
      from_path: 'week2/b.ipynb',
      entry_ids: ['a-fact'],
      revision: 3
    });
    expect(reloads()).toBe(1);
    node = importView(imports.state, imports.actions, trans);
    expect(node.querySelector('.jp-collab-import-done')!.textContent).toBe(
      'Imported a-fact.'
    );
    // Done: no import button until another notebook is previewed.
    expect(node.querySelector('.jp-collab-import-confirm')).toBeNull();
  });

  it('lets the user choose among several notebooks, and says when there is none', async () => {
    const client = new FakeImports();
    client.notebooks = ['week2/b.ipynb', 'week3/c.ipynb'];
    const { imports } = setup(client);
    imports.actions.open();
    await settle();
    expect(client.requests).toEqual([]);
    const node = importView(imports.state, imports.actions, trans);
    const select = node.querySelector<HTMLSelectElement>(
      '.jp-collab-import-from'
    )!;
    expect(Array.from(select.options).map(o => o.value)).toEqual([
      '',
      'week2/b.ipynb',
      'week3/c.ipynb'
    ]);
    select.value = 'week3/c.ipynb';
    select.dispatchEvent(new Event('change'));
    await settle();
    expect(client.requests[0].from_path).toBe('week3/c.ipynb');

    const empty = new FakeImports();
    empty.notebooks = [];
    const other = setup(empty);
    other.imports.actions.open();
    await settle();
    expect(
      importView(other.imports.state, other.imports.actions, trans).textContent
    ).toContain('No other notebook with a context in this project');
  });

  it('shows a refused import and reloads when the context moved on', async () => {
    const { client, imports, reloads } = setup();
    imports.actions.open();
    await settle();
    client.failNext = httpError(409, 'the context changed (revision 3 → 4)');
    imports.actions.confirm();
    await settle();
    expect(reloads()).toBe(1);
    const node = importView(imports.state, imports.actions, trans);
    expect(node.querySelector('.jp-collab-error')!.textContent).toBe(
      'the context changed (revision 3 → 4)'
    );
    // Another notebook shown: the import started for this one is dropped.
    imports.follow('week3/c.ipynb', 1);
    expect(imports.state).toBeNull();
  });

  it("previews an arriving entry's effect on this notebook's prompts", async () => {
    const { client, imports } = setup();
    imports.actions.open();
    await settle();
    let node = importView(imports.state, imports.actions, trans);
    const buttons = node.querySelectorAll<HTMLButtonElement>(
      '.jp-collab-import-effect'
    );
    expect(buttons).toHaveLength(2);
    buttons[0].click();
    expect(client.effects.map(e => e.body)).toEqual([
      { path: 'week1/a.ipynb', from_path: 'week2/b.ipynb', entry_id: 'a-fact' }
    ]);
    const probe: IProbe = {
      prompt: 'What units are the assays in?',
      kind: 'notebook',
      expectation:
        'A prompt of week1/a.ipynb, which the entry would be imported into',
      notebook: 'week1/a.ipynb'
    };
    const { run } = client.effects[0];
    run.onProgress({ ...progress('started', 1), probes: [probe] });
    run.onProgress({ ...progress('probe', 1), outcome: probeOutcome(probe) });
    node = importView(imports.state, imports.actions, trans);
    const fact = node.querySelector('li[data-source-id="a-fact"]')!;
    expect(fact.textContent).toContain("Its effect on this notebook's prompts");
    expect(fact.textContent).toContain('What units are the assays in?');
    expect(fact.querySelector('.jp-collab-import-effect')).toBeNull();
    // The other entry still offers its own preview.
    expect(
      node.querySelector('li[data-source-id="a-rule"] .jp-collab-import-effect')
    ).not.toBeNull();

    // Closing the import stops the preview still running.
    imports.actions.close();
    expect(run.cancelled).toBe(1);
  });
});
