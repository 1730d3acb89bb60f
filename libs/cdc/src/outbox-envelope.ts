/**
 * The docs/contract.md §6.2 envelope of a cdc.outbox row, built in SQL: Postgres writes the JSON
 * text, so neither the relay nor a writer reading its own changes back parses `data` or builds a
 * Date per row. `occurredAt` has JavaScript's toISOString() form (milliseconds, truncated);
 * `keys` appears only when non-empty. `messageVersion` is the statement's parameter `$<n>`.
 */
export function outboxEnvelopeSql(messageVersionParam: number): string {
  const fields = `'id', event_id, 'type', type, 'messageVersion', $${messageVersionParam}::int,
  'schemaVersion', schema_version, 'source', source,
  'occurredAt', to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
  'aggregate', json_build_object('type', aggregate_type, 'id', aggregate_id), 'data', data`;
  return `(CASE WHEN cardinality(keys) = 0 THEN json_build_object(${fields})
               ELSE json_build_object(${fields}, 'keys', keys) END)::text`;
}
