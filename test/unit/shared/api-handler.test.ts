/**
 * The HTTP edge on its own: a one-line handler in the real middleware chain, with the key and
 * tenant lookups handed in as the app does in `#api/compose.ts` — no table behind them.
 */
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { formatApiKey } from '#core/api-keys.ts';
import type { Caller } from '#core/caller.ts';
import { createApiHandler } from '#shared/api-handler.ts';
import { jsonResponse } from '#shared/http-response.ts';

const TENANT_KEY = formatApiKey(new Uint8Array(32).fill(1));
const OTHER_KEY = formatApiKey(new Uint8Array(32).fill(2));
const CALLERS = new Map<string, Caller>([
  [TENANT_KEY, { keyId: 'key_a', tenantId: 'acme', scopes: ['read'] }],
]);

const apiHandler = createApiHandler({
  callers: {
    findCaller: async (rawKey) => CALLERS.get(rawKey),
    tenantExists: async (tenantId) => tenantId === 'acme',
  },
  idempotencyStore: () => {
    throw new Error('no idempotent route here');
  },
});

const handler = apiHandler({ scope: 'read' }, async ({ caller }) =>
  jsonResponse(200, { key: caller?.keyId }),
);

function request(key: string | undefined, tenant: string) {
  const event = {
    routeKey: 'GET /v1/tenants/{tenant_id}',
    rawPath: `/v1/tenants/${tenant}`,
    headers: key === undefined ? {} : { authorization: `Bearer ${key}` },
    pathParameters: { tenant_id: tenant },
    requestContext: {},
    isBase64Encoded: false,
  } as unknown as APIGatewayProxyEventV2;
  return handler(event, {} as Context);
}

describe('apiHandler built from the app’s lookups', () => {
  it('lets a known key of the tenant through', async () => {
    const response = await request(TENANT_KEY, 'acme');
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body ?? '{}')).toEqual({ key: 'key_a' });
  });

  it('answers 401 for an unknown key and 404 for a tenant that does not exist', async () => {
    expect((await request(OTHER_KEY, 'acme')).statusCode).toBe(401);
    expect((await request(undefined, 'acme')).statusCode).toBe(401);
    expect((await request(TENANT_KEY, 'globex')).statusCode).toBe(404);
    expect((await request(TENANT_KEY, 'Not A Tenant')).statusCode).toBe(404);
  });
});
