import { describe, expect, it } from '@jest/globals';

import { IHistoryCell, collabPayload, turnsAbove } from '../history';
import { COLLAB_MIME } from '../mimetypes';

function answered(prompt: string, answer: string): IHistoryCell {
  return {
    type: 'code',
    source: `%%collab\n${prompt}`,
    outputs: [
      { 'text/plain': 'noise' },
      { [COLLAB_MIME]: { result: { prompt: `filled ${prompt}`, answer } } }
    ]
  };
}

describe('turnsAbove', () => {
  it('takes the stored prompt and answer of collaborator cells above, in order', () => {
    const cells: IHistoryCell[] = [
      answered('one', 'first'),
      { type: 'code', source: 'x = 1', outputs: [] },
      { type: 'markdown', source: '%%collab\nnot code', outputs: [] },
      answered('two', 'second'),
      answered('three', 'third')
    ];

    expect(turnsAbove(cells, 4)).toEqual([
      { prompt: 'filled one', answer: 'first' },
      { prompt: 'filled two', answer: 'second' }
    ]);
  });

  it('skips unanswered cells, empty answers and damaged payloads', () => {
    const cells: IHistoryCell[] = [
      { type: 'code', source: '%%collab\nnone', outputs: [] },
      answered('empty', ''),
      {
        type: 'code',
        source: '%%collab\nbroken',
        outputs: [{ [COLLAB_MIME]: { result: { answer: 3 } } }]
      },
      {
        type: 'code',
        source: 'print(1)',
        outputs: [{ [COLLAB_MIME]: { result: { prompt: 'p', answer: 'a' } } }]
      }
    ];

    expect(turnsAbove(cells, cells.length)).toEqual([]);
  });
});

describe('collabPayload', () => {
  it('returns the payload of an answer bundle only', () => {
    expect(collabPayload(undefined)).toBeNull();
    expect(collabPayload({ 'text/markdown': 'x' })).toBeNull();
    const payload = { result: { prompt: 'p', answer: 'a' } };
    expect(collabPayload({ [COLLAB_MIME]: payload })).toBe(payload);
  });
});
