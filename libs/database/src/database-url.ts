/** The parts of a postgres:// URL that boot messages and database management need. */
export interface DatabaseTarget {
  host: string;
  port: number;
  database: string;
  /** The same server's maintenance database, used to create or drop databases. */
  maintenanceUrl: string;
}

export function parseDatabaseUrl(url: string): DatabaseTarget {
  const parsed = new URL(url);
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, '')) || 'postgres';
  const maintenance = new URL(url);
  maintenance.pathname = '/postgres';
  return {
    host: parsed.hostname || '127.0.0.1',
    port: Number(parsed.port || 5432),
    database,
    maintenanceUrl: maintenance.toString(),
  };
}

export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(database)}`;
  return parsed.toString();
}

/** Quotes an identifier for DDL that cannot take parameters (CREATE/DROP DATABASE). */
export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
