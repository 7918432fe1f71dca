const jestJupyterLab = require('@jupyterlab/testing/lib/jest-config');

const baseConfig = jestJupyterLab(__dirname);

// JupyterLab 4 packages ship ES modules: transform them like the base config's
// own list (the extension template does the same).
const esModules = [
  '@codemirror',
  '@jupyter/ydoc',
  '@jupyter/react-components',
  '@jupyter/web-components',
  '@jupyterlab/',
  '@marijn',
  '@microsoft',
  'exenv-es6',
  'lib0',
  'marked',
  'nanoid',
  'vscode-ws-jsonrpc',
  'y-protocols',
  'y-websocket',
  'yjs'
].join('|');

module.exports = {
  ...baseConfig,
  automock: false,
  collectCoverageFrom: [
    'labextension/src/**/*.{ts,tsx}',
    '!labextension/src/**/*.d.ts'
  ],
  coverageReporters: ['lcov', 'text'],
  reporters: ['default'],
  roots: ['<rootDir>/labextension/src'],
  testRegex: '/__tests__/.*\\.spec\\.tsx?$',
  transformIgnorePatterns: [`/node_modules/(?!${esModules}).+`],
  transform: {
    ...baseConfig.transform,
    '^.+\\.tsx?$': [
      'ts-jest/legacy',
      { tsconfig: '<rootDir>/labextension/tsconfig.test.json' }
    ]
  }
};
