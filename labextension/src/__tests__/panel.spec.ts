import { describe, expect, it, jest } from '@jest/globals';

import { ICheckHandlers, IStreamRequest } from '../api/stream';
import { StreamError } from '../api/streamErrors';
import {
  IAmendment,
  IAmendmentCheck,
  ICheckMessage,
  ICheckRequest,
  IContextView,
  IPreviewResult,
  IProbeCheck
} from '../api/wire';
import { PatchOperation } from '../api/types';
import { ICheckClient, NotebookCheck } from '../panel/check';
import { IEntryCheck, checkDetails, healthLine } from '../panel/checkView';
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

/**
 * A check client whose server is the test: it records each request and lets
 * the test send events and end it.
 */
class FakeChecks implements ICheckClient {
  requests: ICheckRequest[] = [];
  cancelled = 0;
  handlers: ICheckHandlers = {};
  private _resolve: (message: ICheckMessage) => void = () => undefined;
  private _reject: (error: Error) => void = () => undefined;

  check(
    request: ICheckRequest,
    handlers: ICheckHandlers
  ): IStreamRequest<ICheckMessage> {
    this.requests.push(request);
    this.handlers = handlers;
    const done = new Promise<ICheckMessage>((resolve, reject) => {
      this._resolve = resolve;
      this._reject = reject;
    });
    return {
      id: `c-${this.requests.length}`,
      done,
      cancel: () => {
        this.cancelled += 1;
      }
    };
  }

  send(fields: Partial<ICheckMessage>): ICheckMessage {
    const message: ICheckMessage = {
      event: 'probe',
      total: 3,
      done: 0,
      amendments: 0,
      amendment_id: null,
      probe: null,
      amendment: null,
      report: null,
      message: null,
      type: 'check',
      context: null,
      id: 'c-1',
      ...fields
    };
    this.handlers.onProgress?.(message);
    return message;
  }

  finish(fields: Partial<ICheckMessage>): void {
    this._resolve(this.send({ event: 'finished', ...fields }));
  }

  fail(error: Error): void {
    this._reject(error);
  }
}

function probeCheck(overrides: Partial<IProbeCheck> = {}): IProbeCheck {
  return {
    index: 0,
    prompt: 'Which paper?',
    probe_kind: 'original',
    expectation: 'change',
    outcome: 'fail',
    decided_by: 'deterministic',
    verdict: 'unchanged',
    reason: 'No effect: the model ignores the fact.',
    baseline: 'Smith et al.',
    amended: 'Smith et al.',
    baseline_hash: 'x',
    amended_hash: 'x',
    accepted_hash: null,
    noise: null,
    measures: {},
    conflict_with: null,
    ...overrides
  };
}

function amendmentCheck(
  overrides: Partial<IAmendmentCheck> = {}
): IAmendmentCheck {
  return {
    amendment_id: 'a-1',
    kind: 'fact',
    text: 'Concrete Problems in AI Safety is by Amodei et al. (2016).',
    health: 'broken',
    summary: '1 of 1 probes fail: the model ignores the fact.',
    conflicts_with: [],
    probes: [probeCheck()],
    ...overrides
  };
}

const STORED_PROBES: IPreviewResult[] = [
  {
    probe: 'Which paper?',
    probe_kind: 'original' as const,
    baseline_hash: 'b',
    amended_hash: 'a',
    verdict: 'intended' as const,
    reason: '',
    expectation: null,
    amended_text: null,
    measures: {}
  },
  {
    probe: 'What is 2 + 2?',
    probe_kind: 'should_not_change' as const,
    baseline_hash: 'b',
    amended_hash: 'b',
    verdict: 'unchanged' as const,
    reason: '',
    expectation: 'no_change' as const,
    amended_text: null,
    measures: {}
  }
];

