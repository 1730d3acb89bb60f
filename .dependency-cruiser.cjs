// The architecture as a check (`npm run lint:arch`, part of `npm test`). Each rule
// names a boundary of docs/architecture.md; a violation fails the build with the
// offending import. Why dependency-cruiser and not eslint-plugin-import: docs/decisions.md.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'An import cycle (type-only imports included) means two modules are one concept or the layering is wrong.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-app-to-app',
      severity: 'error',
      comment: 'Apps are deployables; one never imports another. Share code through a lib.',
      from: { path: '^apps/([^/]+)/' },
      to: { path: '^apps/([^/]+)/', pathNot: '^apps/$1/' },
    },
    {
      name: 'no-lib-to-app',
      severity: 'error',
      comment: 'Libs are the reusable machinery below the apps.',
      from: { path: '^libs/' },
      to: { path: '^apps/' },
    },
    {
      name: 'no-deep-lib-imports',
      severity: 'error',
      comment: 'Outside a lib, import it only through its index.ts (@app/<lib>), its whole public API.',
      from: { path: '^(apps|test|bench|soak|tools)/' },
      to: { path: '^libs/[^/]+/src/', pathNot: '^libs/[^/]+/src/index\\.ts$' },
    },
    {
      name: 'no-deep-lib-imports-between-libs',
      severity: 'error',
      comment: 'A lib imports another lib only through its index.ts (@app/<lib>).',
      from: { path: '^libs/([^/]+)/' },
      to: { path: '^libs/[^/]+/src/', pathNot: ['^libs/$1/', '^libs/[^/]+/src/index\\.ts$'] },
    },
    {
      name: 'no-production-to-tests',
      severity: 'error',
      comment: 'Apps, libs, the bench and the soak never depend on the test tree.',
      from: { path: '^(apps|libs|bench|soak|tools)/' },
      to: { path: '^test/' },
    },
    {
      name: 'cache-engine-stays-low',
      severity: 'error',
      comment:
        'Inside libs/cache the engine, model, l1 and l2 know nothing of domains, revalidation, HTTP, admin or health.',
      from: { path: '^libs/cache/src/(engine|model|l1|l2)/' },
      to: { path: '^libs/cache/src/(domain|revalidation|http|admin|health)/' },
    },
    {
      name: 'cache-model-is-a-leaf',
      severity: 'error',
      comment: 'libs/cache/src/model holds shared types and pure helpers: it imports no other folder of the lib.',
      from: { path: '^libs/cache/src/model/' },
      to: { path: '^libs/cache/src/(?!model/)' },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that resolves to nothing.',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(dist|node_modules)/|\\.template$' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.json'],
    },
  },
};
