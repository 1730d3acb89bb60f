export {
  main as cacheDomain,
  cdc as cacheDomainCdc,
  hybrid as cacheDomainHybrid,
  ttl as cacheDomainTtl,
} from './cache-domain/cache-domain.factory';
export { CacheDomainOptions, CacheStrategy, CACHE_STRATEGIES } from './cache-domain/cache-domain.options';
