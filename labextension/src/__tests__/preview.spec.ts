import { describe, expect, it } from '@jest/globals';

import { IPreviewOptions } from '../api/loop';
import {
  IAmendmentDraft,
  IAnswerMeasures,
  IAnswerShape,
  IPreviewReport,
  IPreviewRequest,
  IProbe,
  IProbeOutcome,
  IProbeSent
} from '../api/wire';
import { renderColumn, sideBySide } from '../preview/diff';
import { IPreviewClient, PreviewModel } from '../preview/model';
import { outcomesSummary } from '../preview/measures';
import { probeRow } from '../preview/probeRow';
import {
  emptyVerdictCounts,
  verdictBadge,
  verdictLabel,
  verdictSummary
} from '../preview/verdict';
import { frenchTranslator, trans } from './translationFixtures';

const SHAPE: IAnswerShape = {
  words: 6,
  prose_words: 6,
  lines: 1,
  sentences: 1,
  bullets: 0,
  numbered: 0,
  headings: 0,
  table_rows: 0,
  code_blocks: 0,
  questions: 0
};

function outcome(
  sent: IProbeSent,
  amendedText: string,
  cached = false
): IProbeOutcome {
  const probe: IProbe = {
    expectation: '',
    ...sent,
    notebook: sent.notebook ?? null
  };
  return {
    probe,
    baseline: `baseline of ${probe.prompt}`,
    amended: amendedText,
    baseline_hash: 'b',
    amended_hash: 'a',
    baseline_cached: cached,
    verdict: amendedText.includes('same') ? 'unchanged' : 'intended',
    reason: 'because',
    noise: null,
    measures: null,
    verdict_source: 'judge'
  };
}

/**
 * Measures as the server sends them for a fact whose year now appears.
 */
const FACT_MEASURES: IAnswerMeasures = {
  word_change_share: 0.2,
  key_terms: ['1648', 'Westphalia'],
  terms_in_baseline: ['Westphalia'],
  terms_in_amended: ['1648', 'Westphalia'],
  terms_gained: ['1648'],
  terms_lost: [],
  length_ratio: 1,
  baseline_shape: SHAPE,
  amended_shape: SHAPE,
  shape_changes: [],
  measured_verdict: 'intended'
};

/**
 * A fake server: every preview answers each probe; the baseline is cached
 * from the second run on.
 */
class FakeClient implements IPreviewClient {
  runs: IPreviewRequest[] = [];
  probesAsked = 0;
  hold: ((report: IPreviewReport) => void) | null = null;
  holdNext = false;

  async probes(): Promise<IProbe[]> {
    this.probesAsked++;
    return [
      {
        prompt: 'original?',
        kind: 'original',
        expectation: '',
        notebook: null
      },
      {
        prompt: 'unrelated?',
        kind: 'should_not_change',
        expectation: '',
        notebook: null
      }
    ];
  }

  run(
    request: IPreviewRequest,
    options: IPreviewOptions
  ): Promise<IPreviewReport> {
    this.runs.push(request);
    const cached = this.runs.length > 1;
    const amendment: IAmendmentDraft = {
      rationale: '',
      ...request.amendment
    };
    const outcomes = request.probes.map(p =>
      outcome(
        p,
        p.kind === 'should_not_change'
          ? 'same'
          : `${request.amendment.text} applied`,
        cached
      )
    );
    if (this.holdNext) {
      this.holdNext = false;
      options.onProgress?.({
        event: 'probe',
        total: 2,
        done: 1,
        outcome: outcomes[0],
        report: null,
        message: null,
        noise_samples: null,
        probes: null
      });
      return new Promise(resolve => {
        options.signal?.addEventListener('abort', () =>
          resolve({
            amendment,
            outcomes: outcomes.slice(0, 1),
            cancelled: true,
            model: 'm',
            duration_s: 0,
            noise_samples: 2
          })
        );
      });
    }
    outcomes.forEach((o, i) =>
      options.onProgress?.({
        event: 'probe',
        total: outcomes.length,
        done: i + 1,
        outcome: o,
        report: null,
        message: null,
        noise_samples: null,
        probes: null
      })
    );
    return Promise.resolve({
      amendment,
      outcomes,
      cancelled: false,
      model: 'm',
      duration_s: 0,
      noise_samples: 2
    });
  }
}

function model(client = new FakeClient()) {
  return new PreviewModel(
    { kind: 'fact', text: 'Cite Amodei.', rationale: '' },
    'nb.ipynb',
    { notebook: ['earlier?'], original: 'original?' },
    client
  );
}

