// Shared by the unit and e2e configs: one place that mirrors tsconfig's path aliases
// and applies the swagger compiler plugin, so tests see the same metadata as `nest build`.
const path = require('path');
const { pathsToModuleNameMapper } = require('ts-jest');
const { compilerOptions } = require('./tsconfig.json');

module.exports = {
  rootDir: __dirname,
  moduleFileExtensions: ['js', 'json', 'ts'],
  testEnvironment: 'node',
  moduleNameMapper: pathsToModuleNameMapper(compilerOptions.paths, { prefix: '<rootDir>/' }),
  transform: {
    '^.+\\.ts$': [
      'ts-jest',
      {
        tsconfig: path.join(__dirname, 'tsconfig.json'),
        isolatedModules: false,
        diagnostics: false,
        astTransformers: {
          before: [{ path: path.join(__dirname, 'test/swagger-transformer.js') }],
        },
      },
    ],
  },
};
