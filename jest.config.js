// Unit tests: pure logic beside the code, no Postgres or Redis.
const base = require('./jest.base');

module.exports = {
  ...base,
  displayName: 'unit',
  roots: ['<rootDir>/apps', '<rootDir>/libs', '<rootDir>/soak', '<rootDir>/bench'],
  testRegex: '.*\\.spec\\.ts$',
};
