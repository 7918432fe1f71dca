import { describe, expect, it, jest } from '@jest/globals';

import { IAmendment, IContextView } from '../api/wire';
import { PatchOperation } from '../api/types';
import { IContextClient, isStaleError } from '../panel/client';
import {
  anchorQueries,
  groupEntries,
  orphanedHighlights,
  sidecarPath
} from '../panel/grouping';
import { NotebookContextModel, StaleChoice } from '../panel/model';
import { UndoStack, describeChanges, undoStepFor } from '../panel/undo';
import { ContextWatcher } from '../panel/watch';
import { anchoringCases, fixturePlacements } from './anchoringFixtures';
import { amendment, context, httpError, opened } from './feedbackFixtures';
import { frenchTranslator, trans } from './translationFixtures';

function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value));
}

/**
 * A fake server holding one context, applying the operations the panel uses.
 */
class FakeServer implements IContextClient {
  ctx = context({
    amendments: [
      amendment(),
      amendment({
        id: 'a-2',
        kind: 'process',
        text: 'Be terse.',
        provenance: { source: 'user' } as any
      })
    ]
  });
  patches: PatchOperation[][] = [];
  failNext: Error | null = null;

  async open() {
    return opened(clone(this.ctx));
  }

  async patch(
    path: string,
    revision: number,
    operations: PatchOperation[]
  ): Promise<IContextView> {
    if (this.failNext) {
      const error = this.failNext;
      this.failNext = null;
      throw error;
    }
    if (revision !== this.ctx.revision) {
      throw httpError(409, `stale revision ${revision}`);
    }
    this.patches.push(operations);
    for (const op of operations) {
      const list = this.ctx.amendments;
      const at = 'id' in op ? list.findIndex(a => a.id === op.id) : -1;
      if (op.op === 'toggle_amendment') {
        list[at].status =
          list[at].status === 'accepted' ? 'disabled' : 'accepted';
      } else if (op.op === 'remove_amendment') {
        list.splice(at, 1);
      } else if (op.op === 'restore_amendment') {
        // The panel restores the whole amendment it removed.
        list.splice(op.index ?? list.length, 0, op.amendment as IAmendment);
      } else if (op.op === 'update_amendment') {
        list[at].history.push({
          at: '',
          kind: list[at].kind,
          text: list[at].text,
          status: list[at].status,
          note: ''
        });
        list[at].text = op.text ?? list[at].text;
      } else if (op.op === 'undo_amendment') {
        const previous = list[at].history.pop()!;
        list[at].text = previous.text;
      }
    }
    this.ctx.revision += 1;
    return { ...opened(clone(this.ctx)) };
  }

  async accept(): Promise<IContextView> {
    return opened(clone(this.ctx));
  }

  async models() {
    return null as any;
  }
}

function setup(choice: StaleChoice = 'reload') {
  const server = new FakeServer();
  const onStale = jest.fn(async () => choice);
  const model = new NotebookContextModel('nb.ipynb', server, onStale);
  return { server, onStale, model };
}

