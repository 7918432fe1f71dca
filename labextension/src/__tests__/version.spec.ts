import { describe, expect, it } from '@jest/globals';

import {
  FRONTEND_VERSION,
  normalizeVersion,
  sameVersion,
  versionMismatch
} from '../version';
import { trans } from './translationFixtures';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const packageJson = require('../../../package.json') as { version: string };

describe('FRONTEND_VERSION', () => {
  it('is the version in package.json', () => {
    expect(FRONTEND_VERSION).toBe(packageJson.version);
  });
});

describe('normalizeVersion', () => {
  it.each([
    ['0.1.0', '0.1.0'],
    ['v0.1.0', '0.1.0'],
    ['0.2.0-alpha.1', '0.2.0a1'],
    ['0.2.0alpha1', '0.2.0a1'],
    ['0.2.0-beta.2', '0.2.0b2'],
    ['0.2.0-rc.0', '0.2.0rc0'],
    ['0.2.0-c1', '0.2.0rc1'],
    ['0.2.0-pre', '0.2.0rc0'],
    ['0.2.0-dev.3', '0.2.0.dev3'],
    ['0.2.0.dev3', '0.2.0.dev3'],
    ['0.2.0-alpha.1.dev2', '0.2.0a1.dev2'],
    ['0.2.0+local.7', '0.2.0+local.7'],
    ['dev', 'dev'],
    ['0.2.0-nightly', '0.2.0-nightly']
  ])('%s -> %s', (version, normalized) => {
    expect(normalizeVersion(version)).toBe(normalized);
  });
});

describe('sameVersion', () => {
  it('matches an npm prerelease with its PEP 440 form', () => {
    expect(sameVersion('0.2.0-alpha.1', '0.2.0a1')).toBe(true);
    expect(sameVersion('0.2.0-rc.1', '0.2.0rc1')).toBe(true);
  });

  it('tells different releases apart', () => {
    expect(sameVersion('0.2.0', '0.2.1')).toBe(false);
    expect(sameVersion('0.2.0-alpha.1', '0.2.0')).toBe(false);
    expect(sameVersion('0.2.0a1', '0.2.0b1')).toBe(false);
  });
});

describe('versionMismatch', () => {
  it('is null when the server runs the same release', () => {
    expect(versionMismatch('0.2.0a1', trans, '0.2.0-alpha.1')).toBeNull();
  });

  it('names both versions when they differ', () => {
    const message = versionMismatch('0.1.0', trans, '0.2.0');

    expect(message).toContain('JupyterLab extension is version 0.2.0');
    expect(message).toContain('server extension is version 0.1.0');
  });

  it('compares with the front end it was built as by default', () => {
    expect(versionMismatch(FRONTEND_VERSION, trans)).toBeNull();
  });
});