describe('sideBySide', () => {
  it('splits a word diff into two columns', () => {
    const diff = sideBySide(
      'The paper is Smith 2019.',
      'The paper is Amodei 2016.'
    );
    expect(diff.changed).toBe(true);
    expect(
      diff.baseline
        .filter(p => p.kind === 'removed')
        .map(p => p.text)
        .join('|')
    ).toBe('Smith|2019');
    expect(
      diff.amended
        .filter(p => p.kind === 'added')
        .map(p => p.text)
        .join('|')
    ).toBe('Amodei|2016');
    expect(
      diff.baseline
        .filter(p => p.kind !== 'added')
        .map(p => p.text)
        .join('')
    ).toBe('The paper is Smith 2019.');
    expect(diff.amended.map(p => p.text).join('')).toBe(
      'The paper is Amodei 2016.'
    );
    expect(diff.added).toBe(2);
    expect(diff.removed).toBe(2);
  });

  it('reports no change for equal texts', () => {
    expect(sideBySide('same', 'same').changed).toBe(false);
  });

  it('renders text safely with ins/del', () => {
    const column = renderColumn(sideBySide('a <b>', 'a <i>').amended);
    expect(column.querySelector('ins')!.textContent).toBe('i');
    expect(column.querySelector('i')).toBeNull();
    expect(column.textContent).toBe('a <i>');
  });
});

describe('verdicts', () => {
  it('badges carry the verdict and the reason', () => {
    const badge = verdictBadge('unintended', 'it changed the tone', trans);
    expect(badge.classList.contains('jp-mod-unintended')).toBe(true);
    expect(badge.textContent).toContain('Unintended change');
    expect(badge.title).toBe('it changed the tone');
    expect(badge.getAttribute('aria-label')).toBe(
      'Unintended change: it changed the tone'
    );
    expect(verdictLabel('intended', trans)).toBe('Changed as intended');
    expect(
      verdictSummary(
        { intended: 2, unintended: 0, unchanged: 1, within_noise: 3 },
        trans
      )
    ).toBe('2 intended · 1 unchanged · 3 within noise');
    expect(verdictSummary(emptyVerdictCounts(), trans)).toBe('not previewed');
  });

  it('badges and summaries speak the language of the bundle', () => {
    const french = frenchTranslator({
      'Unintended change': 'Changement non voulu',
      '%1 intended': '%1 voulu(s)'
    }).load('jupyter_collab');
    expect(verdictBadge('unintended', '', french).textContent).toBe(
      '⚠ Changement non voulu'
    );
    expect(
      verdictSummary({ ...emptyVerdictCounts(), intended: 2 }, french)
    ).toBe('2 voulu(s)');
  });

  it('a within-noise probe shows its badge and the measure', () => {
    const probe: IProbe = {
      prompt: 'q?',
      kind: 'user',
      expectation: '',
      notebook: null
    };
    const noisy: IProbeOutcome = {
      ...outcome(probe, 'other words'),
      verdict: 'within_noise',
      reason: 'No effect beyond sampling noise.',
      noise: {
        measure: 'word_change_share',
        baseline_samples: 2,
        baseline_spread: 0.583,
        amended_change: 0.617,
        margin: 0.15,
        within_noise: true
      }
    };
    const row = probeRow(
      { probe, outcome: noisy, previous: null, running: false },
      trans
    );
    const badge = row.querySelector('.jp-collab-verdict')!;
    expect(badge.classList.contains('jp-mod-within_noise')).toBe(true);
    expect(badge.textContent).toBe('≈ Within noise');
    const measure = row.querySelector('.jp-collab-noise')!;
    expect(measure.textContent).toBe(
      '62% of words changed; 58% between baseline samples'
    );
    expect(measure.getAttribute('title')).toContain('sampled 2 times');
    expect(measure.getAttribute('title')).toContain('15%');
  });

  it('a verdict of a weak judge leads with the measures, not a badge', () => {
    const probe: IProbe = {
      prompt: 'q?',
      kind: 'original',
      expectation: '',
      notebook: null
    };
    const weak: IProbeOutcome = {
      ...outcome(probe, 'signed in 1648'),
      verdict: 'unintended',
      reason: 'It changed.',
      measures: FACT_MEASURES,
      verdict_source: 'weak_judge'
    };
    const row = probeRow(
      { probe, outcome: weak, previous: null, running: false },
      trans
    );
    expect(row.querySelector('.jp-collab-verdict')).toBeNull();
    expect(row.querySelector('.jp-collab-weak-signal')!.textContent).toBe(
      'weak signal: see the measures'
    );
    const measures = row.querySelector('.jp-collab-measures.jp-mod-lead')!;
    expect(measures.textContent).toContain(
      'Measures point to: Changed as intended'
    );
    expect(measures.textContent).toContain('Now present: 1648');
    expect(measures.textContent).toContain(
      'Key terms of the fact: 1/2 in the baseline, 2/2 in the amended answer'
    );
    const verdict = row.querySelector('.jp-collab-weak-verdict')!;
    expect(verdict.textContent).toBe(
      'Judge (weak signal): Unintended change. It changed.'
    );
    // The measures come before the weak verdict.
    expect(
      measures.compareDocumentPosition(verdict) &
        Node.DOCUMENT_POSITION_FOLLOWING
    ).toBeTruthy();
  });

  it("the summary leads with the measures when a verdict is a weak judge's", () => {
    const probe: IProbe = {
      prompt: 'q?',
      kind: 'original',
      expectation: '',
      notebook: null
    };
    const judged = {
      ...outcome(probe, 'signed in 1648'),
      verdict: 'unintended' as const,
      measures: FACT_MEASURES
    };
    const same = { ...outcome(probe, 'same'), measures: null };
    expect(outcomesSummary([judged, same], trans)).toBe(
      '1 unintended · 1 unchanged'
    );
    expect(
      outcomesSummary(
        [{ ...judged, verdict_source: 'weak_judge' as const }, same],
        trans
      )
    ).toBe('Measures: 1 intended · weak judge: 1 unintended · 1 unchanged');
  });

  it('a trusted verdict keeps its badge, the measures follow it', () => {
    const probe: IProbe = {
      prompt: 'q?',
      kind: 'original',
      expectation: '',
      notebook: null
    };
    const row = probeRow(
      {
        probe,
        outcome: {
          ...outcome(probe, 'bulleted now'),
          measures: {
            ...FACT_MEASURES,
            key_terms: [],
            terms_in_baseline: [],
            terms_in_amended: [],
            terms_gained: [],
            shape_changes: ['bullets 0 → 3']
          }
        },
        previous: null,
        running: false
      },
      trans
    );
    expect(row.querySelector('.jp-collab-verdict')!.textContent).toBe(
      '✓ Changed as intended'
    );
    expect(row.querySelector('.jp-collab-weak-signal')).toBeNull();
    const measures = row.querySelector('.jp-collab-measures')!;
    expect(measures.classList.contains('jp-mod-lead')).toBe(false);
    expect(measures.textContent).toBe(
      '20% of words changedShape: bullets 0 → 3'
    );
  });

  it('a probe row shows both sides and "baseline cached"', () => {
    const probe: IProbe = {
      prompt: 'q?',
      kind: 'user',
      expectation: '',
      notebook: null
    };
    const row = probeRow(
      {
        probe,
        outcome: outcome(probe, 'new words', true),
        previous: null,
        running: false
      },
      trans
    );
    expect(row.querySelectorAll('.jp-collab-probe-column')).toHaveLength(2);
    expect(row.querySelector('.jp-collab-cached')!.textContent).toBe(
      'baseline cached'
    );
    expect(
      row.querySelector('.jp-collab-verdict')!.getAttribute('data-verdict')
    ).toBe('intended');
    // Identical answers carry no measure, so none is shown.
    expect(row.querySelector('.jp-collab-noise')).toBeNull();
  });
});

