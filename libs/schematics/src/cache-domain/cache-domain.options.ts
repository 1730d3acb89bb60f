/** How the domain's `item` bucket ends (docs/contract.md §5.2). */
export type CacheStrategy = 'cdc' | 'ttl' | 'hybrid';

export const CACHE_STRATEGIES: readonly CacheStrategy[] = ['cdc', 'ttl', 'hybrid'];

/** The options of schema.json (preset-schema.json: the same without `strategy`, which the preset fixes). */
export interface CacheDomainOptions {
  name: string;
  strategy?: CacheStrategy;
  /** `schema.table[:column]`, comma-separated: the tables the domain reads (captured-tables.ts). */
  table?: string;
  sourceRoot?: string;
  project?: string;
  path?: string;
  spec?: boolean;
  specFileSuffix?: string;
  flat?: boolean;
  skipImport?: boolean;
  language?: string;
}
