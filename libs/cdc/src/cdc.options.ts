/** Injection token and shape of the CDC module's options. */
export const CDC_OPTIONS = Symbol('CDC_OPTIONS');

export interface CdcModuleOptions {
  /** Stream patterns this deployment uses, e.g. cdc.catalog.v1 (for health and lag checks). */
  streams: string[];
  prefix: string;
  /** Whether this process's relay currently holds leadership. */
  relayActive: () => boolean;
}
