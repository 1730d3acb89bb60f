import { join, normalize, Path, strings } from '@angular-devkit/core';
import {
  apply,
  applyTemplates,
  chain,
  filter,
  forEach,
  mergeWith,
  move,
  noop,
  Rule,
  SchematicContext,
  SchematicsException,
  Tree,
  url,
} from '@angular-devkit/schematics';
import { addModuleImport, appendImportedToArrayConstant, appendToArrayConstant } from './register-domain';
import { CACHE_STRATEGIES, CacheDomainOptions, CacheStrategy } from './cache-domain.options';
import { CapturedTable, parseCapturedTables } from './captured-tables';
import { captureArguments, CaptureMigration, ITEM_AGGREGATE, planCaptureMigration } from './capture-migration';

/** The `item` bucket's TTL per strategy (docs/contract.md §5.2: hybrid is short, ttl is the invoices-like 90 s). */
const TTL_SECONDS: Record<CacheStrategy, number | null> = { cdc: null, hybrid: 60, ttl: 90 };

/** The `item` bucket's options, as they are written into the cache service. */
const BUCKET: Record<CacheStrategy, string> = {
  cdc: `{ strategy: 'cdc' }`,
  hybrid: `{ strategy: 'hybrid', ttlSeconds: ${TTL_SECONDS.hybrid} }`,
  ttl: `{ strategy: 'ttl', ttlSeconds: ${TTL_SECONDS.ttl}, graceSeconds: 600 }`,
};

/** The BFF's migration list (`<sourceRoot>/migrations/index.ts`), which capture migrations are appended to. */
const MIGRATIONS_CONSTANT = 'BFF_MIGRATIONS';

/** A domain name is a cache key segment, a route segment, the health route's `:domain` and part of a stream name. */
const DOMAIN_NAME = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/** The domain as the templates and the registration see it. */
export interface CacheDomain {
  /** kebab-case: files, route, cache keys, stream. */
  name: string;
  strategy: CacheStrategy;
  /** Whether CDC events invalidate it (cdc, hybrid): a CDC controller and module, and a stream. */
  cdc: boolean;
  sourceRoot: Path;
  /** `<sourceRoot>/<name>` */
  directory: Path;
  /** The tables it reads (`--table`): the first holds its items; none leaves the source read a TODO. */
  tables: CapturedTable[];
  /** `<sourceRoot>/migrations` */
  migrations: Path;
}

/**
 * `cache-domain` (alias `cd`): scaffolds `<sourceRoot>/<name>/` after the
 * hand-written domains (keys, cache service, source, controller, module, and
 * for cdc/hybrid the CDC handler) and registers it in DomainsModule and, for
 * cdc/hybrid, in CDC_STREAMS and CdcDomainsModule. Given the tables it reads,
 * the source read selects the item's row, and for cdc/hybrid a migration
 * (registered in BFF_MIGRATIONS) captures their changes.
 */
export function main(options: CacheDomainOptions): Rule {
  return (tree: Tree, context: SchematicContext) => {
    const domain = resolveDomain(tree, options);
    if (options.flat) context.logger.warn('--flat is ignored: a cache domain always gets its own folder.');
    // ttl domains consume no events: capturing their tables would only fill a stream nobody reads.
    const migration =
      domain.cdc && domain.tables.length > 0 ? planCaptureMigration(tree, domain.migrations, domain.name) : undefined;
    return chain([
      generateFiles(domain, options, migration),
      migration ? generateCaptureMigration(domain, migration) : noop(),
      options.skipImport ? noop() : registerDomain(domain, migration),
      (_tree, ctx) => ctx.logger.info(nextSteps(domain, migration, options.skipImport === true)),
    ]);
  };
}

/** The preset schematics: the same factory with the strategy fixed, for CLIs that cannot pass `--strategy`. */
export const cdc = (options: CacheDomainOptions): Rule => main({ ...options, strategy: 'cdc' });
export const ttl = (options: CacheDomainOptions): Rule => main({ ...options, strategy: 'ttl' });
export const hybrid = (options: CacheDomainOptions): Rule => main({ ...options, strategy: 'hybrid' });

