// Shared by the unit and e2e configs: one place that mirrors tsconfig's path aliases
// and applies the swagger compiler plugin, so tests see the same metadata as `nest build`.
const path = require('path');
const { pathsToModuleNameMapper } = require('ts-jest');
const { compilerOptions } = require('./tsconfig.json');

const ESM_ONLY_PACKAGES = ['content-disposition'];

module.exports = {
  rootDir: __dirname,
  moduleFileExtensions: ['js', 'json', 'ts'],
  testEnvironment: 'node',
  moduleNameMapper: pathsToModuleNameMapper(compilerOptions.paths, { prefix: '<rootDir>/' }),
  // content-disposition (under @fastify/static, which Swagger UI needs) ships only ES modules.
  // Node 20 requires them natively but jest cannot, so jest compiles just those packages.
  transformIgnorePatterns: [`/node_modules/(?!(${ESM_ONLY_PACKAGES.join('|')})/)`],
  transform: {
    [`/node_modules/(${ESM_ONLY_PACKAGES.join('|')})/.+\\.js$`]: [
      'ts-jest',
      { tsconfig: { allowJs: true, module: 'commonjs', target: 'ES2022' }, isolatedModules: true, diagnostics: false },
    ],
    '^.+\\.ts$': [
      'ts-jest',
      {
        tsconfig: path.join(__dirname, 'tsconfig.json'),
        isolatedModules: false,
        diagnostics: false,
        astTransformers: {
          before: [
            { path: path.join(__dirname, 'test/swagger-transformer.js') },
          ],
        },
      },
    ],
  },
};
