import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { Sanitizer } from '@jupyterlab/apputils';
import { MimeModel } from '@jupyterlab/rendermime';
import type { ITranslator } from '@jupyterlab/translation';

import { ICollabOutput } from '../api';
import { COLLAB_MIME, STREAM_MIME } from '../mimetypes';
import { IAnswerRendered, answerEvents, usageText } from '../renderer';
import { anchorService } from '../renderer/answer';
import { rendererFactory } from '../renderer/mime';
import { activeRuns } from '../runs';
import { frenchTranslator, trans } from './translationFixtures';

const typeset: HTMLElement[] = [];

/** A markdown parser for the test: paragraphs, **bold** and `code`. */
const markdownParser = {
  render: async (source: string) =>
    source
      .split(/\n\n+/)
      .map(
        block =>
          '<p>' +
          block
            .replace(/\*\*(.+?)\*\*/g, '<strong>$1</strong>')
            .replace(/`(.+?)`/g, '<code>$1</code>') +
          '</p>'
      )
      .join('\n')
};

function renderer(mimeType: string, translator?: ITranslator) {
  return rendererFactory.createRenderer({
    mimeType,
    translator,
    sanitizer: new Sanitizer(),
    resolver: null,
    linkHandler: null,
    latexTypesetter: {
      typeset: (node: HTMLElement) => void typeset.push(node)
    } as any,
    markdownParser
  });
}

function payload(): ICollabOutput {
  return {
    version: 1,
    highlights: [
      {
        highlight: {
          id: 'h-1',
          cell_id: 'c',
          response_id: 'r',
          answer_hash: null,
          position: { type: 'TextPositionSelector', start: 4, end: 10 },
          quote: {
            type: 'TextQuoteSelector',
            exact: 'answer',
            prefix: 'The ',
            suffix: ' is'
          },
          created: '2026-01-01T00:00:00Z',
          rev: 1
        },
        corrections: [
          {
            id: 'c-1',
            highlight_id: 'h-1',
            operation: 'replace',
            text: 'reply',
            rationale: '',
            origin: 'user',
            rank: null,
            created: '2026-01-01T00:00:00Z',
            rev: 1
          }
        ],
        amendment_ids: []
      },
      {
        highlight: {
          id: 'h-2',
          cell_id: 'c',
          response_id: 'r',
          answer_hash: null,
          position: { type: 'TextPositionSelector', start: 0, end: 5 },
          quote: {
            type: 'TextQuoteSelector',
            exact: 'gone!',
            prefix: '',
            suffix: ''
          },
          created: '2026-01-01T00:00:00Z',
          rev: 1
        },
        corrections: [],
        amendment_ids: []
      }
    ],
    result: {
      answer: 'The answer is **42**, see `x`.',
      prompt: 'What?',
      response_id: 'msg_1',
      provider: 'anthropic',
      model: 'claude-x',
      mode: 'research',
      usage: {
        input_tokens: 12,
        output_tokens: 34,
        cache_read_input_tokens: 1200,
        cache_creation_input_tokens: 0
      },
      stop_reason: 'end_turn',
      context_revision: 3,
      context_hash: 'ctx',
      input_hash: 'in',
      answer_hash: 'out',
      included_amendments: [],
      omitted_amendments: [],
      cell_id: 'c',
      created: '2026-01-01T00:00:00Z',
      duration_s: 1.5
    }
  };
}

/**
 * The server's placements for `payload()`'s highlights (its anchoring is
 * tested in pytest): h-1 where it was stored, h-2 orphaned.
 */
const SERVER_PLACEMENTS = {
  'h-1': { status: 'exact', start: 4, end: 10, score: 1 },
  'h-2': { status: 'orphaned', start: null, end: null, score: 0.2 }
} as const;

const place = anchorService.place;
const asked: string[][] = [];

