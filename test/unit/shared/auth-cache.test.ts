import { describe, expect, it } from 'vitest';
import type { Caller } from '#core/caller.ts';
import { AuthCache, type AuthLookups } from '#shared/auth-cache.ts';

const KEY = `po_${'a'.repeat(43)}`;
const OTHER = `po_${'b'.repeat(43)}`;

/** An in-memory key and tenant store that counts its reads, and a clock the test moves. */
function setup(ttlMs = 5_000, maxEntries?: number) {
  const callers = new Map<string, Caller>([
    [KEY, { keyId: 'key_a', tenantId: 'acme', scopes: ['read'] }],
    [OTHER, { keyId: 'key_b', tenantId: 'acme', scopes: ['read'] }],
  ]);
  const tenants = new Set(['acme']);
  const reads = { callers: 0, tenants: 0 };
  const lookups: AuthLookups = {
    findCaller: async (raw) => {
      reads.callers += 1;
      return callers.get(raw);
    },
    tenantExists: async (id) => {
      reads.tenants += 1;
      return tenants.has(id);
    },
  };
  let now = 1_000;
  const clock = { now: () => now };
  const cache = new AuthCache({ ttlMs, lookups, clock, scope: () => 'table', maxEntries });
  return { cache, callers, tenants, reads, advance: (ms: number) => (now += ms) };
}

describe('AuthCache', () => {
  it('reads a key once per TTL, and concurrent misses share one read', async () => {
    const { cache, reads } = setup();
    await Promise.all([cache.caller(KEY), cache.caller(KEY), cache.caller(KEY)]);
    expect(await cache.caller(KEY)).toMatchObject({ keyId: 'key_a' });
    expect(reads.callers).toBe(1);
  });

  it('a key revoked elsewhere fails once the TTL has passed, not before', async () => {
    const { cache, callers, advance } = setup(5_000);
    expect(await cache.caller(KEY)).toBeDefined();
    callers.delete(KEY); // revoked by another process
    advance(4_999);
    expect(await cache.caller(KEY)).toBeDefined();
    advance(2);
    expect(await cache.caller(KEY)).toBeUndefined();
  });

  it('using a key does not extend its life: the bound counts from the read', async () => {
    const { cache, callers, advance } = setup(5_000);
    await cache.caller(KEY);
    callers.delete(KEY);
    for (let step = 0; step < 5; step += 1) {
      advance(1_000);
      await cache.caller(KEY);
    }
    advance(1);
    expect(await cache.caller(KEY)).toBeUndefined();
  });

  it('forgetKey makes a revocation in this process effective at once', async () => {
    const { cache, callers } = setup();
    await cache.caller(KEY);
    await cache.caller(OTHER);
    callers.delete(KEY);
    cache.forgetKey('key_a');
    expect(await cache.caller(KEY)).toBeUndefined();
    expect(await cache.caller(OTHER)).toBeDefined();
  });

  it('never caches unknown keys or missing tenants, so new ones work on their first request', async () => {
    const { cache, callers, tenants, reads } = setup();
    const fresh = `po_${'c'.repeat(43)}`;
    expect(await cache.caller(fresh)).toBeUndefined();
    callers.set(fresh, { keyId: 'key_c', tenantId: null, scopes: ['admin'] });
    expect(await cache.caller(fresh)).toMatchObject({ keyId: 'key_c' });
    expect(await cache.tenantExists('globex')).toBe(false);
    tenants.add('globex');
    expect(await cache.tenantExists('globex')).toBe(true);
    expect(await cache.tenantExists('globex')).toBe(true);
    expect(reads.tenants).toBe(2);
  });

  it('holds at most maxEntries keys (least recently used out first)', async () => {
    const { cache, reads } = setup(60_000, 1);
    await cache.caller(KEY);
    await cache.caller(OTHER);
    await cache.caller(KEY);
    expect(reads.callers).toBe(3);
  });

  it('ttlMs 0 turns the cache off: every request reads', async () => {
    const { cache, reads } = setup(0);
    await cache.caller(KEY);
    await cache.caller(KEY);
    await cache.tenantExists('acme');
    await cache.tenantExists('acme');
    expect(reads).toEqual({ callers: 2, tenants: 2 });
  });
});