function resolveDomain(tree: Tree, options: CacheDomainOptions): CacheDomain {
  if (!options.name) throw new SchematicsException('a cache domain needs a name, e.g. `cache-domain invoices`');
  const name = strings.dasherize(options.name);
  if (!DOMAIN_NAME.test(name) || name.length > 64) {
    throw new SchematicsException(
      `"${options.name}" cannot name a cache domain: use one kebab-case word or words, e.g. invoices`,
    );
  }
  const strategy = options.strategy ?? 'cdc';
  if (!CACHE_STRATEGIES.includes(strategy)) {
    throw new SchematicsException(`unknown strategy "${strategy}": use one of ${CACHE_STRATEGIES.join(', ')}`);
  }
  if (options.language && options.language !== 'ts') {
    throw new SchematicsException(`cache-domain generates TypeScript only (language "${options.language}")`);
  }
  if (options.path) {
    throw new SchematicsException(
      `a cache domain always goes to <sourceRoot>/${name}; leave out the path ("${options.path}")`,
    );
  }
  const tables = parseCapturedTables(options.table);
  const sourceRoot = normalize(options.sourceRoot ?? sourceRootFromNestCli(tree, options.project));
  return {
    name,
    strategy,
    cdc: strategy !== 'ttl',
    sourceRoot,
    directory: join(sourceRoot, name),
    tables,
    migrations: join(sourceRoot, 'migrations'),
  };
}

/** The sourceRoot of `project` (or the top-level one) in nest-cli.json, for CLIs other than Nest's. */
function sourceRootFromNestCli(tree: Tree, project: string | undefined): string {
  const file = tree.read('nest-cli.json');
  if (!file) throw new SchematicsException('no nest-cli.json here: run from the repository root or pass --source-root');
  const config = JSON.parse(file.toString('utf8')) as {
    sourceRoot?: string;
    projects?: Record<string, { sourceRoot?: string }>;
  };
  const sourceRoot = project ? config.projects?.[project]?.sourceRoot : config.sourceRoot;
  if (!sourceRoot) {
    throw new SchematicsException(`nest-cli.json has no sourceRoot${project ? ` for project "${project}"` : ''}`);
  }
  return sourceRoot;
}

function generateFiles(domain: CacheDomain, options: CacheDomainOptions, migration?: CaptureMigration): Rule {
  return (tree: Tree, context: SchematicContext) => {
    const templates = apply(url('./files'), [
      domain.cdc ? noop() : filter((path) => !path.includes('-cdc.')),
      options.spec === false ? filter((path) => !path.includes('__specFileSuffix__')) : noop(),
      applyTemplates({
        ...strings,
        name: domain.name,
        constant: strings.underscore(domain.name).toUpperCase(),
        strategy: domain.strategy,
        cdc: domain.cdc,
        bucket: BUCKET[domain.strategy],
        ttlSeconds: TTL_SECONDS[domain.strategy],
        ttlLiteral: String(TTL_SECONDS[domain.strategy]),
        specFileSuffix: options.specFileSuffix || 'spec',
        // The table the source read selects the item from (the first), if any.
        table: domain.tables[0] ?? null,
        capturedTables: domain.tables.map((t) => t.qualified).join(', '),
        migrationFile: migration?.file ?? null,
      }),
      move(domain.directory),
      keepExisting(tree, context),
    ]);
    return mergeWith(templates);
  };
}

/** A second run keeps what the developer has written since; registration still runs. */
function keepExisting(tree: Tree, context: SchematicContext): Rule {
  return forEach((entry) => {
    if (!tree.exists(entry.path)) return entry;
    context.logger.warn(`${entry.path} exists: kept as it is`);
    return null;
  });
}

