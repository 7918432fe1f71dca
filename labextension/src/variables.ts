/**
 * Reading `{name}` references from the notebook's kernel.
 *
 * One silent `execute_request` with empty code and one `user_expressions`
 * entry per name: nothing runs in the user's namespace beyond attribute
 * access, nothing enters the history, and the kernel's execution count does
 * not move. The expressions come from the server (`POST cell`), which builds
 * them from the core's formatting rule (jupyter_collab/core/values.py), so a
 * prompt filled here has the same input hash as in a headless run. The value
 * travels JSON-encoded inside the `text/plain` repr of a Python str, which
 * only escapes backslashes and the quote character.
 *
 * The request waits in the kernel's queue like any other: while a cell is
 * busy, names are read when it finishes. Prompts without references never
 * touch the kernel.
 */
import type { Kernel, KernelMessage } from '@jupyterlab/services';

/**
 * The notebook has no kernel to read referenced names from.
 */
export class NoKernelError extends Error {
  constructor(readonly names: string[]) {
    const list = names.map(n => `{${n}}`).join(', ');
    const verb = names.length === 1 ? 'is' : 'are';
    super(
      `This prompt references ${list}, which ${verb} read from the notebook's ` +
        'kernel, but the notebook has no running kernel.'
    );
    this.name = 'NoKernelError';
  }
}

/**
 * Decode the `text/plain` of one evaluated expression: the repr of a str
 * holding JSON.
 */
export function decodeValue(textPlain: string): string | null {
  const text = textPlain.trim();
  const quote = text[0];
  if (text.length < 2 || (quote !== "'" && quote !== '"')) {
    return null;
  }
  if (text[text.length - 1] !== quote) {
    return null;
  }
  const json = text.slice(1, -1).replace(/\\(.)/g, '$1');
  try {
    const value = JSON.parse(json);
    return typeof value === 'string' ? value : null;
  } catch {
    return null;
  }
}

/**
 * Values of the names the kernel knows; unknown names are left out (and so
 * stay as written in the prompt, as in the kernel door).
 */
export function valuesFromReply(
  names: string[],
  expressions: Record<string, unknown> | undefined
): Record<string, string> {
  const values: Record<string, string> = {};
  for (const name of names) {
    const result = expressions?.[name] as
      { status?: string; data?: Record<string, unknown> } | undefined;
    const textPlain = result?.data?.['text/plain'];
    if (result?.status === 'ok' && typeof textPlain === 'string') {
      const value = decodeValue(textPlain);
      if (value !== null) {
        values[name] = value;
      }
    }
  }
  return values;
}

/**
 * Read referenced names from `kernel`.
 *
 * @param expressions - for each name, the expression the server gave for it
 * @throws NoKernelError when there is no kernel
 */
export async function readVariables(
  kernel: Kernel.IKernelConnection | null | undefined,
  expressions: Record<string, string>
): Promise<Record<string, string>> {
  const names = Object.keys(expressions);
  if (names.length === 0) {
    return {};
  }
  if (!kernel) {
    throw new NoKernelError(names);
  }
  const future = kernel.requestExecute(
    {
      code: '',
      silent: true,
      store_history: false,
      allow_stdin: false,
      stop_on_error: false,
      user_expressions: expressions
    },
    true
  );
  try {
    const reply = (await future.done) as KernelMessage.IExecuteReplyMsg;
    const content = reply.content as KernelMessage.IExecuteReply & {
      user_expressions?: Record<string, unknown>;
    };
    return valuesFromReply(names, content.user_expressions);
  } finally {
    future.dispose();
  }
}
