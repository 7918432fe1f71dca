import { describe, expect, it } from '@jest/globals';

import { StreamError } from '../api';
import { COLLAB_MIME, STREAM_MIME } from '../mimetypes';
import {
  describeFailure,
  errorOutput,
  finalOutput,
  streamingOutput
} from '../outputs';
import { NoKernelError } from '../variables';
import { frenchTranslator, trans } from './translationFixtures';

describe('streamingOutput', () => {
  it('carries the text so far and a markdown fallback', () => {
    const output = streamingOutput(
      {
        text: 'Partial **answer**',
        status: 'streaming',
        run_id: 'run-1'
      },
      trans
    );

    expect(output).toEqual({
      output_type: 'display_data',
      data: {
        [STREAM_MIME]: {
          text: 'Partial **answer**',
          status: 'streaming',
          run_id: 'run-1'
        },
        'text/markdown': 'Partial **answer**'
      },
      metadata: {}
    });
  });

  it('says in the fallback that a cancelled answer is incomplete', () => {
    const output = streamingOutput(
      {
        text: 'Half',
        status: 'cancelled',
        run_id: null
      },
      trans
    );
    expect(output.data['text/markdown']).toBe(
      'Half\n\n*(cancelled: the answer above is incomplete)*'
    );
  });
});

describe('finalOutput', () => {
  it("is the server's output, unchanged", () => {
    const output = {
      output_type: 'display_data' as const,
      data: {
        [COLLAB_MIME]: { result: { answer: 'a' } } as any,
        'text/markdown': 'a',
        'text/html': '<p>a</p>'
      },
      metadata: { jupyter_collab: { input_hash: 'h' } as any }
    };
    expect(finalOutput(output)).toBe(output);
  });

  it('refuses something that is not an answer bundle', () => {
    expect(() =>
      finalOutput({
        output_type: 'display_data',
        data: {},
        metadata: {}
      } as any)
    ).toThrow(StreamError);
  });
});

describe('describeFailure', () => {
  it("keeps the provider's message and advises from it", () => {
    const failure = describeFailure(
      new StreamError(
        'Anthropic API error 401: invalid x-api-key',
        502,
        'provider_error'
      ),
      trans
    );
    expect(failure.ename).toBe('ProviderError');
    expect(failure.message).toBe('Anthropic API error 401: invalid x-api-key');
    expect(failure.advice).toContain('API key');

    expect(
      describeFailure(
        new StreamError('Overloaded', 502, 'provider_error'),
        trans
      ).advice
    ).toContain('wait a moment');
  });

  it('maps the server reasons to what to do', () => {
    expect(
      describeFailure(new StreamError('no key', 503, 'not_configured'), trans)
    ).toMatchObject({ ename: 'ConfigurationError', message: 'no key' });
    expect(
      describeFailure(new StreamError('bad', 400, 'invalid_request'), trans)
        .advice
    ).toContain('%%collab');
    expect(
      describeFailure(new StreamError('gone', 0, 'connection_closed'), trans)
        .ename
    ).toBe('ConnectionError');
    expect(describeFailure(new NoKernelError(['x']), trans).advice).toContain(
      'Start a kernel'
    );
    expect(describeFailure(new Error('boom'), trans)).toMatchObject({
      ename: 'CollabError',
      message: 'boom'
    });
  });

  it('names the missing values in a sentence that agrees with their number', () => {
    expect(describeFailure(new NoKernelError(['x']), trans).message).toBe(
      "This prompt references {x}, which is read from the notebook's kernel, but the notebook has no running kernel."
    );
    expect(
      describeFailure(new NoKernelError(['x', 'df']), trans).message
    ).toContain('references {x}, {df}, which are read');
  });

  it('translates the advice but keeps the error name', () => {
    const french = frenchTranslator({
      'Save the notebook and run the cell again.':
        'Enregistrez le notebook et relancez la cellule.'
    }).load('jupyter_collab');
    expect(
      describeFailure(new StreamError('gone', 404, 'not_found'), french)
    ).toEqual({
      ename: 'NotFoundError',
      message: 'gone',
      advice: 'Enregistrez le notebook et relancez la cellule.'
    });
  });
});

describe('errorOutput', () => {
  it('is an nbformat error output with the message and the advice', () => {
    const output = errorOutput(
      {
        ename: 'ProviderError',
        message: 'Overloaded',
        advice: 'Wait.'
      },
      trans
    );
    expect(output.output_type).toBe('error');
    expect(output.ename).toBe('ProviderError');
    expect(output.evalue).toBe('Overloaded');
    expect(output.traceback.join('\n')).toContain('Overloaded');
    expect(output.traceback.join('\n')).toContain('What to do:');
  });
});