describe('groupEntries', () => {
  it('groups facts and process rules with their provenance', () => {
    const ctx = context({
      amendments: [
        amendment({
          preview: [
            {
              probe: 'p',
              probe_kind: 'original',
              baseline_hash: 'b',
              amended_hash: 'a',
              verdict: 'intended',
              reason: '',
              expectation: null,
              amended_text: null,
              measures: {}
            },
            {
              probe: 'q',
              probe_kind: 'user',
              baseline_hash: 'b',
              amended_hash: 'a',
              verdict: 'unintended',
              reason: '',
              expectation: null,
              amended_text: null,
              measures: {}
            }
          ]
        }),
        amendment({
          id: 'a-2',
          kind: 'process',
          text: 'Be terse.',
          status: 'disabled'
        }),
        amendment({ id: 'a-3', text: 'old', status: 'superseded' })
      ]
    });
    const grouped = groupEntries(ctx);
    expect(grouped.facts.map(e => e.amendment.id)).toEqual(['a-1']);
    expect(
      grouped.process.map(e => [e.amendment.id, e.enabled, e.index])
    ).toEqual([['a-2', false, 1]]);
    expect(grouped.facts[0].highlight!.id).toBe('h-1');
    expect(grouped.facts[0].correction!.text).toBe('Amodei et al. (2016)');
    expect(grouped.facts[0].verdicts).toEqual({
      intended: 1,
      unintended: 1,
      unchanged: 0,
      within_noise: 0
    });
  });

  it("asks the server about each highlight on its cell's current answer", () => {
    const ctx = context();
    const h = ctx.highlights[0];
    expect(anchorQueries(ctx, () => 'See Smith et al., 2019.')).toEqual([
      {
        id: h.id,
        text: 'See Smith et al., 2019.',
        position: h.position,
        quote: h.quote
      }
    ]);
    // No cell, or a cell without an answer: no text to place it on.
    expect(anchorQueries(ctx, () => undefined)[0].text).toBeNull();
    expect(anchorQueries(ctx, () => null)[0].text).toBeNull();
  });

  it.each(anchoringCases)(
    'lists the highlight orphaned only when the core says so: $name',
    async c => {
      const ctx = context();
      ctx.highlights[0] = {
        ...ctx.highlights[0],
        position: c.position,
        quote: c.quote
      };
      const placements = await fixturePlacements(
        anchorQueries(ctx, () => c.text)
      );
      expect(orphanedHighlights(ctx, placements).map(o => o.id)).toEqual(
        c.expected.status === 'orphaned' ? [ctx.highlights[0].id] : []
      );
    }
  );

  it('names the sidecar', () => {
    expect(sidecarPath('dir/analysis.ipynb')).toBe('dir/analysis.collab.json');
  });
});

describe('undo steps', () => {
  it('reverses toggle, edit, delete and settings', () => {
    const ctx = context();
    expect(
      undoStepFor(ctx, { op: 'toggle_amendment', id: 'a-1' })!.undo
    ).toEqual([{ op: 'toggle_amendment', id: 'a-1' }]);
    expect(
      undoStepFor(ctx, { op: 'update_amendment', id: 'a-1', text: 'x' })!.undo
    ).toEqual([{ op: 'undo_amendment', id: 'a-1' }]);
    const removal = undoStepFor(ctx, { op: 'remove_amendment', id: 'a-1' })!;
    expect(removal.changes).toEqual([
      { action: 'delete', text: ctx.amendments[0].text }
    ]);
    expect(removal.undo).toEqual([
      { op: 'restore_amendment', amendment: ctx.amendments[0], index: 0 }
    ]);
    expect(
      undoStepFor(ctx, { op: 'set_settings', settings: { mode: 'learning' } })!
        .undo
    ).toEqual([{ op: 'set_settings', settings: { mode: 'research' } }]);
  });

  it('keeps a bounded stack', () => {
    const stack = new UndoStack(2);
    for (const text of ['a', 'b', 'c']) {
      stack.push({ changes: [{ action: 'edit', text }], undo: [] });
    }
    expect(stack.size).toBe(2);
    expect(stack.nextChanges).toEqual([{ action: 'edit', text: 'c' }]);
    expect(stack.pop()!.changes[0].text).toBe('c');
    expect(stack.pop()!.changes[0].text).toBe('b');
    expect(stack.pop()).toBeUndefined();
    expect(stack.nextChanges).toBeNull();
  });

  it('describes the changes in the language of the bundle', () => {
    const changes = [
      { action: 'disable' as const, text: 'Cite the   primary\nsource.' },
      { action: 'settings' as const }
    ];
    expect(describeChanges(changes, trans)).toBe(
      'Disable “Cite the primary source.”; Change settings'
    );
    const long = 'x'.repeat(60);
    expect(describeChanges([{ action: 'edit', text: long }], trans)).toBe(
      `Edit “${'x'.repeat(39)}…”`
    );
    const french = frenchTranslator({
      'Delete “%1”': 'Supprimer « %1 »'
    }).load('jupyter_collab');
    expect(
      describeChanges([{ action: 'delete', text: 'Be terse.' }], french)
    ).toBe('Supprimer « Be terse. »');
  });
});

