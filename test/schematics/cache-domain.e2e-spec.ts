import { execFile } from 'child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { promisify } from 'util';
import { eventually } from '../../tools/eventually';
import { ChildApp, useChildProcesses } from '../harness/processes';
import { useTestContext } from '../harness/test-context';

/**
 * The cache-domain schematic end to end, as a developer runs it: the real Nest
 * CLI (and the schematics CLI, which can pass --table) on a scratch copy of the
 * repository, then the TypeScript compiler and the generated spec files, then
 * the generated BFF itself on a fresh database with the CDC pipeline on.
 */

const ROOT = join(__dirname, '..', '..');
const BFF = 'apps/bff/src';
const execFileAsync = promisify(execFile);

interface Result {
  code: number;
  output: string;
}

/** Runs a command in the scratch copy; never throws, so a failure's output reaches the assertion. */
async function run(dir: string, command: string, args: string[]): Promise<Result> {
  // A jest run inside this one must not think it is one of its workers.
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('JEST_')));
  try {
    const { stdout, stderr } = await execFileAsync(command, args, {
      cwd: dir,
      env: { ...env, CI: 'true', FORCE_COLOR: '0' },
      maxBuffer: 16 * 1024 * 1024,
    });
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const failed = err as { code?: number; stdout?: string; stderr?: string; message: string };
    return {
      code: typeof failed.code === 'number' ? failed.code : 1,
      output: `${failed.stdout ?? ''}${failed.stderr ?? ''}${failed.message}`,
    };
  }
}

/** `nest g -c ./libs/schematics <schematic> <name> -p bff` in the scratch copy, as a user types it. */
function nestGenerate(dir: string, schematic: string, name: string): Promise<Result> {
  return run(dir, 'npx', ['--no', 'nest', 'g', '-c', './libs/schematics', schematic, name, '-p', 'bff']);
}

/**
 * `schematics ./libs/schematics:cache-domain <name> --table=<tables> --project=bff`: the CLI that passes
 * options the Nest CLI does not forward (a local collection is a dry run unless told otherwise).
 */
function schematicsGenerate(dir: string, name: string, table: string): Promise<Result> {
  return run(dir, 'npx', [
    '--no',
    'schematics',
    './libs/schematics:cache-domain',
    name,
    `--table=${table}`,
    '--project=bff',
    '--dry-run=false',
  ]);
}

/** The repository without node_modules (linked) or build output. */
function scratchCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cachegate-schematics-'));
  const skip = (from: string) => !/[\\/](node_modules|dist|coverage)([\\/]|$)/.test(from.slice(ROOT.length));
  // Every source tree the root tsconfig and the unit jest config name.
  for (const entry of ['apps', 'libs', 'bench', 'soak', 'test', 'tools'].filter((e) => existsSync(join(ROOT, e)))) {
    cpSync(join(ROOT, entry), join(dir, entry), { recursive: true, filter: skip });
  }
  const rootFiles = readdirSync(ROOT).filter((f) =>
    /^(tsconfig.*\.json|nest-cli\.json|package\.json|jest\..*\.js)$/.test(f),
  );
  for (const file of rootFiles) cpSync(join(ROOT, file), join(dir, file));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return dir;
}

/** A generator run's result, and the two files domains are registered in as it left them. */
interface Generated {
  result: Result;
  domains: string;
  cdcDomains: string;
}

/**
 * Everything is generated once, in beforeAll, into one scratch copy: a ttl
 * domain (widgets), a cdc domain (gadgets), then the cdc one again, and a cdc
 * domain over two tables (coupons, with its capture migration). Each test
 * checks one thing about that and changes nothing in the copy, so none depends
 * on another having run before it. What a step did to the registration files
 * is kept as that step left them, since the next step adds to them.
 */
