import { Tree } from '@angular-devkit/schematics';
import { SchematicTestRunner, UnitTestTree } from '@angular-devkit/schematics/testing';
import { readdirSync, readFileSync } from 'fs';
import { join } from 'path';

const COLLECTION = join(__dirname, '..', 'collection.json');
const SRC = 'apps/bff/src';
const DOMAINS = `${SRC}/domains.module.ts`;
const CDC_DOMAINS = `${SRC}/cdc-domains.module.ts`;
const MIGRATIONS = `${SRC}/migrations`;
const MIGRATIONS_INDEX = `${MIGRATIONS}/index.ts`;

/** The BFF's composition files as the schematic finds them (shaped like apps/bff/src's). */
const DOMAINS_MODULE = `import { Module } from '@nestjs/common';
import { CatalogModule } from './catalog/catalog.module';
import { OrdersModule } from './orders/orders.module';

/** The BFF's domain modules. */
@Module({
  imports: [CatalogModule, OrdersModule],
})
export class DomainsModule {}
`;

const CDC_DOMAINS_MODULE = `import { Module } from '@nestjs/common';
import { CatalogCdcModule } from './catalog/catalog-cdc.module';
import { OrdersCdcModule } from './orders/orders-cdc.module';

export const CDC_STREAMS: string[] = ['cdc.catalog.v1', 'cdc.orders.v1'];

@Module({
  imports: [CatalogCdcModule, OrdersCdcModule],
})
export class CdcDomainsModule {}
`;

/** The BFF's migration list, with the generic capture function's migration last (shaped like apps/bff/src/migrations). */
const MIGRATIONS_INDEX_FILE = `import { CdcOutbox1763700100000 } from './1763700100000-cdc-outbox';
import { GenericCapture1763700500000 } from './1763700500000-generic-capture';

export const BFF_MIGRATIONS = [
  CdcOutbox1763700100000,
  GenericCapture1763700500000,
];

export const BFF_MIGRATIONS_TABLE = 'cachegate_migrations';
`;

const CORE_MIGRATIONS = ['1763700100000-cdc-outbox.ts', '1763700500000-generic-capture.ts'];

const NEST_CLI = {
  collection: '@nestjs/schematics',
  sourceRoot: SRC,
  monorepo: true,
  projects: {
    bff: { type: 'application', sourceRoot: SRC },
  },
};

/** What the Nest CLI passes for `nest g -c ./libs/schematics <schematic> <name> -p bff`. */
function fromNestCli(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name,
    collection: './libs/schematics',
    project: 'bff',
    language: 'ts',
    sourceRoot: SRC,
    spec: true,
    flat: false,
    specFileSuffix: 'spec',
    skipImport: false,
    ...extra,
  };
}

const runner = new SchematicTestRunner('@cachegate/schematics', COLLECTION);

function bff(): UnitTestTree {
  const tree = new UnitTestTree(Tree.empty());
  tree.create('nest-cli.json', JSON.stringify(NEST_CLI, null, 2));
  tree.create(DOMAINS, DOMAINS_MODULE);
  tree.create(CDC_DOMAINS, CDC_DOMAINS_MODULE);
  tree.create(MIGRATIONS_INDEX, MIGRATIONS_INDEX_FILE);
  for (const file of CORE_MIGRATIONS) tree.create(`${MIGRATIONS}/${file}`, '// a core migration\n');
  return tree;
}

/** The migrations the schematic wrote: files under MIGRATIONS other than the index and the core ones. */
function captureMigrations(tree: UnitTestTree): string[] {
  return tree.files
    .filter((f) => f.startsWith(`/${MIGRATIONS}/`))
    .map((f) => f.slice(`/${MIGRATIONS}/`.length))
    .filter((f) => f !== 'index.ts' && !CORE_MIGRATIONS.includes(f));
}

function generate(schematic: string, options: Record<string, unknown>, tree = bff()): Promise<UnitTestTree> {
  return runner.runSchematic(schematic, options, tree);
}

function domainFiles(tree: UnitTestTree, name: string): string[] {
  return tree.files
    .filter((f) => f.startsWith(`/${SRC}/${name}/`))
    .map((f) => f.slice(`/${SRC}/${name}/`.length))
    .sort();
}

function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