describe('NotebookContextModel', () => {
  it('applies changes and undoes them in order', async () => {
    const { server, model } = setup();
    await model.load();
    await model.apply([{ op: 'toggle_amendment', id: 'a-1' }]);
    await model.apply([{ op: 'remove_amendment', id: 'a-2' }]);
    expect(model.view!.context.amendments.map(a => [a.id, a.status])).toEqual([
      ['a-1', 'disabled']
    ]);
    expect(model.undo.nextChanges).toEqual([
      { action: 'delete', text: 'Be terse.' }
    ]);
    await model.undoLast();
    expect(model.view!.context.amendments.map(a => a.id)).toEqual([
      'a-1',
      'a-2'
    ]);
    await model.undoLast();
    expect(model.view!.context.amendments[0].status).toBe('accepted');
    expect(await model.undoLast()).toBeNull();
    expect(server.patches.map(p => p[0].op)).toEqual([
      'toggle_amendment',
      'remove_amendment',
      'restore_amendment',
      'toggle_amendment'
    ]);
  });

  it('a stale write asks, never overwrites, and reloads on request', async () => {
    const { server, model, onStale } = setup('reload');
    await model.load();
    server.ctx.revision = 9; // changed elsewhere (CLI, another tab)
    server.ctx.amendments[1].text = 'Be terse, always.';
    const result = await model.apply([{ op: 'toggle_amendment', id: 'a-1' }]);
    expect(result).toBe('reloaded');
    expect(onStale).toHaveBeenCalledWith('stale revision 3');
    expect(server.patches).toHaveLength(0);
    expect(model.revision).toBe(9);
    expect(model.view!.context.amendments[1].text).toBe('Be terse, always.');
    expect(model.undo.size).toBe(0);
  });

  it('keeps the view when the user does not reload', async () => {
    const { server, model } = setup('cancel');
    await model.load();
    server.ctx.revision = 9;
    expect(await model.apply([{ op: 'remove_amendment', id: 'a-1' }])).toBe(
      'stale'
    );
    expect(model.revision).toBe(3);
    expect(model.view!.context.amendments).toHaveLength(2);
  });

  it('shows other errors and rethrows them', async () => {
    const { server, model, onStale } = setup();
    await model.load();
    server.failNext = httpError(400, 'bad operation');
    await expect(
      model.apply([{ op: 'toggle_amendment', id: 'a-1' }])
    ).rejects.toThrow('bad operation');
    expect(model.error).toBe('bad operation');
    expect(onStale).not.toHaveBeenCalled();
    expect(isStaleError(httpError(409))).toBe(true);
    expect(isStaleError(new Error('x'))).toBe(false);
  });

  it('accepts a reviewed embedded context', async () => {
    const { server, model } = setup();
    server.open = async () => ({
      ...opened(context({ revision: 0, amendments: [] })),
      needs_review: true,
      pending: context(),
      pending_hash: 'hash-1',
      embedded: null
    });
    const accept = jest.spyOn(server, 'accept');
    await model.load();
    expect(model.opened!.needs_review).toBe(true);
    expect(await model.acceptPending()).toBe('written');
    expect(accept).toHaveBeenCalledWith('nb.ipynb', 0, 'hash-1');
    expect(model.opened!.needs_review).toBe(false);
    expect(model.view!.context.amendments.map(a => a.id)).toEqual([
      'a-1',
      'a-2'
    ]);
  });
});

describe('ContextWatcher', () => {
  it('reloads when the sidecar changes on disk, only while visible', async () => {
    const { model } = setup();
    await model.load();
    const load = jest.spyOn(model, 'load');
    let stamp = '2026-11-24T00:00:00Z';
    let visible = true;
    const contents = {
      get: jest.fn(async () => ({ last_modified: stamp }) as any)
    };
    const watcher = new ContextWatcher(
      contents as any,
      () => model,
      () => visible,
      1000
    );
    expect(await watcher.tick()).toBe(true); // the first look reloads once
    expect(contents.get).toHaveBeenCalledWith('nb.collab.json', {
      content: false
    });
    expect(await watcher.tick()).toBe(false);
    stamp = '2026-11-24T00:00:05Z';
    expect(await watcher.tick()).toBe(true);
    expect(load).toHaveBeenCalledTimes(2);
    visible = false;
    stamp = '2026-11-24T00:00:09Z';
    expect(await watcher.tick()).toBe(false);
  });
});
