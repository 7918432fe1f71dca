/**
 * Reading `{name}` references from the notebook's kernel.
 *
 * One silent `execute_request` with empty code and one `user_expressions`
 * entry per name: nothing runs in the user's namespace beyond attribute
 * access, nothing enters the history, and the kernel's execution count does
 * not move. Each expression formats the value as the kernel door does
 * (jupyter_collab/kernel/variables.py `format_value`: `str(obj)`, `repr` for
 * pandas/polars/pyarrow/xarray objects, cut at 2,000 characters with a note),
 * so a prompt filled here has the same input hash as in a headless run. The
 * value travels JSON-encoded inside the `text/plain` repr of a Python str,
 * which only escapes backslashes and the quote character.
 *
 * The request waits in the kernel's queue like any other: while a cell is
 * busy, names are read when it finishes. Prompts without references never
 * touch the kernel.
 */
import type { Kernel, KernelMessage } from '@jupyterlab/services';

/**
 * The kernel door's default cut (`c.CollabMagics.value_max_chars`).
 */
export const DEFAULT_MAX_CHARS = 2000;

const NAME = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;

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
 * The Python expression that formats `name` for the prompt.
 */
export function valueExpression(
  name: string,
  maxChars: number = DEFAULT_MAX_CHARS
): string {
  if (!NAME.test(name)) {
    throw new Error(`not a variable reference: ${name}`);
  }
  const tables = "('pandas', 'polars', 'pyarrow', 'xarray')";
  const cut =
    "t if m <= 0 or len(t) <= m else t[:m] + '\\u2026 [truncated: %d more characters]' % (len(t) - m)";
  return (
    `(lambda v, m: (lambda t: __import__('json').dumps(${cut}))` +
    `(repr(v) if type(v).__module__.split('.')[0] in ${tables} else str(v)))` +
    `(${name}, ${Math.trunc(maxChars)})`
  );
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
 * Read `names` from `kernel`.
 *
 * @throws NoKernelError when there is no kernel
 */
export async function readVariables(
  kernel: Kernel.IKernelConnection | null | undefined,
  names: string[],
  maxChars: number = DEFAULT_MAX_CHARS
): Promise<Record<string, string>> {
  if (names.length === 0) {
    return {};
  }
  if (!kernel) {
    throw new NoKernelError(names);
  }
  const userExpressions: Record<string, string> = {};
  for (const name of names) {
    userExpressions[name] = valueExpression(name, maxChars);
  }
  const future = kernel.requestExecute(
    {
      code: '',
      silent: true,
      store_history: false,
      allow_stdin: false,
      stop_on_error: false,
      user_expressions: userExpressions
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