describe('NotebookCheck', () => {
  it('follows the stream and takes the stored context at the end', async () => {
    const { model, server } = setup();
    await model.load();
    const checks = new FakeChecks();
    const check = new NotebookCheck(checks, model);
    const renders = jest.fn();
    check.changed.connect(renders);

    const running = check.start('a-1');
    expect(checks.requests).toEqual([
      { path: 'nb.ipynb', amendment_id: 'a-1' }
    ]);
    expect(check.running).toBe(true);
    expect(check.covers('a-1')).toBe(true);
    expect(check.covers('a-2')).toBe(false);
    await check.start(null); // one check at a time
    expect(checks.requests).toHaveLength(1);

    checks.send({ event: 'started', total: 2, amendments: 1 });
    checks.send({
      done: 1,
      total: 2,
      amendment_id: 'a-1',
      probe: probeCheck({ index: 1, outcome: 'pass' })
    });
    expect(check.done).toBe(1);
    expect(check.total).toBe(2);
    expect(check.probes('a-1').map(p => p.index)).toEqual([1]);
    expect(check.result('a-1')).toBeNull();

    checks.send({ event: 'amendment', done: 2, amendment: amendmentCheck() });
    // A later conflict names the amendment again: the last event wins.
    checks.send({
      event: 'amendment',
      done: 2,
      amendment: amendmentCheck({ health: 'conflict', conflicts_with: ['a-2'] })
    });
    expect(check.result('a-1')?.health).toBe('conflict');
    expect(check.probes('a-1').map(p => p.index)).toEqual([0]);

    const stored = clone(server.ctx);
    stored.revision = 4;
    stored.amendments[0].check = {
      health: 'conflict',
      at: '2026-12-05T02:00:00Z',
      provider: 'anthropic',
      model: 'claude-test',
      summary: 'conflicts with a-2',
      conflicts_with: ['a-2'],
      probes_passed: 0,
      probes_total: 1,
      replayed: false
    };
    checks.finish({
      report: {
        provider: 'anthropic',
        model: 'claude-test',
        at: '2026-12-05T02:00:00Z',
        amendments: [amendmentCheck()],
        cancelled: false,
        replayed: false,
        calls: 4,
        duration_s: 1
      },
      context: { ...opened(stored), expectations: { 'a-1': ['change'] } }
    });
    await running;
    expect(check.running).toBe(false);
    expect(check.error).toBeNull();
    expect(model.revision).toBe(4);
    expect(model.view?.context.amendments[0].check?.health).toBe('conflict');
    expect(model.view?.expectations).toEqual({ 'a-1': ['change'] });
    expect(renders.mock.calls.length).toBeGreaterThanOrEqual(6);
  });

  it('cancels through the request and reports a failure', async () => {
    const { model } = setup();
    await model.load();
    const checks = new FakeChecks();
    const check = new NotebookCheck(checks, model);
    const running = check.start(null);
    expect(checks.requests[0].amendment_id).toBeNull();
    check.cancel();
    expect(checks.cancelled).toBe(1);
    checks.fail(new StreamError('the model is unavailable', 502, 'provider'));
    await running;
    expect(check.running).toBe(false);
    expect(check.error).toBe('the model is unavailable');
    expect(model.revision).toBe(3); // nothing stored, nothing taken
  });
});

function entryCheck(
  run: NotebookCheck | null,
  overrides: Partial<IEntryCheck> = {}
) {
  const calls: unknown[][] = [];
  const state: IEntryCheck = {
    run,
    expectations: ['change', 'no_change'],
    textOf: id => (id === 'a-2' ? 'Be terse.' : null),
    draft: { prompt: '', expectation: 'change' },
    actions: {
      check: id => calls.push(['check', id]),
      cancelCheck: () => calls.push(['cancel']),
      setExpectation: (id, probe, expectation) =>
        calls.push(['expect', id, probe, expectation]),
      addProbe: (id, prompt, expectation) =>
        calls.push(['add', id, prompt, expectation]),
      removeProbe: (id, probe) => calls.push(['remove', id, probe]),
      isOpen: () => true,
      setOpen: () => undefined
    },
    ...overrides
  };
  return { state, calls };
}

