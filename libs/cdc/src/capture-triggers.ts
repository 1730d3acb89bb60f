/** The four triggers every captured table has (docs/contract.md §6.1): rows, and TRUNCATE. */
export const CAPTURE_TRIGGERS = ['capture_insert', 'capture_update', 'capture_delete', 'capture_truncate'] as const;

/** The event trigger that drops a domain when its table's capture is switched on again (migration 1763700800000). */
export const CAPTURE_RESUMED_TRIGGER = 'cachegate_capture_resumed';

/** An SQL boolean: whether CAPTURE_RESUMED_TRIGGER exists and is enabled. */
export const CAPTURE_RESUMED_INSTALLED_SQL = `EXISTS (SELECT 1 FROM pg_event_trigger
  WHERE evtname = '${CAPTURE_RESUMED_TRIGGER}' AND evtenabled IN ('O', 'A'))`;