/**
 * `<sourceRoot>/migrations/<timestamp>-<name>-capture.ts`: the statement-level
 * capture triggers of the domain's tables (docs/contract.md §6.1). An earlier
 * run's migration is kept, whatever tables this run names.
 */
function generateCaptureMigration(domain: CacheDomain, migration: CaptureMigration): Rule {
  return (_tree: Tree, context: SchematicContext) => {
    if (migration.exists) {
      context.logger.warn(
        `${join(domain.migrations, `${migration.file}.ts`)} exists: kept as it is (capture other tables in a new migration)`,
      );
      return noop();
    }
    const templates = apply(url('./migration'), [
      applyTemplates({
        ...strings,
        name: domain.name,
        aggregate: ITEM_AGGREGATE,
        className: migration.className,
        migrationFile: migration.file,
        tables: domain.tables.map((table) => ({ ...table, capture: captureArguments(domain.name, table) })),
      }),
      move(domain.migrations),
    ]);
    return mergeWith(templates);
  };
}

function registerDomain(domain: CacheDomain, migration: CaptureMigration | undefined): Rule {
  return (tree: Tree) => {
    if (migration) {
      const index = join(domain.migrations, 'index.ts');
      edit(tree, index, (content) =>
        appendImportedToArrayConstant(content, index, MIGRATIONS_CONSTANT, {
          symbol: migration.className,
          from: join(domain.migrations, migration.file),
        }),
      );
    }
    const classified = strings.classify(domain.name);
    const domainsModule = join(domain.sourceRoot, 'domains.module.ts');
    edit(tree, domainsModule, (content) =>
      addModuleImport(content, domainsModule, {
        symbol: `${classified}Module`,
        from: join(domain.directory, `${domain.name}.module`),
      }),
    );
    if (!domain.cdc) return;
    const cdcDomainsModule = join(domain.sourceRoot, 'cdc-domains.module.ts');
    edit(tree, cdcDomainsModule, (content) =>
      addModuleImport(
        appendToArrayConstant(content, cdcDomainsModule, 'CDC_STREAMS', `cdc.${domain.name}.v1`),
        cdcDomainsModule,
        { symbol: `${classified}CdcModule`, from: join(domain.directory, `${domain.name}-cdc.module`) },
      ),
    );
  };
}

function edit(tree: Tree, path: Path, change: (content: string) => string): void {
  const file = tree.read(path);
  if (!file) throw new SchematicsException(`${path} not found: cache domains and their capture are registered there`);
  const content = file.toString('utf8');
  const next = change(content);
  if (next !== content) tree.overwrite(path, next);
}

function nextSteps(domain: CacheDomain, migration: CaptureMigration | undefined, skipImport: boolean): string {
  const source = `${domain.directory}/${domain.name}.source.ts`;
  const [items] = domain.tables;
  const lines = [
    items
      ? `cache domain "${domain.name}" (${domain.strategy}) is wired: GET /${domain.name}/:id reads the ${items.qualified} row by its ${items.key} (${source}).`
      : `cache domain "${domain.name}" (${domain.strategy}) is wired: GET /${domain.name}/:id answers 501 until ${source} reads the source (see its TODO).`,
  ];
  if (domain.cdc) {
    lines.push(
      `It consumes cdc.${domain.name}.v1; events of aggregate "${ITEM_AGGREGATE}" drop ${domain.name}:item:<id>.`,
    );
  }
  if (migration) {
    const file = join(domain.migrations, `${migration.file}.ts`);
    const registered = skipImport
      ? `add ${migration.className} to ${MIGRATIONS_CONSTANT} by hand`
      : `registered in ${MIGRATIONS_CONSTANT}`;
    lines.push(
      `${file} captures ${domain.tables.map((t) => t.qualified).join(', ')} (${registered}); it runs when the BFF starts, and the tables must exist by then.`,
    );
  } else if (domain.tables.length > 0) {
    lines.push(`No capture migration: a ttl domain consumes no CDC events.`);
  }
  return lines.join('\n');
}
