import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'fs';
import { join } from 'path';

import {
  cellOptions,
  isCollabSource,
  newCellSource,
  parseOptions,
  shellSplit,
  splitCell,
  withOptions
} from '../cellSource';

/**
 * The cases pytest checks the core's parser against
 * (tests/test_cellsource.py), so the toolbar's reading cannot drift from it.
 */
interface ISharedCellSources {
  cases: {
    source: string;
    collab: boolean;
    prompt?: string;
    options?: { mode: string | null; model: string | null };
  }[];
  rewrites: {
    source: string;
    change: { mode?: string | null; model?: string | null };
    expected: string;
  }[];
}

const shared: ISharedCellSources = JSON.parse(
  readFileSync(
    join(
      __dirname,
      '..',
      '..',
      '..',
      'tests',
      'shared_fixtures',
      'cell_sources.json'
    ),
    'utf-8'
  )
);

describe('the shared cell source cases', () => {
  it.each(shared.cases)('reads $source as the core does', case_ => {
    expect(isCollabSource(case_.source)).toBe(case_.collab);
    if (case_.collab) {
      expect(splitCell(case_.source).prompt).toBe(case_.prompt);
      expect(cellOptions(case_.source)).toEqual(case_.options);
    }
  });

  it.each(shared.rewrites)(
    'rewrites $source with $change',
    ({ source, change, expected }) => {
      expect(withOptions(source, change)).toBe(expected);
    }
  );
});

describe('parseOptions', () => {
  it('does not take the value of another option for mode or model', () => {
    expect(parseOptions('--temperature 0.5 --max-tokens 10')).toEqual({
      mode: null,
      model: null
    });
    expect(parseOptions('-t 0.5 -m x --no-history')).toEqual({
      mode: null,
      model: 'x'
    });
  });
});

describe('shellSplit', () => {
  it('splits like a shell', () => {
    expect(shellSplit(` a "b c" 'd e' f\\ g ""`)).toEqual([
      'a',
      'b c',
      'd e',
      'f g',
      ''
    ]);
  });
});

describe('withOptions', () => {
  it('round-trips through cellOptions', () => {
    const source = withOptions('%%collab\nq', {
      mode: 'learning',
      model: "it's"
    });
    expect(cellOptions(source)).toEqual({ mode: 'learning', model: "it's" });
  });
});

describe('newCellSource', () => {
  it('is the magic line and an empty prompt line', () => {
    expect(newCellSource()).toBe('%%collab\n');
    expect(newCellSource({ mode: 'learning' })).toBe(
      '%%collab --mode learning\n'
    );
  });
});