describe('check view', () => {
  it('shows the stored health with date and model, and a Check button', () => {
    const entry = amendment({
      preview: STORED_PROBES,
      check: {
        health: 'conflict',
        at: '2026-12-05T02:00:00Z',
        provider: 'anthropic',
        model: 'claude-test',
        summary: 'Fails with a-2.',
        conflicts_with: ['a-2'],
        probes_passed: 1,
        probes_total: 2,
        replayed: false
      }
    });
    const { state, calls } = entryCheck(null);
    const line = healthLine(entry, state, trans);
    expect(line.dataset.health).toBe('conflict');
    const text = line.querySelector('[role="status"]')!.textContent!;
    expect(text).toContain('Conflict · 1/2 probes');
    expect(text).toContain('claude-test');
    expect(text).toContain(new Date('2026-12-05T02:00:00Z').toLocaleString());
    expect(text).toContain('with “Be terse.”');
    const checkButton = line.querySelector('button')!;
    expect(checkButton.getAttribute('aria-label')).toContain('Check “');
    checkButton.click();
    expect(calls).toEqual([['check', 'a-1']]);

    const untested = healthLine(amendment(), state, trans);
    expect(untested.textContent).toContain('Not checked yet');
  });

  it('shows a running check live, with Cancel on the entry checked', async () => {
    const { model } = setup();
    await model.load();
    const checks = new FakeChecks();
    const run = new NotebookCheck(checks, model);
    void run.start('a-1');
    const entry = amendment({ preview: STORED_PROBES });
    const { state, calls } = entryCheck(run);
    let line = healthLine(entry, state, trans);
    expect(line.textContent).toContain('Checking… 0 of 2 probes');
    line.querySelector('button')!.click();
    expect(calls).toEqual([['cancel']]);
    // Another entry cannot start a second check meanwhile.
    const other = healthLine(amendment({ id: 'a-2' }), state, trans);
    expect(other.querySelector('button')!.disabled).toBe(true);

    checks.send({ amendment_id: 'a-1', done: 1, probe: probeCheck() });
    const details = checkDetails(entry, state, trans);
    const first = details.querySelector('[data-probe="1"]')!;
    expect(first.querySelector('.jp-collab-outcome')!.textContent).toBe(
      '✗ fail'
    );
    expect(first.textContent).toContain('the model ignores the fact');

    checks.send({ event: 'amendment', amendment: amendmentCheck() });
    line = healthLine(entry, state, trans);
    expect(line.dataset.health).toBe('broken');
  });

  it('edits expectations, removes and adds probes through actions', () => {
    const entry = amendment({ preview: STORED_PROBES });
    const { state, calls } = entryCheck(null);
    const details = checkDetails(entry, state, trans);
    const selects = details.querySelectorAll<HTMLSelectElement>(
      '.jp-collab-probes select'
    );
    expect(Array.from(selects).map(s => s.value)).toEqual([
      'change',
      'no_change'
    ]);
    expect(selects[0].getAttribute('aria-label')).toBe(
      'Expectation of probe 1'
    );
    // Only the first probe's expectation is derived (the server's rule).
    expect(details.querySelector('[data-probe="1"]')!.textContent).toContain(
      'derived'
    );
    expect(
      details.querySelector('[data-probe="2"]')!.textContent
    ).not.toContain('derived');
    selects[0].value = 'no_change';
    selects[0].dispatchEvent(new Event('change'));
    details
      .querySelector<HTMLButtonElement>('[aria-label="Remove probe 2"]')!
      .click();
    const input = details.querySelector<HTMLInputElement>(
      '[aria-label="New probe prompt"]'
    )!;
    input.value = 'Who wrote it?';
    input.dispatchEvent(new Event('input'));
    const newExpect = details.querySelector<HTMLSelectElement>(
      '[aria-label="Expectation of the new probe"]'
    )!;
    newExpect.value = 'no_change';
    newExpect.dispatchEvent(new Event('change'));
    details
      .querySelector<HTMLButtonElement>('.jp-collab-add-probe-button')!
      .click();
    expect(calls).toEqual([
      ['expect', 'a-1', 1, 'no_change'],
      ['remove', 'a-1', 2],
      ['add', 'a-1', 'Who wrote it?', 'no_change']
    ]);
  });
});
