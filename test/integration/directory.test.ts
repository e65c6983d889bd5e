/**
 * Operator directory routes added for the console: `GET /v1/me`, `GET /v1/tenants`,
 * `GET /v1/tenants/{t}/keys` (no secrets) and `DELETE /v1/signers/{key_id}`, through the gateway.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { createApiClient, encodeId } from '#test/support/api-client.ts';
import { stackInfo } from '#test/support/local-stack.ts';
import { buildPackage } from '#test/support/package-builder.ts';

const stack = stackInfo();
const call = createApiClient(stack.baseUrl);
const operator = stack.bootstrapKey;
const run = randomBytes(3).toString('hex');
const tenants = [`dir-a-${run}`, `dir-b-${run}`, `dir-c-${run}`];
let tenantAdmin = '';
let tenantReader = '';
let readerKeyId = '';

beforeAll(async () => {
  for (const tenant_id of tenants) {
    expect((await call('POST', '/v1/tenants', { key: operator, json: { tenant_id } })).status).toBe(201);
  }
  const admin = await call('POST', `/v1/tenants/${tenants[0]}/keys`, {
    key: operator,
    json: { scopes: ['admin'], description: 'console admin' },
  });
  tenantAdmin = admin.body.key;
  const reader = await call('POST', `/v1/tenants/${tenants[0]}/keys`, {
    key: operator,
    json: { scopes: ['read'] },
  });
  tenantReader = reader.body.key;
  readerKeyId = reader.body.key_id;
});

describe('GET /v1/me', () => {
  it('tells an operator key from a tenant key, with scopes', async () => {
    const op = await call('GET', '/v1/me', { key: operator });
    expect(op.status).toBe(200);
    expect(op.body).toMatchObject({ tenant_id: null, scopes: expect.arrayContaining(['admin']) });
    const reader = await call('GET', '/v1/me', { key: tenantReader });
    expect(reader.body).toEqual({ key_id: readerKeyId, tenant_id: tenants[0], scopes: ['read'] });
  });

  it('answers 401 without a key', async () => {
    expect((await call('GET', '/v1/me')).status).toBe(401);
  });
});

describe('GET /v1/tenants', () => {
  it('pages through every tenant with cursors', async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let pages = 0; pages < 100; pages++) {
      const query = `?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const page = await call('GET', `/v1/tenants${query}`, { key: operator });
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.items.map((tenant: { tenant_id: string }) => tenant.tenant_id));
      cursor = page.body.next_cursor ?? undefined;
      if (cursor === undefined) break;
    }
    expect(seen).toEqual(expect.arrayContaining(tenants));
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('is for operators only', async () => {
    const response = await call('GET', '/v1/tenants', { key: tenantAdmin });
    expect(response.status).toBe(403);
    expect(response.body.type).toBe('urn:pluginops:problem:forbidden');
  });

  it('rejects a bad limit as a problem', async () => {
    expect((await call('GET', '/v1/tenants?limit=0', { key: operator })).status).toBe(400);
  });
});

describe('GET /v1/tenants/{tenant_id}/keys', () => {
  it('lists keys with scopes and revocation but never a secret or hash', async () => {
    const revoke = await call('DELETE', `/v1/tenants/${tenants[0]}/keys/${readerKeyId}`, {
      key: tenantAdmin,
    });
    expect(revoke.status).toBe(204);
    const listed = await call('GET', `/v1/tenants/${tenants[0]}/keys`, { key: tenantAdmin });
    expect(listed.status).toBe(200);
    expect(listed.body.items).toHaveLength(2);
    const reader = listed.body.items.find((key: { key_id: string }) => key.key_id === readerKeyId);
    expect(reader).toMatchObject({ scopes: ['read'], tenant_id: tenants[0], revoked_at: expect.any(String) });
    const admin = listed.body.items.find((key: { key_id: string }) => key.key_id !== readerKeyId);
    expect(admin).toMatchObject({ description: 'console admin', revoked_at: null });
    expect(listed.text).not.toContain(tenantAdmin);
    expect(listed.text).not.toMatch(/key_hash|"key"/);
  });

  it('needs admin and hides other tenants', async () => {
    const other = await call('GET', `/v1/tenants/${tenants[1]}/keys`, { key: tenantAdmin });
    expect(other.status).toBe(404);
  });
});

describe('DELETE /v1/signers/{key_id}', () => {
  it('removes a trusted signer; a second delete is 404', async () => {
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const key_id = `dir-${run}`;
    const created = await call('POST', '/v1/signers', {
      key: operator,
      json: { key_id, public_key_pem: publicKey.export({ type: 'spki', format: 'pem' }).toString() },
    });
    expect(created.status).toBe(201);
    expect((await call('DELETE', `/v1/signers/${key_id}`, { key: tenantAdmin })).status).toBe(403);
    expect((await call('DELETE', `/v1/signers/${key_id}`, { key: operator })).status).toBe(204);
    const listed = await call('GET', '/v1/signers?limit=100', { key: operator });
    expect(listed.body.items.map((signer: { key_id: string }) => signer.key_id)).not.toContain(key_id);
    const again = await call('DELETE', `/v1/signers/${key_id}`, { key: operator });
    expect(again.status).toBe(404);
    expect(again.headers.get('content-type')).toContain('application/problem+json');
  });
});

describe('GET /v1/packages/{unique_identifier}/readme', () => {
  it('returns the README from the stored bytes verbatim, as untrusted markdown', async () => {
    const readme = '# Hostile\n\n<script>window.pwned = 1</script>\n![x](https://evil.example/x.png)\n';
    const bytes = await buildPackage({
      manifest: {
        author: `dir${run}`,
        name: 'readme',
        version: '0.0.1',
        meta: { version: '0.0.1' },
      } as never,
      files: { 'README.md': readme },
    });
    const published = await call('POST', '/v1/packages:raw', {
      key: operator,
      body: bytes,
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(published.status).toBe(201);
    const uid = published.body.unique_identifier as string;
    const response = await call('GET', `/v1/packages/${encodeId(uid)}/readme`, { key: tenantAdmin });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ unique_identifier: uid, markdown: readme, truncated: false });
  });

  it('is a 404 problem for an unknown package', async () => {
    const uid = `dir${run}/none:0.0.1@${'a'.repeat(64)}`;
    const response = await call('GET', `/v1/packages/${encodeId(uid)}/readme`, { key: operator });
    expect(response.status).toBe(404);
    expect(response.body.type).toBe('urn:pluginops:problem:not-found');
  });
});