describe('PreviewModel', () => {
  it('generates probes, runs them and reports', async () => {
    const client = new FakeClient();
    const preview = model(client);
    await preview.start();
    expect(preview.status).toBe('done');
    expect(preview.outcomes.size).toBe(2);
    expect(preview.done).toBe(2);
    expect(preview.report()!.outcomes.map(o => o.verdict)).toEqual([
      'intended',
      'unchanged'
    ]);
    // The report it finalizes with says what the server's report said.
    expect(preview.report()!.noise_samples).toBe(2);
  });

  it('re-runs after an edit, keeping the previous baselines meanwhile', async () => {
    const client = new FakeClient();
    const preview = model(client);
    await preview.start();
    preview.amendment.text = 'Cite Amodei et al. (2016).';
    expect(preview.stale).toBe(true);
    expect(preview.report()).toBeNull();
    const run = preview.run();
    expect(preview.previous.size).toBe(2);
    await run;
    expect(client.runs).toHaveLength(2);
    expect(client.runs[1].probes).toHaveLength(2);
    expect(preview.stale).toBe(false);
    expect([...preview.outcomes.values()].every(o => o.baseline_cached)).toBe(
      true
    );
    expect(preview.report()!.amendment.text).toBe('Cite Amodei et al. (2016).');
  });

  it('runs a probe the researcher adds on its own', async () => {
    const client = new FakeClient();
    const preview = model(client);
    await preview.start();
    await preview.addProbe('  my own probe?  ');
    expect(client.runs[1].probes).toEqual([
      { prompt: 'my own probe?', kind: 'user', expectation: '', notebook: null }
    ]);
    expect(preview.outcomes.size).toBe(3);
    expect(preview.report()!.outcomes).toHaveLength(3);
    await preview.addProbe('my own probe?');
    expect(client.runs).toHaveLength(2);
  });

  it('cancels, keeping what ran', async () => {
    const client = new FakeClient();
    const preview = model(client);
    client.holdNext = true;
    const started = preview.start();
    await new Promise(r => setTimeout(r, 0));
    expect(preview.status).toBe('running');
    preview.cancel();
    await started;
    expect(preview.status).toBe('cancelled');
    expect(preview.outcomes.size).toBe(1);
  });

  it('fails clearly without probes', async () => {
    const preview = new PreviewModel(
      { kind: 'fact', text: 'x', rationale: '' },
      null,
      { notebook: [], original: null },
      {
        probes: async () => [],
        run: async () => {
          throw new Error('not called');
        }
      }
    );
    await preview.start();
    expect(preview.status).toBe('error');
    expect(preview.error).toContain('no probes');
  });
});
