// Code lint (`npm run lint`, part of `npm test`). Import boundaries and cycles are
// checked by dependency-cruiser (.dependency-cruiser.cjs), which sees resolved paths.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['**/dist/**', 'node_modules/**', 'coverage/**', '**/*.template', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      // Nest and TypeORM idioms: DTO classes with decorators only, `any` in generic bucket options.
      '@typescript-eslint/no-extraneous-class': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      // @app/<lib> only: a deep import past a lib's index.ts is not its public API.
      'no-restricted-imports': ['error', { patterns: [{ group: ['@app/*/*'], message: 'import the lib through its index: @app/<lib>' }] }],
      eqeqeq: ['error', 'always'],
      'no-console': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: globals.node },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
