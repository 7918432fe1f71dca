import { describe, expect, it } from '@jest/globals';

import {
  cellOptions,
  isCollabSource,
  newCellSource,
  parseOptions,
  referencedNames,
  shellSplit,
  splitCell,
  withOptions
} from '../cellSource';

describe('isCollabSource', () => {
  it('is true when the source starts with %%collab (after blank space)', () => {
    expect(isCollabSource('%%collab\nhi')).toBe(true);
    expect(isCollabSource('\n  %%collab --mode learning\nhi')).toBe(true);
    expect(isCollabSource('x = 1\n%%collab')).toBe(false);
    expect(isCollabSource('%collab status')).toBe(false);
  });
});

describe('splitCell', () => {
  it('separates the options line from the prompt', () => {
    expect(splitCell('%%collab --mode learning\n\n  What is {x}?\n')).toEqual({
      options: ' --mode learning',
      prompt: 'What is {x}?'
    });
    expect(splitCell('%%collab')).toEqual({ options: '', prompt: '' });
  });
});

describe('parseOptions', () => {
  it('reads mode, model and the flags in every spelling argparse accepts', () => {
    expect(parseOptions('--mode learning -m claude-x --no-history')).toEqual({
      mode: 'learning',
      model: 'claude-x',
      noHistory: true,
      noContext: false
    });
    expect(
      parseOptions(
        "--model='my model' --temperature 0.2 --no-context --mode=research"
      )
    ).toEqual({
      mode: 'research',
      model: 'my model',
      noHistory: false,
      noContext: true
    });
  });

  it('does not take the value of another option for mode or model', () => {
    expect(parseOptions('--temperature 0.5 --max-tokens 10')).toEqual({
      mode: null,
      model: null,
      noHistory: false,
      noContext: false
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
  it('sets mode and model on the %%collab line and keeps the rest', () => {
    const source = '%%collab --no-history -t 0.3\nExplain {df}.';
    expect(withOptions(source, { mode: 'learning' })).toBe(
      '%%collab --mode learning --no-history -t 0.3\nExplain {df}.'
    );
    expect(withOptions(source, { mode: 'learning', model: 'claude x' })).toBe(
      "%%collab --mode learning --model 'claude x' --no-history -t 0.3\nExplain {df}."
    );
  });

  it('replaces existing values and removes them with null', () => {
    const source = '%%collab -m old --mode=research\nhi';
    expect(withOptions(source, { model: 'new' })).toBe(
      '%%collab --mode research --model new\nhi'
    );
    expect(withOptions(source, { mode: null, model: null })).toBe(
      '%%collab\nhi'
    );
  });

  it('round-trips through parseOptions', () => {
    const source = withOptions('%%collab\nq', {
      mode: 'learning',
      model: "it's"
    });
    expect(cellOptions(source)).toMatchObject({
      mode: 'learning',
      model: "it's"
    });
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

describe('referencedNames', () => {
  it('finds {name} and {name.attr}, once each, in order', () => {
    expect(
      referencedNames(
        'Compare {df.shape} with {n}, {df.shape} and {{literal}}.'
      )
    ).toEqual(['df.shape', 'n']);
    expect(referencedNames('{1x} { x } {x-y}')).toEqual([]);
  });
});
