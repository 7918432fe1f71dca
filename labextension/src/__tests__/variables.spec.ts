import { describe, expect, it } from '@jest/globals';

import {
  NoKernelError,
  decodeValue,
  readVariables,
  valuesFromReply
} from '../variables';

describe('decodeValue', () => {
  it('decodes the repr of a str holding JSON', () => {
    // repr(json.dumps("héllo 'x' \"y\" \\ \n")) in Python:
    const repr = `'"h\\\\u00e9llo \\'x\\' \\\\"y\\\\" \\\\\\\\ \\\\n"'`;
    expect(decodeValue(repr)).toBe('héllo \'x\' "y" \\ \n');
    expect(decodeValue(`'"42"'`)).toBe('42');
    expect(decodeValue('42')).toBeNull();
    expect(decodeValue(`'not json'`)).toBeNull();
  });
});

describe('valuesFromReply', () => {
  it('keeps the names that evaluated, leaves out the others', () => {
    expect(
      valuesFromReply(['x', 'missing', 'y'], {
        x: { status: 'ok', data: { 'text/plain': `'"42"'` } },
        missing: { status: 'error', ename: 'NameError' },
        y: { status: 'ok', data: { 'text/plain': `'"[1, 2]"'` } }
      })
    ).toEqual({ x: '42', y: '[1, 2]' });
  });
});

describe('readVariables', () => {
  it('sends one silent execute request with user expressions', async () => {
    const sent: any[] = [];
    let disposed = false;
    const kernel = {
      requestExecute: (content: any) => {
        sent.push(content);
        return {
          done: Promise.resolve({
            content: {
              status: 'ok',
              user_expressions: {
                x: { status: 'ok', data: { 'text/plain': `'"42"'` } }
              }
            }
          }),
          dispose: () => (disposed = true)
        };
      }
    };

    await expect(
      readVariables(kernel as any, { x: 'the expression of x' })
    ).resolves.toEqual({ x: '42' });
    expect(sent[0]).toMatchObject({
      code: '',
      silent: true,
      store_history: false
    });
    expect(sent[0].user_expressions).toEqual({ x: 'the expression of x' });
    expect(disposed).toBe(true);
  });

  it('does not need a kernel without names, and says so without one', async () => {
    await expect(readVariables(null, {})).resolves.toEqual({});
    await expect(
      readVariables(null, { x: 'x expression', y: 'y expression' })
    ).rejects.toBeInstanceOf(NoKernelError);
    await expect(readVariables(undefined, { x: 'x' })).rejects.toThrow(
      "This prompt references {x}, which is read from the notebook's kernel"
    );
  });
});
