/** The event trigger that drops a domain when its table's capture is switched on again (migration 1763700800000). */
export const CAPTURE_RESUMED_TRIGGER = 'cachegate_capture_resumed';

/** An SQL boolean: whether CAPTURE_RESUMED_TRIGGER exists and is enabled. */
export const CAPTURE_RESUMED_INSTALLED_SQL = `EXISTS (SELECT 1 FROM pg_event_trigger
  WHERE evtname = '${CAPTURE_RESUMED_TRIGGER}' AND evtenabled IN ('O', 'A'))`;
