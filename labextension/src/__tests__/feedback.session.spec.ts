import { describe, expect, it, jest } from '@jest/globals';

import { IHighlightInput, IProposedAmendment } from '../api/wire';
import { isCollabPayload } from '../feedback/payload';
import { placeBox } from '../feedback/popover';
import { FeedbackSession, ILoopClient } from '../feedback/session';
import {
  amendmentWarnings,
  describeWarning,
  normalize,
  similarity
} from '../feedback/warnings';
import { context } from './feedbackFixtures';
import { trans } from './translationFixtures';

const highlight: IHighlightInput = {
  answer: 'See Smith et al., 2019.',
  prompt: 'Which paper?',
  position: { type: 'TextPositionSelector', start: 4, end: 22 },
  quote: {
    type: 'TextQuoteSelector',
    exact: 'Smith et al., 2019',
    prefix: 'See ',
    suffix: '.'
  },
  cell_id: 'cell-a',
  response_id: 'msg_1'
};

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>(r => (resolve = r));
  return { promise, resolve };
}

function proposal(
  text: string,
  extra: Partial<IProposedAmendment> = {}
): IProposedAmendment {
  return {
    kind: 'fact',
    text,
    rationale: 'why',
    duplicates: [],
    contradicts: [],
    ...extra
  };
}

describe('FeedbackSession', () => {
  it('loads suggestions, then amendments from the chosen one', async () => {
    const client: ILoopClient = {
      suggest: jest.fn(async () => [
        {
          operation: 'replace' as const,
          text: 'Amodei et al. (2016)',
          why: 'wrong cite',
          rank: 0
        }
      ]),
      propose: jest.fn(async () => [proposal('Cite Amodei et al. (2016).')])
    };
    const session = new FeedbackSession(highlight, 'nb.ipynb', client);
    const states: string[] = [];
    session.changed.connect(() =>
      states.push(`${session.suggestionsState}/${session.amendmentsState}`)
    );
    await session.start();
    expect(session.suggestions).toHaveLength(1);
    await session.chooseSuggestion(0);
    expect(client.propose).toHaveBeenCalledWith(
      highlight,
      {
        operation: 'replace',
        text: 'Amodei et al. (2016)',
        why: 'wrong cite',
        origin: 'ai',
        rank: 0
      },
      'nb.ipynb'
    );
    expect(states).toEqual([
      'loading/idle',
      'ready/idle',
      'ready/loading',
      'ready/ready'
    ]);
    expect(session.draft()).toEqual({
      kind: 'fact',
      text: 'Cite Amodei et al. (2016).',
      rationale: 'why'
    });
  });

  it('uses the researcher’s own correction and amendment', async () => {
    const client: ILoopClient = {
      suggest: async () => [],
      propose: jest.fn(async () => [])
    };
    const session = new FeedbackSession(highlight, null, client);
    await session.useOwnCorrection('  Amodei 2016  ');
    expect((client.propose as jest.Mock).mock.calls[0][1]).toEqual({
      operation: 'replace',
      text: 'Amodei 2016',
      why: '',
      origin: 'user',
      rank: null
    });
    expect(session.selected).toBe(0);
    expect(session.draft()).toBeNull();
    session.edit(0, { text: 'Be terse.', kind: 'process' });
    expect(session.draft()).toEqual({
      kind: 'process',
      text: 'Be terse.',
      rationale: ''
    });
  });

  it('drops amendments that arrive after another choice', async () => {
    const first = deferred<IProposedAmendment[]>();
    const second = deferred<IProposedAmendment[]>();
    const calls = [first.promise, second.promise];
    const client: ILoopClient = {
      suggest: async () => [
        { operation: 'replace', text: 'A', why: '', rank: 0 },
        { operation: 'replace', text: 'B', why: '', rank: 1 }
      ],
      propose: () => calls.shift()!
    };
    const session = new FeedbackSession(highlight, null, client);
    await session.start();
    const one = session.chooseSuggestion(0);
    const two = session.chooseSuggestion(1);
    second.resolve([proposal('from B')]);
    await two;
    first.resolve([proposal('from A')]);
    await one;
    expect(session.candidates.map(c => c.text)).toEqual(['from B']);
  });

  it('reports errors as states', async () => {
    const session = new FeedbackSession(highlight, null, {
      suggest: async () => {
        throw new Error('provider down');
      },
      propose: async () => []
    });
    await session.start();
    expect(session.suggestionsState).toBe('error');
    expect(session.suggestionsError).toBe('provider down');
  });

  it('warns about duplicates and contradictions', async () => {
    const ctx = context();
    const session = new FeedbackSession(
      highlight,
      null,
      {
        suggest: async () => [],
        propose: async () => [
          proposal('Something else entirely.', { contradicts: ['a-1'] })
        ]
      },
      () => ctx
    );
    await session.useOwnCorrection('x');
    expect(session.warnings(0).map(w => w.kind)).toEqual(['contradicts']);
    // Once edited, the server's flags no longer apply; the text is checked here.
    session.edit(0, {
      text: 'Concrete problems in AI safety is by Amodei et al 2016'
    });
    expect(session.warnings(0).map(w => [w.kind, w.id])).toEqual([
      ['duplicate', 'a-1']
    ]);
  });
});

describe('warnings', () => {
  it('normalizes like the server', () => {
    expect(normalize('  Cite, Amodei  (2016)! ')).toBe('cite amodei 2016');
  });

  it('measures similarity with a character diff', () => {
    expect(similarity('Be terse.', 'be terse')).toBe(1);
    expect(similarity('Be terse.', 'Write long reports.')).toBeLessThan(0.9);
  });

  it('ignores superseded entries', () => {
    const ctx = context();
    ctx.amendments[0].status = 'superseded';
    expect(amendmentWarnings(ctx.amendments[0].text, ctx)).toEqual([]);
  });
});

describe('isCollabPayload', () => {
  it('takes a payload with an answer text, nothing else', () => {
    expect(isCollabPayload({ result: { answer: 'See Smith.' } })).toBe(true);
    expect(isCollabPayload(null)).toBe(false);
    expect(isCollabPayload('text')).toBe(false);
    expect(isCollabPayload({ result: null })).toBe(false);
    expect(isCollabPayload({ result: { answer: 3 } })).toBe(false);
  });
});

describe('placeBox', () => {
  it('goes below the anchor, or above when there is no room', () => {
    const viewport = { width: 1000, height: 800 };
    expect(
      placeBox(
        { left: 100, top: 100, bottom: 120 },
        { width: 400, height: 300 },
        viewport
      )
    ).toEqual({
      left: 100,
      top: 128
    });
    expect(
      placeBox(
        { left: 900, top: 700, bottom: 720 },
        { width: 400, height: 300 },
        viewport
      )
    ).toEqual({
      left: 592,
      top: 392
    });
  });
});

describe('warnings from shared layers', () => {
  it('keeps a flag on an entry of another layer, named by its id', () => {
    const ctx = context();
    const warnings = amendmentWarnings('Use mM for concentrations.', ctx, {
      duplicates: ['a-projectfact1']
    });
    expect(warnings).toEqual([
      { kind: 'duplicate', id: 'a-projectfact1', text: '' }
    ]);
    expect(describeWarning(warnings[0], trans)).toBe(
      'Repeats entry a-projectfact1 of a shared layer (see Layers)'
    );
  });
});
