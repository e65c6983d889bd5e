/**
 * Where the API is assembled: the HTTP edge (`#shared/api-handler.ts`) bound to the stores that
 * authentication and idempotency read. Every route module builds its handler with this
 * `apiHandler`; tests of the edge build their own with {@link createApiHandler}.
 */
import { findCaller } from '#adapters/dynamo/api-keys.ts';
import { idempotencyStore } from '#adapters/dynamo/idempotency-store.ts';
import { findTenant } from '#adapters/dynamo/tenants.ts';
import { createApiHandler } from '#shared/api-handler.ts';
import { processAuthCache } from '#shared/auth-cache.ts';

/** Verified keys and existing tenants, cached briefly per process (docs/decisions/006-auth-cache.md). */
export const authCache = processAuthCache({
  findCaller,
  tenantExists: async (tenantId) => (await findTenant(tenantId)) !== undefined,
});

export const apiHandler = createApiHandler({
  callers: {
    findCaller: (rawKey) => authCache().caller(rawKey),
    tenantExists: (tenantId) => authCache().tenantExists(tenantId),
  },
  idempotencyStore,
});
