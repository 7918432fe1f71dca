/**
 * The front end's own version, and its comparison with the server's.
 *
 * The Python package takes its version from the same package.json through
 * hatch-nodejs-version, which rewrites npm prereleases in PEP 440 form
 * (`0.2.0-alpha.1` becomes `0.2.0a1`), so versions are compared normalized.
 */
import type { TranslationBundle } from '@jupyterlab/translation';

// The builder bundles package.json; only its version is read.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const packageJson = require('../../package.json') as { version: string };

/**
 * The version this front end was built as.
 */
export const FRONTEND_VERSION: string = packageJson.version;

const PRE_RELEASE_LABELS: Record<string, string> = {
  a: 'a',
  alpha: 'a',
  b: 'b',
  beta: 'b',
  c: 'rc',
  rc: 'rc',
  pre: 'rc',
  preview: 'rc',
  dev: '.dev'
};

/**
 * Normalize an npm or PEP 440 version string so equal releases compare equal.
 */
export function normalizeVersion(version: string): string {
  const trimmed = version.trim().toLowerCase();
  const match = /^v?(\d+\.\d+\.\d+)([^+]*)(\+.*)?$/.exec(trimmed);
  if (!match) {
    return trimmed;
  }
  const [, release, suffix, local = ''] = match;
  const segments = suffix.replace(/[-_.]/g, '');
  let normalized = release;
  const segment = /(preview|alpha|beta|pre|dev|rc|a|b|c)(\d*)/g;
  let consumed = 0;
  let found: RegExpExecArray | null;
  while ((found = segment.exec(segments)) !== null) {
    if (found.index !== consumed) {
      return trimmed;
    }
    normalized +=
      PRE_RELEASE_LABELS[found[1]] + (found[2] ? Number(found[2]) : 0);
    consumed = segment.lastIndex;
  }
  if (consumed !== segments.length) {
    return trimmed;
  }
  return normalized + local;
}

/**
 * Whether two versions name the same release.
 */
export function sameVersion(left: string, right: string): boolean {
  return normalizeVersion(left) === normalizeVersion(right);
}

/**
 * A warning for the user when the server extension is another release than
 * this front end, or `null` when they match.
 */
export function versionMismatch(
  serverVersion: string,
  trans: TranslationBundle,
  frontendVersion: string = FRONTEND_VERSION
): string | null {
  if (sameVersion(serverVersion, frontendVersion)) {
    return null;
  }
  return trans.__(
    'jupyter-collab: the JupyterLab extension is version %1 but the server extension is version %2. Reinstall jupyter-collab in the environment that runs the server and restart JupyterLab.',
    frontendVersion,
    serverVersion
  );
}
