/**
 * The source of a collaborator cell, as far as the page's own display needs
 * it: whether a cell is a collaborator cell (to route it and decorate it),
 * whether its prompt is empty, and the `--mode`/`--model` the cell toolbar
 * shows and rewrites.
 *
 * The `%%collab` format itself is parsed by the core
 * (jupyter_collab/core/cellsource.py); a run asks the server (`POST cell`)
 * for the prompt and its `{name}` references. What is read here is checked
 * against the same cases as the core, in tests/shared_fixtures/cell_sources.json.
 */

export const CELL_MAGIC = '%%collab';

/**
 * The key of the cell (and output) metadata the project owns.
 */
export const METADATA_KEY = 'jupyter_collab';

/**
 * The options the cell toolbar shows from the `%%collab` line.
 */
export interface ICellOptions {
  mode: string | null;
  model: string | null;
}

/**
 * Whether a code cell with this source is a collaborator cell (the rule of
 * `is_collab_cell` in core/notebook.py).
 */
export function isCollabSource(source: string): boolean {
  return source.trimStart().startsWith(CELL_MAGIC);
}

/**
 * The options line (after `%%collab`) and the prompt below it.
 */
export function splitCell(source: string): {
  options: string;
  prompt: string;
} {
  const stripped = source.trimStart();
  const newline = stripped.indexOf('\n');
  const first = newline < 0 ? stripped : stripped.slice(0, newline);
  const body = newline < 0 ? '' : stripped.slice(newline + 1);
  return { options: first.slice(CELL_MAGIC.length), prompt: body.trim() };
}

/**
 * Split an options line like a POSIX shell (quotes and backslashes).
 */
export function shellSplit(line: string): string[] {
  const tokens: string[] = [];
  let current: string | null = null;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < line.length; i++) {
    const char = line[i];
    if (quote) {
      if (char === quote) {
        quote = null;
      } else if (char === '\\' && quote === '"' && i + 1 < line.length) {
        current += line[++i];
      } else {
        current += char;
      }
    } else if (char === '"' || char === "'") {
      quote = char;
      current = current ?? '';
    } else if (char === '\\' && i + 1 < line.length) {
      current = (current ?? '') + line[++i];
    } else if (/\s/.test(char)) {
      if (current !== null) {
        tokens.push(current);
        current = null;
      }
    } else {
      current = (current ?? '') + char;
    }
  }
  if (current !== null) {
    tokens.push(current);
  }
  return tokens;
}

/**
 * Quote a value for the options line when it needs it.
 */
export function shellQuote(value: string): string {
  if (value !== '' && /^[\w@%+=:,./-]+$/.test(value)) {
    return value;
  }
  return `'${value.replace(/'/g, "'\\''")}'`;
}

const VALUE_OPTIONS: Record<string, 'mode' | 'model' | null> = {
  '--mode': 'mode',
  '--model': 'model',
  '-m': 'model',
  '--temperature': null,
  '-t': null,
  '--max-tokens': null
};

/**
 * Read the options the toolbar shows; others are skipped here (the server
 * reads them, and reports the ones it does not know).
 */
export function parseOptions(line: string): ICellOptions {
  const options: ICellOptions = { mode: null, model: null };
  const tokens = shellSplit(line);
  for (let i = 0; i < tokens.length; i++) {
    const [name, inline] = splitToken(tokens[i]);
    if (name in VALUE_OPTIONS) {
      const value = inline ?? tokens[++i] ?? null;
      const field = VALUE_OPTIONS[name];
      if (field) {
        options[field] = value;
      }
    }
  }
  return options;
}

/**
 * The cell's options.
 */
export function cellOptions(source: string): ICellOptions {
  return parseOptions(splitCell(source).options);
}

/**
 * Rewrite the `%%collab` line with `mode` and `model` set (a value) or
 * removed (`null`); fields left `undefined` are kept as they are. Other
 * options and the prompt are untouched.
 */
export function withOptions(
  source: string,
  change: { mode?: string | null; model?: string | null }
): string {
  const leading = source.length - source.trimStart().length;
  const stripped = source.slice(leading);
  const newline = stripped.indexOf('\n');
  const first = newline < 0 ? stripped : stripped.slice(0, newline);
  const rest = newline < 0 ? '' : stripped.slice(newline);
  const tokens = shellSplit(first.slice(CELL_MAGIC.length));
  const kept: string[] = [];
  const current: Record<'mode' | 'model', string | null> = {
    mode: null,
    model: null
  };
  for (let i = 0; i < tokens.length; i++) {
    const [name, inline] = splitToken(tokens[i]);
    const field = VALUE_OPTIONS[name];
    if (field) {
      current[field] = inline ?? tokens[++i] ?? null;
    } else if (name in VALUE_OPTIONS) {
      kept.push(tokens[i]);
      if (inline === null && i + 1 < tokens.length) {
        kept.push(tokens[++i]);
      }
    } else {
      kept.push(tokens[i]);
    }
  }
  const mode = change.mode === undefined ? current.mode : change.mode;
  const model = change.model === undefined ? current.model : change.model;
  const parts = [CELL_MAGIC];
  if (mode) {
    parts.push('--mode', shellQuote(mode));
  }
  if (model) {
    parts.push('--model', shellQuote(model));
  }
  parts.push(...kept.map(shellQuote));
  return source.slice(0, leading) + parts.join(' ') + rest;
}

/**
 * The source of a new collaborator cell.
 */
export function newCellSource(
  options: { mode?: string | null; model?: string | null } = {}
): string {
  return withOptions(`${CELL_MAGIC}\n`, options);
}

function splitToken(token: string): [string, string | null] {
  if (token.startsWith('--') && token.includes('=')) {
    const at = token.indexOf('=');
    return [token.slice(0, at), token.slice(at + 1)];
  }
  return [token, null];
}
