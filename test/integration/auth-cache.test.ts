/**
 * The per-process auth cache against the shared local stack: a key revoked through the API fails
 * on the very next request; a key revoked by another process (written straight to DynamoDB, as
 * another Lambda instance would) fails within the documented bound (PLUGINOPS_AUTH_CACHE_TTL_MS,
 * default 5 s — docs/decisions/006-auth-cache.md).
 */
import { randomBytes } from 'node:crypto';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { keys } from '#adapters/dynamo/keys.ts';
import { hashApiKey } from '#core/api-keys.ts';
import { api, dynamoClient, stackInfo } from '#test/support/local-stack.ts';

const REVOCATION_BOUND_MS = 5_000;
const tenant = `auth-${randomBytes(3).toString('hex')}`;

async function newKey(): Promise<{ key: string; keyId: string }> {
  const response = await api('POST', `/v1/tenants/${tenant}/keys`, {
    key: 'bootstrap',
    body: { scopes: ['read', 'admin'] },
  });
  expect(response.status, response.text).toBe(201);
  return { key: response.json.key as string, keyId: response.json.key_id as string };
}

describe('auth cache', () => {
  it('a new tenant and a new key work on their first request; revoking through the API is immediate', async () => {
    const created = await api('POST', '/v1/tenants', { key: 'bootstrap', body: { tenant_id: tenant } });
    expect(created.status, created.text).toBe(201);
    const { key, keyId } = await newKey();
    expect((await api('GET', `/v1/tenants/${tenant}/installations`, { key })).status).toBe(200);
    expect((await api('GET', `/v1/tenants/${tenant}/installations`, { key })).status).toBe(200);

    const revoked = await api('DELETE', `/v1/tenants/${tenant}/keys/${keyId}`, { key: 'bootstrap' });
    expect(revoked.status, revoked.text).toBe(204);
    const after = await api('GET', `/v1/tenants/${tenant}/installations`, { key });
    expect(after.status).toBe(401);
  });

  it('a key revoked by another process fails within the stated bound', async () => {
    const { key } = await newKey();
    expect((await api('GET', `/v1/tenants/${tenant}/installations`, { key })).status).toBe(200);
    // Another instance revokes: the hash record is marked directly in DynamoDB.
    await DynamoDBDocumentClient.from(dynamoClient()).send(
      new UpdateCommand({
        TableName: stackInfo().mainTable,
        Key: keys.keyByHash(hashApiKey(key)),
        UpdateExpression: 'SET revoked_at = :now',
        ExpressionAttributeValues: { ':now': new Date().toISOString() },
      }),
    );
    const revokedAt = Date.now();
    let status = 200;
    while (status === 200 && Date.now() - revokedAt < REVOCATION_BOUND_MS + 2_000) {
      status = (await api('GET', `/v1/tenants/${tenant}/installations`, { key })).status;
      if (status === 200) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const elapsed = Date.now() - revokedAt;
    expect(status).toBe(401);
    // The bound, plus one request's latency on a busy machine.
    expect(elapsed).toBeLessThanOrEqual(REVOCATION_BOUND_MS + 1_000);
  }, 30_000);
});