describe('the answer renderer', () => {
  beforeEach(() => {
    asked.length = 0;
    anchorService.place = async items => {
      asked.push(items.map(item => item.text ?? ''));
      return items.map(item => ({
        id: item.id,
        ...SERVER_PLACEMENTS[item.id as keyof typeof SERVER_PLACEMENTS]
      }));
    };
  });

  afterEach(() => {
    anchorService.place = place;
  });

  it('shows the answer without marks when the server cannot place them', async () => {
    anchorService.place = async () => {
      throw new Error('no server');
    };
    const widget = renderer(COLLAB_MIME);
    await widget.renderModel(
      new MimeModel({ data: { [COLLAB_MIME]: payload() as any } })
    );
    expect(widget.node.querySelector('mark')).toBeNull();
    expect(
      widget.node.querySelector('.jp-collab-answer strong')?.textContent
    ).toBe('42');
  });

  it('renders the markdown, the marks, the corrections and the usage line', async () => {
    const events: IAnswerRendered[] = [];
    const listener = (_: unknown, args: IAnswerRendered) => events.push(args);
    answerEvents.rendered.connect(listener);
    const widget = renderer(COLLAB_MIME);
    const data = payload();

    await widget.renderModel(
      new MimeModel({ data: { [COLLAB_MIME]: data as any } })
    );
    answerEvents.rendered.disconnect(listener);

    const node = widget.node;
    expect(node.querySelector('.jp-collab-answer strong')?.textContent).toBe(
      '42'
    );
    expect(node.querySelector('.jp-collab-answer code')?.textContent).toBe('x');
    const mark = node.querySelector('mark.jp-collab-mark');
    expect(mark?.textContent).toBe('answer');
    expect(mark?.classList.contains('jp-collab-mod-corrected')).toBe(true);
    expect(mark?.getAttribute('title')).toBe('replace: reply');
    expect(node.querySelector('.jp-collab-notes')?.textContent).toContain(
      'replace: reply'
    );
    const footer = node.querySelector('.jp-collab-footer')!;
    expect(footer.textContent).toContain('1,212 in / 34 out · 1,200 cached');
    expect(footer.textContent).toContain('claude-x · research · context r3');
    expect(footer.textContent).toContain(
      '1 highlight no longer matches the text'
    );
    expect(footer.getAttribute('title')).toContain('Response: msg_1');
    expect(typeset).toContain(node.querySelector('.jp-collab-answer'));
    expect(events).toHaveLength(1);
    expect(events[0].orphaned).toEqual(['h-2']);
    expect(events[0].payload).toBe(data);
    // The server was asked with the answer's source text, once per render.
    expect(asked).toEqual([[data.result.answer, data.result.answer]]);
  });

  it('never trusts the answer: HTML in it is sanitized', async () => {
    const widget = renderer(COLLAB_MIME);
    const data = payload();
    data.result.answer =
      'Hi <img src=x onerror="alert(1)"><script>bad()</script>';
    data.highlights = [];

    await widget.renderModel(
      new MimeModel({ data: { [COLLAB_MIME]: data as any } })
    );

    expect(widget.node.querySelector('script')).toBeNull();
    expect(widget.node.innerHTML).not.toContain('onerror');
  });

  it('says so when the payload is damaged', async () => {
    const widget = renderer(COLLAB_MIME);
    await widget.renderModel(
      new MimeModel({ data: { [COLLAB_MIME]: { result: {} } } })
    );
    expect(widget.node.textContent).toContain('damaged');
  });

  it("speaks the language of the registry's translator", async () => {
    const french = frenchTranslator({
      replace: 'remplacer',
      '%1 in / %2 out': '%1 en entrée / %2 en sortie',
      '%1 highlight no longer matches the text': [
        '%1 surlignage ne correspond plus au texte',
        '%1 surlignages ne correspondent plus au texte'
      ]
    });
    const widget = renderer(COLLAB_MIME, french);

    await widget.renderModel(
      new MimeModel({ data: { [COLLAB_MIME]: payload() as any } })
    );

    expect(french.loaded).toContain('jupyter_collab');
    const node = widget.node;
    expect(node.querySelector('mark')?.getAttribute('title')).toBe(
      'remplacer: reply'
    );
    const footer = node.querySelector('.jp-collab-footer')!;
    expect(footer.textContent).toContain('1,212 en entrée / 34 en sortie');
    expect(footer.textContent).toContain(
      '1 surlignage ne correspond plus au texte'
    );
  });
});

describe('the streaming view', () => {
  it('shows the text so far and a cancel button that cancels the run', async () => {
    const run = activeRuns.start({}, {});
    const widget = renderer(STREAM_MIME);

    await widget.renderModel(
      new MimeModel({
        data: {
          [STREAM_MIME]: {
            text: 'So **far**',
            status: 'streaming',
            run_id: run.id
          }
        }
      })
    );

    expect(widget.node.querySelector('strong')?.textContent).toBe('far');
    expect(widget.node.classList.contains('jp-collab-mod-streaming')).toBe(
      true
    );
    const cancel = widget.node.querySelector<HTMLButtonElement>(
      'button.jp-collab-cancel'
    )!;
    cancel.click();
    expect(run.cancelled).toBe(true);
    activeRuns.end(run);
  });

  it('marks a cancelled or abandoned answer as incomplete', async () => {
    const widget = renderer(STREAM_MIME);
    await widget.renderModel(
      new MimeModel({
        data: {
          [STREAM_MIME]: { text: 'Half', status: 'cancelled', run_id: null }
        }
      })
    );
    expect(widget.node.textContent).toContain('Cancelled');
    expect(widget.node.querySelector('button')).toBeNull();

    await widget.renderModel(
      new MimeModel({
        data: {
          [STREAM_MIME]: { text: 'Half', status: 'streaming', run_id: 'old' }
        }
      })
    );
    expect(widget.node.textContent).toContain(
      'Still arriving from the page that ran this cell'
    );
    expect(
      widget.node.querySelector('.jp-collab-mod-elsewhere')
    ).not.toBeNull();
    // Another page's run cannot be cancelled from here.
    expect(widget.node.querySelector('button')).toBeNull();
  });
});

describe('usageText', () => {
  it('leaves out cache parts that are zero', () => {
    expect(
      usageText(
        {
          input_tokens: 5,
          output_tokens: 6,
          cache_read_input_tokens: 0,
          cache_creation_input_tokens: 100
        },
        trans
      )
    ).toBe('105 in / 6 out · 100 written to cache');
  });
});
