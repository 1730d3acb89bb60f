import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { TRUTH_ENV, waitForCdc } from './cdc';
import { TestContext } from './test-context';

type Env = Record<string, string>;

/** What the fixture has started, handed to `seed` and `settle` and (with `seeded`) to the tests. */
export interface StartedBff {
  /** This describe block's database, Redis prefix and BFFs (any the tests start with `ctx.startBff` too). */
  readonly ctx: TestContext;
  /** The first instance of `instances`. */
  readonly bff: NestFastifyApplication;
  /** The instances of `instances`, in order (not `truth`, nor any a test starts itself). */
  readonly apps: NestFastifyApplication[];
  /** The cache-disabled BFF without CDC (TRUTH_ENV), when asked for with `truth: true`. */
  readonly truth: NestFastifyApplication;
}

export interface SeededBff<Seed> extends StartedBff {
  /** What `seed` returned. */
  readonly seeded: Seed;
}

export interface SeededBffOptions<Seed> {
  /**
   * The BFF instances to start, in this order: how many (with the harness
   * defaults, the whole CDC pipeline on), or each one's environment overrides.
   * Default 1. A function is called after `before`, for values known only then.
   */
  instances?: number | Env[] | ((ctx: TestContext) => Env[]);
  /** Overrides for every instance of `instances` (an instance's own win); a function is called after `before`. */
  env?: Env | ((ctx: TestContext) => Env);
  /** Also start `truth`, after the instances. */
  truth?: boolean;
  /** Runs first, before any BFF starts: e.g. starts a throwaway Redis or a child process the instances need. */
  before?: (ctx: TestContext) => Promise<void>;
  /** Writes the data every test of the block shares, once the BFFs run; its result is `seeded`. */
  seed?: (started: StartedBff) => Promise<Seed>;
  /**
   * Runs after `seed`, so that no test starts while the seed's changes are
   * still on their way through CDC (an invalidation landing in a test's first
   * fill would discard it). Default: waitForCdc on the first instance.
   * `false` when nothing can settle yet (no relay runs until a test starts one).
   */
  settle?: false | ((started: StartedBff) => Promise<void>);
  /** Runs last, once every BFF is closed and the context removed: stops what `before` started. */
  after?: () => Promise<void> | void;
  /** Timeout of the set-up (default: the configured test timeout). */
  timeoutMs?: number;
}

/**
 * The set-up every suite of test/cdc and test/cache shares, registered for the
 * enclosing describe block: a TestContext (own database and Redis prefix), the
 * BFF instances, optionally the source-of-truth BFF and seed data, and a
 * teardown that closes all of it.
 *
 *   const suite = useSeededBff({
 *     instances: [CDC_ON, CDC_OFF],
 *     truth: true,
 *     seed: ({ ctx }) => seedCatalog(ctx.sql, 2, 3),
 *   });
 *   it('…', async () => {
 *     const [reader, other] = suite.apps;
 *     await warm(appReader(reader), catalogUrls(suite.seeded));
 *   });
 *
 * The handle is lazy: its fields exist inside tests (and later hooks), not
 * while the describe block is being declared.
 */
export function useSeededBff<Seed = undefined>(options: SeededBffOptions<Seed> = {}): SeededBff<Seed> {
  let ctx: TestContext | undefined;
  let apps: NestFastifyApplication[] | undefined;
  let truth: NestFastifyApplication | undefined;
  let seeded: { value: Seed } | undefined;

  const ready = <T>(value: T | undefined, what: string): T => {
    if (value === undefined)
      throw new Error(`useSeededBff: ${what} is not there (used outside a test, or the set-up failed)`);
    return value;
  };
  // `seed` and `settle` get this handle too, typed without `seeded` (which is not there yet).
  const handle: SeededBff<Seed> = {
    get ctx() {
      return ready(ctx, 'the test context');
    },
    get apps() {
      return ready(apps, 'the BFF instances');
    },
    get bff() {
      return ready(apps, 'the BFF instances')[0];
    },
    get truth() {
      if (!options.truth) throw new Error('useSeededBff: no truth BFF (pass `truth: true`)');
      return ready(truth, 'the truth BFF');
    },
    get seeded() {
      if (!options.seed) throw new Error('useSeededBff: nothing seeded (pass `seed`)');
      return ready(seeded, 'the seed').value;
    },
  };

  beforeAll(async () => {
    ctx = await TestContext.create();
    await options.before?.(ctx);
    const shared = typeof options.env === 'function' ? options.env(ctx) : (options.env ?? {});
    const { instances = 1 } = options;
    const envs =
      typeof instances === 'number'
        ? Array.from({ length: instances }, () => ({}))
        : typeof instances === 'function'
          ? instances(ctx)
          : instances;
    const startedApps: NestFastifyApplication[] = [];
    // One after the other: each instance's consumer name is numbered from the ones before it.
    for (const env of envs) startedApps.push(await ctx.startBff({ ...shared, ...env }));
    apps = startedApps;
    if (options.truth) truth = await ctx.startBff(TRUTH_ENV);
    if (options.seed) {
      seeded = { value: await options.seed(handle) };
      if (options.settle !== false) await (options.settle ?? ((s) => waitForCdc(s.bff)))(handle);
    }
  }, options.timeoutMs);

  afterAll(async () => {
    try {
      await ctx?.close();
    } finally {
      await options.after?.();
    }
  });

  return handle;
}