describe('nest g -c ./libs/schematics cache-domain (end to end)', () => {
  let dir: string;
  const read = (file: string) => readFileSync(join(dir, file), 'utf8');
  let widgets: Generated;
  let gadgets: Generated;
  let again: Generated;
  let coupons: Result;

  async function generate(schematic: string, name: string): Promise<Generated> {
    const result = await nestGenerate(dir, schematic, name);
    return { result, domains: read(`${BFF}/domains.module.ts`), cdcDomains: read(`${BFF}/cdc-domains.module.ts`) };
  }

  beforeAll(async () => {
    dir = scratchCopy();
    // What `npm ci` does through `prepare`, on this copy's sources.
    const build = await run(dir, process.execPath, ['libs/schematics/build.js']);
    expect(build).toMatchObject({ code: 0 });
    widgets = await generate('cache-domain-ttl', 'widgets');
    // Without a strategy, and nobody to answer the prompt (CI=true): the cdc default.
    gadgets = await generate('cache-domain', 'gadgets');
    again = await generate('cache-domain-cdc', 'gadgets');
    // The items' table, and one whose rows belong to an item (named by coupon_id).
    coupons = await schematicsGenerate(dir, 'coupons', 'public.coupons,public.coupon_codes:coupon_id');
  }, 240_000);

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('generates a ttl domain with the preset schematic', () => {
    expect(widgets.result.code).toBe(0);
    expect(existsSync(join(dir, BFF, 'widgets/widgets.module.ts'))).toBe(true);
    expect(existsSync(join(dir, BFF, 'widgets/widgets-cdc.controller.ts'))).toBe(false);
    expect(read(`${BFF}/widgets/widgets-cache.service.ts`)).toContain(
      `item: { strategy: 'ttl', ttlSeconds: 90, graceSeconds: 600 },`,
    );
    expect(widgets.domains).toMatch(/imports: \[[^\]]*WidgetsModule\]/);
    expect(widgets.cdcDomains).not.toContain('widgets');
  });

  it('generates a cdc domain when nobody can answer the strategy prompt', () => {
    expect(gadgets.result.code).toBe(0);
    expect(read(`${BFF}/gadgets/gadgets-cdc.controller.ts`)).toContain(`@CdcEventPattern('cdc.gadgets.v1')`);
    expect(read(`${BFF}/gadgets/gadgets-cache.service.ts`)).toContain(`item: { strategy: 'cdc' },`);
    expect(gadgets.cdcDomains).toMatch(/CDC_STREAMS: string\[\] = \[[^\]]*'cdc\.gadgets\.v1'\]/);
    expect(gadgets.cdcDomains).toMatch(/imports: \[[^\]]*GadgetsCdcModule\]/);
  });

  it('registers nothing twice when run again', () => {
    expect(again.result.code).toBe(0);
    expect([again.domains, again.cdcDomains]).toEqual([gadgets.domains, gadgets.cdcDomains]);
  });

  it('generates a domain with the tables it reads: a source read and a registered capture migration', () => {
    expect(coupons).toMatchObject({ code: 0 });
    expect(coupons.output).toMatch(/CREATE apps\/bff\/src\/migrations\/\d{13}-coupons-capture\.ts/);
    expect(read(`${BFF}/coupons/coupons.source.ts`)).toContain('FROM public.coupons t WHERE t.id = $1');
    // Last in BFF_MIGRATIONS, after the generic capture function it calls.
    expect(read(`${BFF}/migrations/index.ts`)).toMatch(/\bCouponsCapture\d{13},\n\];/);
  });

  it('leaves a repository that compiles', async () => {
    const result = await run(dir, process.execPath, [
      'node_modules/typescript/bin/tsc',
      '-p',
      'tsconfig.json',
      '--noEmit',
    ]);
    expect(result.output).toBe('');
    expect(result.code).toBe(0);
  }, 90_000);

  it('generates spec files that pass without edits', async () => {
    // The report goes outside the scratch copy: this test leaves the copy as it found it.
    const reportDir = mkdtempSync(join(tmpdir(), 'cachegate-schematics-report-'));
    const report = join(reportDir, 'jest-report.json');
    try {
      const result = await run(dir, process.execPath, [
        'node_modules/jest/bin/jest.js',
        '--config',
        'jest.config.js',
        '--ci',
        '--json',
        `--outputFile=${report}`,
        `${BFF}/widgets/`,
        `${BFF}/gadgets/`,
        `${BFF}/coupons/`,
      ]);
      expect({ code: result.code, output: result.code === 0 ? '' : result.output }).toEqual({ code: 0, output: '' });
      const summary = JSON.parse(readFileSync(report, 'utf8')) as {
        numTotalTestSuites: number;
        numFailedTests: number;
        numPassedTests: number;
      };
      expect(summary).toMatchObject({ numTotalTestSuites: 6, numFailedTests: 0 });
      expect(summary.numPassedTests).toBeGreaterThan(10);
    } finally {
      rmSync(reportDir, { recursive: true, force: true });
    }
  }, 90_000);

  /**
   * The generated coupons domain at work: the generated BFF (the scratch copy's
   * entry point, every generated domain in it) on a fresh database where only
   * the tables were created. Its boot runs the generated capture migration;
   * then writes in plain SQL must reach the cached views through the CDC
   * pipeline, with no SQL of the test's own besides the tables and the writes.
   * Each test uses its own coupon. The coupons are inserted before the BFF
   * starts, so before their capture exists: they raise no event that could
   * drop a view a test has just filled.
   */
  describe('the generated domain on a fresh database', () => {
    // Registered first, so its afterAll kills the BFF before the context drops its database.
    const procs = useChildProcesses();
    const ctx = useTestContext();
    let bff: ChildApp;

    const COUPON = {
      read: 'c0000000-0000-4000-8000-000000000001',
      updated: 'c0000000-0000-4000-8000-000000000002',
      extended: 'c0000000-0000-4000-8000-000000000003',
      deleted: 'c0000000-0000-4000-8000-000000000004',
      truncated: 'c0000000-0000-4000-8000-000000000005',
    };

    beforeAll(async () => {
      await ctx().sql.query(`
        CREATE TABLE public.coupons (id uuid PRIMARY KEY, code text NOT NULL, percent integer NOT NULL);
        CREATE TABLE public.coupon_codes (
          id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
          coupon_id uuid NOT NULL REFERENCES public.coupons ON DELETE CASCADE,
          code text NOT NULL)`);
      await ctx().sql.query(`INSERT INTO public.coupons (id, code, percent) SELECT unnest($1::uuid[]), 'SPRING', 10`, [
        Object.values(COUPON),
      ]);
      bff = await procs.start('bff', ctx().env(), { root: dir, readyTimeoutMs: 120_000 });
    }, 150_000);

    const coupon = (id: string) => bff.get(`/coupons/${id}`);

    /** Fills the cache with the item's view, and checks that it is served from there. */
    async function warm(id: string): Promise<void> {
      await coupon(id);
      expect((await coupon(id)).headers.get('x-cache')).toMatch(/^HIT-L[12]$/);
    }

    it('serves a row through the cache: MISS, then a hit; 404 for a row that does not exist', async () => {
      const first = await coupon(COUPON.read);
      expect(first).toMatchObject({ status: 200, body: { id: COUPON.read, code: 'SPRING', percent: 10 } });
      expect(first.headers.get('x-cache')).toBe('MISS');
      const second = await coupon(COUPON.read);
      expect(second).toMatchObject({ status: 200, body: first.body });
      expect(second.headers.get('x-cache')).toMatch(/^HIT-L[12]$/);
      expect((await coupon('c0000000-0000-4000-8000-00000000ffff')).status).toBe(404);
    });

    it('an UPDATE in plain SQL reaches the cached view, as a contract event', async () => {
      await warm(COUPON.updated);
      await ctx().sql.query(`UPDATE public.coupons SET code = 'SUMMER', percent = 15 WHERE id = $1`, [COUPON.updated]);
      await eventually(
        async () => expect((await coupon(COUPON.updated)).body).toMatchObject({ code: 'SUMMER', percent: 15 }),
        {
          timeoutMs: 10_000,
          message: 'the view to show the update',
        },
      );
      // docs/contract.md §6.1/6.2, as the outbox holds it.
      const { rows } = await ctx().sql.query(
        `SELECT domain, type, aggregate_type, aggregate_id, source FROM cdc.outbox WHERE aggregate_id = $1 ORDER BY id`,
        [COUPON.updated],
      );
      expect(rows).toEqual([
        {
          domain: 'coupons',
          type: 'coupons.item.updated',
          aggregate_type: 'item',
          aggregate_id: COUPON.updated,
          source: 'postgres:public.coupons',
        },
      ]);
    });

    it('a change of a table whose rows belong to an item drops that item', async () => {
      await warm(COUPON.extended);
      await ctx().sql.query(`INSERT INTO public.coupon_codes (coupon_id, code) VALUES ($1, 'SPRING-1')`, [
        COUPON.extended,
      ]);
      await eventually(async () => expect((await coupon(COUPON.extended)).headers.get('x-cache')).toBe('MISS'), {
        timeoutMs: 10_000,
        message: 'the item to be dropped',
      });
    });

    it('a DELETE makes the view a 404', async () => {
      await warm(COUPON.deleted);
      await ctx().sql.query(`DELETE FROM public.coupons WHERE id = $1`, [COUPON.deleted]);
      await eventually(async () => expect((await coupon(COUPON.deleted)).status).toBe(404), {
        timeoutMs: 10_000,
        message: 'the view to be gone',
      });
    });

    it('a TRUNCATE of any captured table drops every item', async () => {
      await warm(COUPON.truncated);
      await ctx().sql.query(`TRUNCATE public.coupon_codes`);
      await eventually(async () => expect((await coupon(COUPON.truncated)).headers.get('x-cache')).toBe('MISS'), {
        timeoutMs: 10_000,
        message: 'every item to be dropped',
      });
    });
  });
});
