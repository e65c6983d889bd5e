/**
 * A per-process cache of verified API keys and existing tenants, so an authenticated request does
 * not pay two DynamoDB reads before its real work.
 *
 * Bounds (docs/decisions/006-auth-cache.md):
 * - Short-lived: an entry lives `authCacheTtlMs` (default 5 s, `PLUGINOPS_AUTH_CACHE_TTL_MS`;
 *   `0` turns the cache off). A key revoked through another process (another Lambda instance)
 *   fails in this one at most that long after the revocation commits. A revocation handled by
 *   this process forgets the key at once.
 * - Bounded: at most {@link AUTH_CACHE_MAX_ENTRIES} keys and as many tenants (least recently used
 *   out first).
 * - Only positive answers are kept: a new key or tenant works on its first request, and unknown
 *   keys cannot fill the cache.
 * - Keys are cached by their SHA-256 hash (what DynamoDB stores), never by the raw secret.
 * - Concurrent misses for one key share one DynamoDB read.
 */
import { LRUCache } from 'lru-cache';
import { getConfig } from '#config/runtime-config.ts';
import { hashApiKey } from '#core/api-keys.ts';
import type { Caller } from '#core/caller.ts';

export const AUTH_CACHE_MAX_ENTRIES = 1_000;

/** What the cache reads on a miss: the DynamoDB adapters (wired in functions/api/compose.ts), fakes in unit tests. */
export interface AuthLookups {
  findCaller(rawKey: string): Promise<Caller | undefined>;
  tenantExists(tenantId: string): Promise<boolean>;
}

export interface AuthCacheOptions {
  ttlMs: number;
  maxEntries?: number;
  lookups: AuthLookups;
  /** The clock entries expire by (lru-cache's `perf`); tests pass a fake one. */
  clock?: { now(): number };
  /** Names the store the answers come from (default: the main table). */
  scope?: () => string;
}

export class AuthCache {
  private readonly lookups: AuthLookups;
  private readonly scope: () => string;
  private readonly callers: LRUCache<string, Caller, string> | undefined;
  private readonly tenants: LRUCache<string, true, string> | undefined;

  constructor(options: AuthCacheOptions) {
    this.lookups = options.lookups;
    this.scope = options.scope ?? (() => getConfig().mainTable);
    if (options.ttlMs <= 0) return;
    const common = {
      max: options.maxEntries ?? AUTH_CACHE_MAX_ENTRIES,
      ttl: options.ttlMs,
      // An entry's age counts from its DynamoDB read, not from its last use.
      updateAgeOnGet: false,
      // Read the clock on every lookup (the default caches it for 1 ms behind a timer).
      ttlResolution: 0,
      ...(options.clock === undefined ? {} : { perf: options.clock }),
    };
    const lookups = this.lookups;
    this.callers = new LRUCache<string, Caller, string>({
      ...common,
      // `undefined` (unknown or revoked key) is not stored.
      fetchMethod: (_hash, _stale, { context: rawKey }) => lookups.findCaller(rawKey),
    });
    this.tenants = new LRUCache<string, true, string>({
      ...common,
      fetchMethod: async (_key, _stale, { context: tenantId }) =>
        (await lookups.tenantExists(tenantId)) ? true : undefined,
    });
  }

  /** The caller a presented key stands for; `undefined` when unknown or revoked. */
  async caller(rawKey: string): Promise<Caller | undefined> {
    if (this.callers === undefined) return this.lookups.findCaller(rawKey);
    return this.callers.fetch(this.scoped(hashApiKey(rawKey)), { context: rawKey });
  }

  async tenantExists(tenantId: string): Promise<boolean> {
    if (this.tenants === undefined) return this.lookups.tenantExists(tenantId);
    return (await this.tenants.fetch(this.scoped(tenantId), { context: tenantId })) === true;
  }

  /** Entries are per table: two local stacks in one process (tests) never share answers. */
  private scoped(key: string): string {
    return `${this.scope()}\u0000${key}`;
  }

  /** Drops every cached entry of a key id (called when this process revokes it). */
  forgetKey(keyId: string): void {
    if (this.callers === undefined) return;
    for (const [hash, caller] of this.callers.entries()) {
      if (caller.keyId === keyId) this.callers.delete(hash);
    }
  }

  clear(): void {
    this.callers?.clear();
    this.tenants?.clear();
  }
}

/**
 * The process-wide cache over `lookups` (module scope, like the SDK clients), built on first use
 * from the runtime config.
 */
export function processAuthCache(lookups: AuthLookups): () => AuthCache {
  let cache: AuthCache | undefined;
  return () => {
    cache ??= new AuthCache({ ttlMs: getConfig().authCacheTtlMs, lookups });
    return cache;
  };
}
