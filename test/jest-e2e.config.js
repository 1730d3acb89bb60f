// Tests that need the real Postgres/Redis or a running app. The global setup
// migrates a template database once; each test file clones it (test/harness).
const base = require('../jest.base');

module.exports = {
  ...base,
  displayName: 'e2e',
  roots: ['<rootDir>/test'],
  testRegex: '.*\\.e2e-spec\\.ts$',
  globalSetup: '<rootDir>/test/harness/global-setup.ts',
  globalTeardown: '<rootDir>/test/harness/global-teardown.ts',
  // Two cores: two files at once keeps both busy without starving the servers.
  maxWorkers: 2,
  testTimeout: 30_000,
  slowTestThreshold: 15,
};
