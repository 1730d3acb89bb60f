import { Path, strings } from '@angular-devkit/core';
import { Tree } from '@angular-devkit/schematics';
import { CapturedTable } from './captured-tables';

/** The aggregate type of a scaffolded domain's events: the templates map `<name>.item.*` to its item keys. */
export const ITEM_AGGREGATE = 'item';

/** The migration that captures a domain's tables, in `<sourceRoot>/migrations/`. */
export interface CaptureMigration {
  /** `<timestamp>-<name>-capture`, without extension. */
  file: string;
  timestamp: number;
  /** `<Name>Capture<timestamp>`: the class, and its TypeORM name. */
  className: string;
  /** Written by an earlier run: kept as it is (and registered, if it is not yet). */
  exists: boolean;
}

const MIGRATION_FILE = /^(\d{13,})-(.*)\.ts$/;

/**
 * The domain's capture migration: the one an earlier run wrote, or a new one
 * timestamped now, and in any case after every migration in `directory`, so
 * that it runs after the generic capture function it calls exists.
 */
export function planCaptureMigration(tree: Tree, directory: Path, name: string, now = Date.now()): CaptureMigration {
  const files = tree.getDir(directory).subfiles;
  const className = (timestamp: number) => `${strings.classify(name)}Capture${timestamp}`;
  const existing = files.find((f) => MIGRATION_FILE.exec(f)?.[2] === `${name}-capture`);
  if (existing) {
    const timestamp = Number(MIGRATION_FILE.exec(existing)![1]);
    return { file: existing.slice(0, -'.ts'.length), timestamp, className: className(timestamp), exists: true };
  }
  const latest = Math.max(0, ...files.map((f) => Number(MIGRATION_FILE.exec(f)?.[1] ?? 0)));
  const timestamp = Math.max(now, latest + 1);
  return { file: `${timestamp}-${name}-capture`, timestamp, className: className(timestamp), exists: false };
}

/**
 * The TG_ARGV of cdc.capture_rows() for a table (apps/bff/src/migrations/1763700500000-generic-capture.ts):
 * domain, aggregate, key column, and for a table that extends the items' the kind of every change.
 */
export function captureArguments(domain: string, table: CapturedTable): string {
  const args = [domain, ITEM_AGGREGATE, table.key, ...(table.extension ? ['updated'] : [])];
  return args.map((a) => `'${a}'`).join(', ');
}
