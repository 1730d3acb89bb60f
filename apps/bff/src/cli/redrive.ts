/**
 * `npm run cdc:redrive -- --stream cdc.catalog.v1 [--ids <id>,<id>]` (built:
 * `node dist/apps/bff/src/cli/redrive --stream …`): re-publishes the dead
 * letters of one of this deployment's CDC streams to the stream and removes
 * them from `<stream>:dlq`, as POST /admin/cdc/dead-letters/redrive does
 * (DeadLetters, libs/cdc). Configured like the BFF (environment, and .env
 * outside tests): REDIS_URL (or REDIS_CLUSTER_NODES, REDIS_CLUSTER_WAIT_REPLICAS),
 * CACHE_KEY_PREFIX, CDC_STREAM_MAXLEN. Prints
 * progress after each batch and a summary; exits 0 when every dead letter
 * asked for was redriven or reported, 1 on an error, 2 on bad arguments.
 */
import { Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { NestFactory } from '@nestjs/core';
import { parseArgs } from 'node:util';
import { cdcRedis, DeadLetters, RedriveReport } from '@app/cdc';
import { createRedisClient } from '@app/redis';
import { AppConfigModule, EnvironmentVariables } from '@app/config';
import { CDC_STREAMS } from '../cdc-domains.module';

const USAGE = `usage: npm run cdc:redrive -- --stream <stream> [--ids <id>,<id>,…]
  --stream  one of ${CDC_STREAMS.join(', ')}
  --ids     dead-letter ids (GET /admin/cdc/dead-letters lists them); all of the stream's when left out`;

/** Configuration only: no database, no cache, no HTTP. */
@Module({ imports: [AppConfigModule.forRoot()] })
class RedriveCommandModule {}

const print = (line: string) => process.stdout.write(`${line}\n`);
const counts = (r: RedriveReport) => `redriven ${r.redriven}, skipped ${r.skipped.length}, missing ${r.missing.length}`;

async function main(argv: string[]): Promise<number> {
  let stream: string | undefined;
  let ids: string[] | undefined;
  try {
    const { values } = parseArgs({
      args: argv,
      options: { stream: { type: 'string' }, ids: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
    });
    if (values.help) {
      print(USAGE);
      return 0;
    }
    stream = values.stream;
    ids = values.ids
      ?.split(',')
      .map((id) => id.trim())
      .filter((id) => id !== '');
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (!stream || !CDC_STREAMS.includes(stream)) {
    process.stderr.write(
      `${stream ? `not a stream of this deployment: ${stream}` : '--stream is required'}\n${USAGE}\n`,
    );
    return 2;
  }

  const context = await NestFactory.createApplicationContext(RedriveCommandModule, { logger: ['error'] });
  const config = context.get<ConfigService<EnvironmentVariables, true>>(ConfigService);
  const { topology, replicas } = cdcRedis(config);
  const redis = createRedisClient(topology, {
    name: 'cachegate-cdc-redrive',
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    retryDelayMs: (attempt) => Math.min(attempt * 50, 2000), // ioredis's default
  });
  try {
    await redis.connect();
    const deadLetters = new DeadLetters(async () => redis, {
      prefix: config.get('CACHE_KEY_PREFIX'),
      streams: CDC_STREAMS,
      maxLen: config.get('CDC_STREAM_MAXLEN'),
      replicas,
    });
    print(`redriving ${ids ? `${ids.length} dead letter(s)` : 'every dead letter'} of ${stream}`);
    const report = await deadLetters.redrive(stream, ids, (progress) => print(`… ${counts(progress)}`));
    for (const { id, error } of report.skipped) print(`skipped ${id} (left in the dead-letter stream): ${error}`);
    for (const id of report.missing) print(`missing ${id}: not in the dead-letter stream`);
    print(`done: ${stream}: ${counts(report)}`);
    return 0;
  } catch (err) {
    process.stderr.write(`redrive failed: ${(err as Error).message}\n`);
    return 1;
  } finally {
    redis.disconnect();
    await context.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`redrive failed: ${(err as Error).message ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
