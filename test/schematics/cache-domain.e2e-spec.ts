import { execFile } from 'child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { promisify } from 'util';

/**
 * The cache-domain schematic end to end, as a developer runs it: the real Nest
 * CLI on a scratch copy of the repository, then the TypeScript compiler and the
 * generated spec files. Nothing here needs Postgres or Redis.
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
 * domain (widgets), a cdc domain (gadgets), then the cdc one again. Each test
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
      ]);
      expect({ code: result.code, output: result.code === 0 ? '' : result.output }).toEqual({ code: 0, output: '' });
      const summary = JSON.parse(readFileSync(report, 'utf8')) as {
        numTotalTestSuites: number;
        numFailedTests: number;
        numPassedTests: number;
      };
      expect(summary).toMatchObject({ numTotalTestSuites: 4, numFailedTests: 0 });
      expect(summary.numPassedTests).toBeGreaterThan(10);
    } finally {
      rmSync(reportDir, { recursive: true, force: true });
    }
  }, 90_000);
});
