import { SchematicsException } from '@angular-devkit/schematics';

/** A table a cache domain reads, whose changes its capture migration turns into CDC events. */
export interface CapturedTable {
  schema: string;
  table: string;
  /** `schema.table`, as the SQL names it. */
  qualified: string;
  /**
   * The uuid column that names the item a row is: the primary key of the first
   * table (the items' own), the item a row belongs to in the others.
   */
  key: string;
  /** The table extends the items' table (not the first): each change is an update of its item. */
  extension: boolean;
}

/** The key column when `:column` is left out. */
export const DEFAULT_KEY = 'id';

/**
 * Lower-case unquoted PostgreSQL identifiers only: they go into SQL unquoted and
 * mean the same quoted or not (reserved words are not caught here; PostgreSQL
 * refuses them when the migration runs).
 */
const IDENTIFIER = '[a-z_][a-z0-9_]{0,62}';
const TABLE = new RegExp(`^(${IDENTIFIER})\\.(${IDENTIFIER})(?::(${IDENTIFIER}))?$`);

/**
 * Reads the `table` option: `schema.table[:column]`, several separated by
 * commas. The first holds the domain's items, keyed by its primary key
 * `column` (default `id`); each further one holds rows that belong to an item,
 * named by its `column` (default `id` too). An empty option is no table.
 */
export function parseCapturedTables(option: string | undefined): CapturedTable[] {
  if (option === undefined || option.trim() === '') return [];
  const tables = option.split(',').map((entry, index): CapturedTable => {
    const match = TABLE.exec(entry.trim());
    if (!match) {
      throw new SchematicsException(
        `"${entry.trim()}" is not a table cache-domain can read: use schema.table in lower-case letters, digits and _ ` +
          `(e.g. public.coupons), schema.table:column when the item id is in another column than ${DEFAULT_KEY}, ` +
          `several separated by commas`,
      );
    }
    const [, schema, table, key = DEFAULT_KEY] = match;
    return { schema, table, qualified: `${schema}.${table}`, key, extension: index > 0 };
  });
  const seen = new Set<string>();
  for (const { qualified } of tables) {
    if (seen.has(qualified)) throw new SchematicsException(`table ${qualified} is named twice`);
    seen.add(qualified);
  }
  return tables;
}
