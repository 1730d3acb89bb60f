/** Injection tokens of the cache module. */
export const CACHE_REDIS = Symbol('CACHE_REDIS');
export const CACHE_SUBSCRIBER = Symbol('CACHE_SUBSCRIBER');
export const CACHE_INSTANCE_ID = Symbol('CACHE_INSTANCE_ID');