const CDC_FILES = [
  'widgets-cache.service.spec.ts',
  'widgets-cache.service.ts',
  'widgets-cdc.controller.ts',
  'widgets-cdc.module.ts',
  'widgets.controller.ts',
  'widgets.keys.spec.ts',
  'widgets.keys.ts',
  'widgets.module.ts',
  'widgets.source.ts',
];
const TTL_FILES = CDC_FILES.filter((f) => !f.includes('-cdc.'));

describe('cache-domain schematic', () => {
  describe('cdc (the default when nothing is asked)', () => {
    let tree: UnitTestTree;
    beforeAll(async () => {
      tree = await generate('cache-domain', fromNestCli('widgets'));
    });

    it('generates the domain folder, CDC handler and specs included', () => {
      expect(domainFiles(tree, 'widgets')).toEqual(CDC_FILES);
    });

    it('leaves no template syntax behind', () => {
      for (const file of CDC_FILES) {
        const content = tree.readContent(`/${SRC}/widgets/${file}`);
        expect(content).not.toMatch(/<%|%>|__name|__specFileSuffix/);
      }
    });

    it('declares the item bucket with the cdc strategy and an event mapping', () => {
      const service = tree.readContent(`/${SRC}/widgets/widgets-cache.service.ts`);
      expect(service).toContain(`export class WidgetsCacheService extends DomainCache<'item'>`);
      expect(service).toContain(`item: { strategy: 'cdc' },`);
      expect(service).toContain('export function widgetsChangeFromEvent(event: CdcEvent)');
      expect(service).toContain('async apply(change: WidgetsChange | undefined');
      // What a batch of events makes stale is mapped purely, then applied as one invalidation.
      expect(service).toContain('export function widgetsInvalidationOf(event: CdcEvent): Invalidation');
      // Invalidation is the pipeline's job (docs/contract.md §1): no direct invalidation for writers.
      expect(service).not.toContain('changed(');
      expect(tree.readContent(`/${SRC}/widgets/widgets.source.ts`)).not.toContain('changed(');
    });

    it('builds keys widgets:item:<uuid>', () => {
      const keys = tree.readContent(`/${SRC}/widgets/widgets.keys.ts`);
      expect(keys).toContain(`export const WIDGETS = 'widgets';`);
      expect(keys).toContain(`item: (id: unknown) => cacheKey(WIDGETS, 'item', uuidSegment(id)),`);
    });

    it('serves GET /widgets/:id through @CachedRead, reading an inert source', () => {
      const controller = tree.readContent(`/${SRC}/widgets/widgets.controller.ts`);
      expect(controller).toContain(`@Controller('widgets')`);
      expect(controller).toContain(`@Get(':id')`);
      expect(controller).toContain(
        `@CachedRead(WidgetsCacheService, 'item', (req) => widgetsKeys.item((req.params as IdParams).id))`,
      );
      expect(controller).toContain(`import { IdParams } from '@app/http';`);
      const source = tree.readContent(`/${SRC}/widgets/widgets.source.ts`);
      expect(source).toContain('// TODO:');
      expect(source).toContain('throw new NotImplementedException(');
    });

    it('handles cdc.widgets.v1 in a CDC module that the HTTP module imports', () => {
      const handler = tree.readContent(`/${SRC}/widgets/widgets-cdc.controller.ts`);
      expect(handler).toContain(`@CdcEventPattern('cdc.widgets.v1')`);
      // A batch at a time (docs/contract.md §6.3): the events of one read, applied as one invalidation.
      expect(handler).toContain('async onWidgetsChanges(@Payload() events: CdcEvent[]): Promise<void> {');
      expect(handler).toContain('await this.cache.invalidateBatch(events.map(widgetsInvalidationOf));');
      const module = tree.readContent(`/${SRC}/widgets/widgets.module.ts`);
      expect(module).toContain('imports: [WidgetsCdcModule],');
      expect(module).not.toContain('WidgetsCacheService');
    });

    it('registers the module in DomainsModule', () => {
      const domains = tree.readContent(`/${DOMAINS}`);
      expect(domains).toContain(`import { WidgetsModule } from './widgets/widgets.module';`);
      expect(domains).toContain('imports: [CatalogModule, OrdersModule, WidgetsModule],');
    });

    it('registers the stream and the CDC module for the cache-sync entry point', () => {
      const cdcDomains = tree.readContent(`/${CDC_DOMAINS}`);
      expect(cdcDomains).toContain(`CDC_STREAMS: string[] = ['cdc.catalog.v1', 'cdc.orders.v1', 'cdc.widgets.v1'];`);
      expect(cdcDomains).toContain(`import { WidgetsCdcModule } from './widgets/widgets-cdc.module';`);
      expect(cdcDomains).toContain('imports: [CatalogCdcModule, OrdersCdcModule, WidgetsCdcModule],');
    });
  });

  describe('ttl', () => {
    let tree: UnitTestTree;
    beforeAll(async () => {
      tree = await generate('cache-domain', fromNestCli('widgets', { strategy: 'ttl' }));
    });

    it('generates no CDC handler', () => {
      expect(domainFiles(tree, 'widgets')).toEqual(TTL_FILES);
    });

    it('declares a 90 s ttl bucket with 600 s of grace and no event mapping', () => {
      const service = tree.readContent(`/${SRC}/widgets/widgets-cache.service.ts`);
      expect(service).toContain(`item: { strategy: 'ttl', ttlSeconds: 90, graceSeconds: 600 },`);
      expect(service).not.toMatch(/CdcEvent|apply\(/);
      expect(service).toContain('async changed(change: WidgetsChange): Promise<void>');
      expect(tree.readContent(`/${SRC}/widgets/widgets-cache.service.spec.ts`)).toContain('toBe(90)');
    });

    it('reads the item through revalidation, never through @CachedRead (which refuses ttl buckets)', () => {
      const service = tree.readContent(`/${SRC}/widgets/widgets-cache.service.ts`);
      expect(service).toContain(`return this.readRevalidating('item', keys.item(id),`);
      const controller = tree.readContent(`/${SRC}/widgets/widgets.controller.ts`);
      expect(controller).not.toContain('CachedRead');
      expect(controller).toContain('const read = await this.cache.item(id);');
    });

    it('provides the cache service in the module itself', () => {
      const module = tree.readContent(`/${SRC}/widgets/widgets.module.ts`);
      expect(module).toContain('providers: [WidgetsCacheService, WidgetsSource],');
      expect(module).not.toContain('Cdc');
    });

    it('registers the module but no stream', () => {
      expect(tree.readContent(`/${DOMAINS}`)).toContain('imports: [CatalogModule, OrdersModule, WidgetsModule],');
      expect(tree.readContent(`/${CDC_DOMAINS}`)).toBe(CDC_DOMAINS_MODULE);
    });
  });

  describe('hybrid', () => {
    let tree: UnitTestTree;
    beforeAll(async () => {
      tree = await generate('cache-domain', fromNestCli('widgets', { strategy: 'hybrid' }));
    });

    it('generates the CDC handler and a 60 s hybrid bucket', () => {
      expect(domainFiles(tree, 'widgets')).toEqual(CDC_FILES);
      const service = tree.readContent(`/${SRC}/widgets/widgets-cache.service.ts`);
      expect(service).toContain(`item: { strategy: 'hybrid', ttlSeconds: 60 },`);
      expect(service).toContain('widgetsChangeFromEvent');
      expect(service).not.toContain('changed(');
    });

    it('registers the stream', () => {
      expect(tree.readContent(`/${CDC_DOMAINS}`)).toContain(`'cdc.widgets.v1'`);
      expect(tree.readContent(`/${CDC_DOMAINS}`)).toContain('WidgetsCdcModule],');
    });
  });

  describe('aliases', () => {
    it.each(['cdc', 'ttl', 'hybrid'])(
      'cache-domain-%s generates what cache-domain does with that strategy',
      async (strategy) => {
        const viaOption = await generate('cache-domain', fromNestCli('widgets', { strategy }));
        const viaAlias = await generate(`cache-domain-${strategy}`, fromNestCli('widgets'));
        expect(viaAlias.files.sort()).toEqual(viaOption.files.sort());
        for (const file of viaOption.files) expect(viaAlias.readContent(file)).toBe(viaOption.readContent(file));
      },
    );

    it('the preset schematics ignore a --strategy passed anyway', async () => {
      const tree = await generate('cache-domain-ttl', fromNestCli('widgets', { strategy: 'cdc' }));
      expect(domainFiles(tree, 'widgets')).toEqual(TTL_FILES);
    });

    it('cd is cache-domain', async () => {
      const tree = await generate('cd', fromNestCli('widgets'));
      expect(domainFiles(tree, 'widgets')).toEqual(CDC_FILES);
    });
  });

  describe('names', () => {
    it.each(['invoice-lines', 'InvoiceLines', 'invoiceLines'])(
      '%s: kebab-case files, PascalCase classes',
      async (name) => {
        const tree = await generate('cache-domain', fromNestCli(name));
        const dir = `/${SRC}/invoice-lines`;
        expect(domainFiles(tree, 'invoice-lines')).toContain('invoice-lines-cache.service.ts');
        expect(tree.readContent(`${dir}/invoice-lines.module.ts`)).toContain('export class InvoiceLinesModule {}');
        expect(tree.readContent(`${dir}/invoice-lines.keys.ts`)).toContain(
          `export const INVOICE_LINES = 'invoice-lines';`,
        );
        expect(tree.readContent(`${dir}/invoice-lines.keys.ts`)).toContain('export const invoiceLinesKeys = {');
        expect(tree.readContent(`${dir}/invoice-lines-cdc.controller.ts`)).toContain(
          `@CdcEventPattern('cdc.invoice-lines.v1')`,
        );
        expect(tree.readContent(`/${DOMAINS}`)).toContain(
          `import { InvoiceLinesModule } from './invoice-lines/invoice-lines.module';`,
        );
      },
    );

    it.each(['1st', 'a/b', 'a.b', 'a:b', '-a', 'x'.repeat(65)])('rejects %p', async (name) => {
      await expect(generate('cache-domain', fromNestCli(name))).rejects.toThrow(/cannot name a cache domain/);
    });
  });

  describe('registration', () => {
    it('is idempotent: a second run registers nothing twice and keeps edited files', async () => {
      const once = await generate('cache-domain', fromNestCli('widgets'));
      const source = `/${SRC}/widgets/widgets.source.ts`;
      once.overwrite(source, '// written by the developer\n');
      const twice = await generate('cache-domain', fromNestCli('widgets'), once);
      const domains = twice.readContent(`/${DOMAINS}`);
      const cdcDomains = twice.readContent(`/${CDC_DOMAINS}`);
      expect(count(domains, 'WidgetsModule')).toBe(2); // the import and the metadata entry
      expect(count(cdcDomains, 'WidgetsCdcModule')).toBe(2);
      expect(count(cdcDomains, `'cdc.widgets.v1'`)).toBe(1);
      expect(twice.readContent(source)).toBe('// written by the developer\n');
    });

    it('adds a second domain after the first', async () => {
      const tree = await generate(
        'cache-domain',
        fromNestCli('gadgets'),
        await generate('cache-domain', fromNestCli('widgets')),
      );
      expect(tree.readContent(`/${DOMAINS}`)).toContain(
        'imports: [CatalogModule, OrdersModule, WidgetsModule, GadgetsModule],',
      );
      expect(tree.readContent(`/${CDC_DOMAINS}`)).toContain(
        `['cdc.catalog.v1', 'cdc.orders.v1', 'cdc.widgets.v1', 'cdc.gadgets.v1']`,
      );
    });

    it('is skipped with --skip-import', async () => {
      const tree = await generate('cache-domain', fromNestCli('widgets', { skipImport: true }));
      expect(tree.readContent(`/${DOMAINS}`)).toBe(DOMAINS_MODULE);
      expect(tree.readContent(`/${CDC_DOMAINS}`)).toBe(CDC_DOMAINS_MODULE);
    });

    it('fails when DomainsModule is not where it is expected', async () => {
      const tree = bff();
      tree.delete(DOMAINS);
      await expect(generate('cache-domain', fromNestCli('widgets'), tree)).rejects.toThrow(
        /domains\.module\.ts not found/,
      );
    });
  });

  describe('with the table it reads (cdc)', () => {
    let tree: UnitTestTree;
    let file: string;
    let migration: string;
    beforeAll(async () => {
      tree = await generate('cache-domain', fromNestCli('widgets', { table: 'public.widgets' }));
      [file] = captureMigrations(tree);
      migration = tree.readContent(`/${MIGRATIONS}/${file}`);
    });

    it('writes one capture migration, timestamped now, after the generic capture function', () => {
      expect(captureMigrations(tree)).toEqual([expect.stringMatching(/^\d{13}-widgets-capture\.ts$/)]);
      const timestamp = Number(file.slice(0, 13));
      expect(timestamp).toBeGreaterThan(1763700500000);
      expect(Math.abs(timestamp - Date.now())).toBeLessThan(60_000);
      expect(migration).toContain(`export class WidgetsCapture${timestamp} implements MigrationInterface {`);
      expect(migration).toContain(`name = 'WidgetsCapture${timestamp}';`);
      expect(migration).not.toMatch(/<%|%>/);
    });

    it('captures the table with statement-level triggers on the generic function, TRUNCATE included', () => {
      expect(migration).toContain(`await q.query(\`SELECT cdc.check_capture_key('public.widgets', 'id')\`);`);
      const triggers = [
        ['insert', 'INSERT', 'REFERENCING NEW TABLE AS new_rows'],
        ['update', 'UPDATE', 'REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows'],
        ['delete', 'DELETE', 'REFERENCING OLD TABLE AS old_rows'],
      ];
      for (const [name, op, referencing] of triggers) {
        expect(migration).toMatch(
          new RegExp(
            `CREATE TRIGGER capture_${name} AFTER ${op} ON public\\.widgets\\s+${referencing}\\s+` +
              `FOR EACH STATEMENT EXECUTE FUNCTION cdc\\.capture_rows\\('widgets', 'item', 'id'\\)`,
          ),
        );
      }
      expect(migration).toMatch(
        /CREATE TRIGGER capture_truncate AFTER TRUNCATE ON public\.widgets\s+FOR EACH STATEMENT EXECUTE FUNCTION cdc\.capture_truncate\('widgets', 'item'\)/,
      );
      expect(count(migration, 'CREATE TRIGGER')).toBe(4);
    });

    it('has a down() that drops the four triggers', () => {
      const down = migration.slice(migration.indexOf('async down('));
      expect(down).toContain(`for (const table of ['public.widgets']) {`);
      expect(down).toContain(
        `for (const trigger of ['capture_insert', 'capture_update', 'capture_delete', 'capture_truncate']) {`,
      );
      expect(down).toContain('await q.query(`DROP TRIGGER ${trigger} ON ${table}`);');
    });

    it('registers the migration last in BFF_MIGRATIONS', () => {
      const className = `WidgetsCapture${file.slice(0, 13)}`;
      const index = tree.readContent(`/${MIGRATIONS_INDEX}`);
      expect(index).toContain(`import { ${className} } from './${file.slice(0, -'.ts'.length)}';`);
      expect(index).toContain(`  GenericCapture1763700500000,\n  ${className},\n];`);
    });

    it('reads the item from the table by its primary key: the row as JSON, 404 when there is none', () => {
      const source = tree.readContent(`/${SRC}/widgets/widgets.source.ts`);
      expect(source).toContain('@InjectDataSource() private readonly dataSource: DataSource');
      expect(source).toContain('`SELECT row_to_json(t) AS item FROM public.widgets t WHERE t.id = $1`,');
      expect(source).toContain('if (rows.length === 0) throw new NotFoundException(`widgets item ${id} not found`);');
      expect(source).toContain('export type WidgetsItemView = Record<string, unknown>;');
      expect(source).toContain(file.slice(0, -'.ts'.length));
      expect(source).not.toMatch(/NotImplementedException|<%|%>/);
    });

    it('maps the item events the triggers write to the item keys, and a TRUNCATE to the whole domain', () => {
      const service = tree.readContent(`/${SRC}/widgets/widgets-cache.service.ts`);
      expect(service).toContain(`if (event.aggregate.type !== 'item') return undefined;`);
      expect(service).toContain(`if (event.type.endsWith('.truncated')) return { all: true };`);
      expect(service).toContain(`return 'all' in change ? { keys: [], all: true } : { keys: [keys.item(change.id)] };`);
      expect(tree.readContent(`/${SRC}/widgets/widgets-cdc.controller.ts`)).toContain(
        'await this.cache.invalidateBatch(events.map(widgetsInvalidationOf));',
      );
    });

    it('takes another key column, and further tables whose rows belong to an item', async () => {
      const other = await generate(
        'cache-domain',
        fromNestCli('widgets', { table: 'sales.widgets:widget_id, sales.widget_parts:widget_id' }),
      );
      const [name] = captureMigrations(other);
      const text = other.readContent(`/${MIGRATIONS}/${name}`);
      expect(text).toContain(`SELECT cdc.check_capture_key('sales.widgets', 'widget_id')`);
      expect(text).toContain(`SELECT cdc.check_capture_key('sales.widget_parts', 'widget_id')`);
      expect(count(text, `cdc.capture_rows('widgets', 'item', 'widget_id')`)).toBe(3);
      expect(count(text, `cdc.capture_rows('widgets', 'item', 'widget_id', 'updated')`)).toBe(3);
      expect(count(text, 'CREATE TRIGGER capture_truncate AFTER TRUNCATE ON sales.widget')).toBe(2);
      expect(text).toContain(`for (const table of ['sales.widgets', 'sales.widget_parts']) {`);
      expect(other.readContent(`/${SRC}/widgets/widgets.source.ts`)).toContain(
        'FROM sales.widgets t WHERE t.widget_id = $1',
      );
    });

    it('hybrid captures too', async () => {
      const hybrid = await generate('cache-domain-hybrid', fromNestCli('widgets', { table: 'public.widgets' }));
      expect(captureMigrations(hybrid)).toHaveLength(1);
    });

    it('a second run keeps the migration and registers it once', async () => {
      const twice = await generate('cache-domain', fromNestCli('widgets', { table: 'public.other' }), tree);
      expect(captureMigrations(twice)).toEqual([file]);
      expect(twice.readContent(`/${MIGRATIONS}/${file}`)).toBe(migration);
      expect(count(twice.readContent(`/${MIGRATIONS_INDEX}`), `WidgetsCapture${file.slice(0, 13)}`)).toBe(2);
    });

    it('comes after a migration timestamped later than now', async () => {
      const later = Date.now() + 3_600_000;
      const base = bff();
      base.create(`${MIGRATIONS}/${later}-gadgets-capture.ts`, '// gadgets\n');
      const next = await generate('cache-domain', fromNestCli('widgets', { table: 'public.widgets' }), base);
      expect(captureMigrations(next)).toContain(`${later + 1}-widgets-capture.ts`);
    });

    it('--skip-import writes the migration but registers nothing', async () => {
      const skipped = await generate(
        'cache-domain',
        fromNestCli('widgets', { table: 'public.widgets', skipImport: true }),
      );
      expect(captureMigrations(skipped)).toHaveLength(1);
      expect(skipped.readContent(`/${MIGRATIONS_INDEX}`)).toBe(MIGRATIONS_INDEX_FILE);
    });

    it('fails when the migrations index is not where it is expected', async () => {
      const base = bff();
      base.delete(MIGRATIONS_INDEX);
      await expect(generate('cache-domain', fromNestCli('widgets', { table: 'public.widgets' }), base)).rejects.toThrow(
        /migrations\/index\.ts not found/,
      );
    });

    it.each(['widgets', 'public.Widgets', 'public.widgets; drop table x', 'public.widgets,'])(
      'rejects the table %p with the form it expects',
      async (table) => {
        await expect(generate('cache-domain', fromNestCli('widgets', { table }))).rejects.toThrow(
          /is not a table cache-domain can read: use schema\.table/,
        );
      },
    );
  });

  describe('with the table it reads (ttl)', () => {
    let tree: UnitTestTree;
    beforeAll(async () => {
      tree = await generate('cache-domain-ttl', fromNestCli('widgets', { table: 'public.widgets' }));
    });

    it('reads the table, and captures nothing: a ttl domain consumes no events', () => {
      expect(tree.readContent(`/${SRC}/widgets/widgets.source.ts`)).toContain('FROM public.widgets t WHERE t.id = $1');
      expect(captureMigrations(tree)).toEqual([]);
      expect(tree.readContent(`/${MIGRATIONS_INDEX}`)).toBe(MIGRATIONS_INDEX_FILE);
    });

    it('builds the source in its spec with a placeholder DataSource', () => {
      expect(tree.readContent(`/${SRC}/widgets/widgets-cache.service.spec.ts`)).toContain(
        'new WidgetsCacheService(context, new WidgetsSource(undefined as never))',
      );
    });
  });

  describe('without a table', () => {
    it.each([undefined, ''])('%p: no migration, and the source read stays a TODO answering 501', async (table) => {
      const tree = await generate('cache-domain', fromNestCli('widgets', { table }));
      expect(captureMigrations(tree)).toEqual([]);
      expect(tree.readContent(`/${MIGRATIONS_INDEX}`)).toBe(MIGRATIONS_INDEX_FILE);
      expect(tree.readContent(`/${SRC}/widgets/widgets.source.ts`)).toContain('throw new NotImplementedException(');
    });
  });

  describe('options', () => {
    it('takes the source root from nest-cli.json when no CLI passes one', async () => {
      const tree = await generate('cache-domain', { name: 'widgets', strategy: 'ttl', project: 'bff' });
      expect(domainFiles(tree, 'widgets')).toEqual(TTL_FILES);
      const defaulted = await generate('cache-domain', { name: 'widgets' });
      expect(domainFiles(defaulted, 'widgets')).toEqual(CDC_FILES);
    });

    it('--no-spec leaves out the spec files; --spec-file-suffix renames them', async () => {
      const noSpec = await generate('cache-domain', fromNestCli('widgets', { spec: false }));
      expect(domainFiles(noSpec, 'widgets')).toEqual(CDC_FILES.filter((f) => !f.endsWith('.spec.ts')));
      const suffixed = await generate('cache-domain', fromNestCli('widgets', { specFileSuffix: 'test' }));
      expect(domainFiles(suffixed, 'widgets')).toEqual(
        expect.arrayContaining(['widgets.keys.test.ts', 'widgets-cache.service.test.ts']),
      );
    });

    it('refuses a path, and languages other than ts', async () => {
      await expect(generate('cache-domain', fromNestCli('widgets', { path: 'x' }))).rejects.toThrow(
        /leave out the path/,
      );
      await expect(generate('cache-domain', fromNestCli('widgets', { language: 'js' }))).rejects.toThrow(
        /TypeScript only/,
      );
    });

    it('rejects an unknown strategy (schema enum)', async () => {
      await expect(generate('cache-domain', fromNestCli('widgets', { strategy: 'lru' }))).rejects.toThrow();
    });
  });

  describe('collection', () => {
    it('extends @nestjs/schematics: the standard generators work through it', async () => {
      const tree = await generate('class', { name: 'money', sourceRoot: SRC, spec: false });
      expect(tree.files).toContain(`/${SRC}/money.ts`);
    });

    it('the strategy is asked (x-prompt, default cdc); the presets share every other option', () => {
      const schema = JSON.parse(readFileSync(join(__dirname, 'schema.json'), 'utf8'));
      const preset = JSON.parse(readFileSync(join(__dirname, 'preset-schema.json'), 'utf8'));
      expect(schema.properties.strategy).toMatchObject({ default: 'cdc', enum: ['cdc', 'ttl', 'hybrid'] });
      expect(schema.properties.strategy['x-prompt'].type).toBe('list');
      const { strategy: _strategy, ...others } = schema.properties;
      expect(preset.properties).toEqual(others);
    });

    it('keeps templates away from tsc and jest (.template suffix)', () => {
      const templates = readdirSync(join(__dirname, 'files'));
      expect(templates.length).toBeGreaterThan(0);
      for (const file of templates) expect(file).toMatch(/^__name@dasherize__.*\.ts\.template$/);
      expect(readdirSync(join(__dirname, 'migration'))).toEqual(['__migrationFile__.ts.template']);
    });

    it('the tables are asked (x-prompt, no default: none when nobody answers)', () => {
      const schema = JSON.parse(readFileSync(join(__dirname, 'schema.json'), 'utf8'));
      expect(schema.properties.table).toMatchObject({ type: 'string' });
      expect(schema.properties.table['x-prompt']).toMatch(/schema\.table/);
      expect(schema.properties.table.default).toBeUndefined();
    });
  });
});
