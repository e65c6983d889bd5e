/**
 * The catalog service end to end through the local gateway, on DynamoDB Local and the S3 server:
 * auth and tenant isolation, every publish path that needs no external service, idempotency,
 * policy at publish, the drop folder, pagination cursors and the OpenAPI document.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Validator } from '@seriousme/openapi-schema-validator';
import { beforeAll, describe, expect, it } from 'vitest';
import { byteSourceFromBuffer } from '#core/package/byte-source.ts';
import { inspectPackage } from '#core/package/inspect.ts';
import { generateSigningKeyPair, signPackage } from '#core/package/sign.ts';
import { createApiClient, encodeId, eventually } from '#test/support/api-client.ts';
import { buildBundle } from '#test/support/bundle-builder.ts';
import { stackInfo } from '#test/support/local-stack.ts';
import { buildPackage, defaultRawEntries, writeRawZip } from '#test/support/package-builder.ts';

const stack = stackInfo();
const call = createApiClient(stack.baseUrl);
const operator = stack.bootstrapKey;
const run = randomBytes(3).toString('hex');
const acme = `acme-${run}`;
const globex = `globex-${run}`;
const keys = { admin: '', read: '', writer: '', globexAdmin: '' };

function pkg(name: string, version: string, extra: Record<string, string> = {}) {
  return buildPackage({
    manifest: { author: `author${run}`, name, version, meta: { version } } as never,
    files: extra,
  });
}

async function issue(tenant: string, scopes: string[]): Promise<string> {
  const response = await call('POST', `/v1/tenants/${tenant}/keys`, { key: operator, json: { scopes } });
  expect(response.status).toBe(201);
  return response.body.key as string;
}

function publishRaw(bytes: Buffer, key = keys.writer, headers: Record<string, string> = {}) {
  return call('POST', '/v1/packages:raw', {
    key,
    body: bytes,
    headers: { 'content-type': 'application/octet-stream', ...headers },
  });
}

beforeAll(async () => {
  for (const tenant of [acme, globex]) {
    const created = await call('POST', '/v1/tenants', { key: operator, json: { tenant_id: tenant } });
    expect(created.status).toBe(201);
  }
  keys.admin = await issue(acme, ['admin']);
  keys.read = await issue(acme, ['read']);
  keys.writer = await issue(acme, ['read', 'packages:write']);
  // Tenant keys publish only under authors granted to their tenant (docs/security.md).
  expect((await call('PUT', `/v1/authors/author${run}/tenants/${acme}`, { key: operator })).status).toBe(200);
  keys.globexAdmin = await issue(globex, ['admin']);
});

describe('auth and isolation', () => {
  it('rejects a missing key with 401 problem+json', async () => {
    const response = await call('GET', `/v1/tenants/${acme}`);
    expect(response.status).toBe(401);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    expect(response.body.type).toBe('urn:pluginops:problem:unauthorized');
  });

  it('rejects an unknown and a malformed key with 401', async () => {
    const unknown = `po_${randomBytes(32).toString('base64url')}`;
    expect((await call('GET', `/v1/tenants/${acme}`, { key: unknown })).status).toBe(401);
    expect((await call('GET', `/v1/tenants/${acme}`, { key: 'not-a-key' })).status).toBe(401);
  });

  it('answers 403 when the key lacks the scope', async () => {
    const response = await publishRaw(await pkg('scoped', '0.0.1'), keys.read);
    expect(response.status).toBe(403);
    expect(response.body.type).toBe('urn:pluginops:problem:forbidden');
  });

  it("hides other tenants' existence (404, same as a missing tenant)", async () => {
    const other = await call('GET', `/v1/tenants/${globex}`, { key: keys.admin });
    const missing = await call('GET', `/v1/tenants/nope-${run}`, { key: keys.admin });
    expect(other.status).toBe(404);
    expect(missing.status).toBe(404);
    expect(other.body.type).toBe('urn:pluginops:problem:not-found');
    expect((await call('GET', `/v1/tenants/${globex}/policy`, { key: keys.admin })).status).toBe(404);
  });

  it('keeps operator-only routes for operators', async () => {
    const response = await call('POST', '/v1/tenants', { key: keys.admin, json: { tenant_id: `x-${run}` } });
    expect(response.status).toBe(403);
  });

  it('revokes a key immediately', async () => {
    const issued = await call('POST', `/v1/tenants/${acme}/keys`, {
      key: keys.admin,
      json: { scopes: ['read'] },
    });
    expect((await call('GET', `/v1/tenants/${acme}`, { key: issued.body.key })).status).toBe(200);
    const revoked = await call('DELETE', `/v1/tenants/${acme}/keys/${issued.body.key_id}`, {
      key: keys.admin,
    });
    expect(revoked.status).toBe(204);
    expect((await call('GET', `/v1/tenants/${acme}`, { key: issued.body.key })).status).toBe(401);
  });

  it('validates bodies with field paths', async () => {
    const response = await call('POST', '/v1/tenants', { key: operator, json: { tenant_id: 'Bad Id!' } });
    expect(response.status).toBe(400);
    expect(response.body.type).toBe('urn:pluginops:problem:validation-failed');
    expect(response.body.errors[0].path).toBe('body.tenant_id');
    const malformed = await call('POST', '/v1/tenants', {
      key: operator,
      body: '{"tenant_id":',
      headers: { 'content-type': 'application/json' },
    });
    expect(malformed.status).toBe(400);
  });
});

describe('publishing', () => {
  it('publishes raw bytes with the identifier the core computes, and is idempotent by bytes', async () => {
    const bytes = await pkg('raw', '0.0.1');
    const expected = await inspectPackage(byteSourceFromBuffer(bytes), { keyring: [] });
    const first = await publishRaw(bytes);
    expect(first.status).toBe(201);
    expect(first.body.unique_identifier).toBe(expected.uniqueIdentifier);
    expect(first.body.sha256).toBe(expected.sha256);
    expect(first.body.signature.status).toBe('unsigned');
    expect(first.body).not.toHaveProperty('storage_key');
    const again = await publishRaw(bytes);
    expect(again.status).toBe(200);
    expect(again.body.unique_identifier).toBe(expected.uniqueIdentifier);
    const fetched = await call('GET', `/v1/packages/${encodeId(expected.uniqueIdentifier)}`, {
      key: keys.read,
    });
    expect(fetched.status).toBe(200);
    expect(fetched.body.version).toBe('0.0.1');
    const versions = await call('GET', `/v1/plugins/author${run}/raw/versions`, { key: keys.read });
    expect(versions.body.items).toHaveLength(1);
    // One "Package Published" event on the local bus, none for the republish, no key material.
    const events = (await readFile(join(stack.dataDir, 'events.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { 'detail-type': string; detail: Record<string, unknown> })
      .filter((event) => event.detail.unique_identifier === expected.uniqueIdentifier);
    expect(events.map((event) => event['detail-type'])).toEqual(['Package Published']);
    expect(JSON.stringify(events)).not.toContain(keys.writer);
  });

  it('refuses bad packages with their specific problem and stores nothing', async () => {
    const notZip = await publishRaw(Buffer.from('definitely not a zip file'));
    expect(notZip.status).toBe(422);
    expect(notZip.body.type).toBe('urn:pluginops:problem:invalid-package');
    const slip = writeRawZip([...defaultRawEntries(), { name: '../evil.py', content: 'x' }]);
    const unsafe = await publishRaw(slip);
    expect(unsafe.body.type).toBe('urn:pluginops:problem:unsafe-archive');
    const badManifest = await publishRaw(await pkg('bad', 'not-a-version'));
    expect(badManifest.body.type).toBe('urn:pluginops:problem:invalid-manifest');
    expect(badManifest.body.errors.map((e: { path: string }) => e.path)).toContain('version');
    const list = await call('GET', `/v1/plugins?author=author${run}&q=bad`, { key: keys.read });
    expect(list.body.items).toEqual([]);
  });

  it('publishes through a presigned upload', async () => {
    const bytes = await pkg('uploaded', '1.2.3');
    const upload = await call('POST', '/v1/uploads', {
      key: keys.writer,
      json: { filename: 'uploaded.difypkg', size: bytes.length },
    });
    expect(upload.status).toBe(201);
    expect(upload.body.method).toBe('PUT');
    const put = await fetch(upload.body.url, {
      method: 'PUT',
      headers: upload.body.headers,
      body: bytes,
      signal: AbortSignal.timeout(10_000),
    });
    expect(put.status).toBe(200);
    const globexTry = await call('POST', '/v1/packages', {
      key: keys.globexAdmin,
      json: { source: 'package', upload_id: upload.body.upload_id },
    });
    expect(globexTry.status).toBe(404);
    const published = await call('POST', '/v1/packages', {
      key: keys.writer,
      json: { source: 'package', upload_id: upload.body.upload_id },
    });
    expect(published.status).toBe(201);
    expect(published.body.plugin_id).toBe(`author${run}/uploaded`);
    expect(published.body.source).toMatchObject({ type: 'package', upload_id: upload.body.upload_id });
  });

  it('refuses oversize uploads with 413 before presigning', async () => {
    const response = await call('POST', '/v1/uploads', {
      key: keys.writer,
      json: { filename: 'huge.difypkg', size: 50 * 1024 * 1024 + 1 },
    });
    expect(response.status).toBe(413);
    expect(response.body.type).toBe('urn:pluginops:problem:package-too-large');
  });

  it('lists versions newest semver first and searches the catalog', async () => {
    for (const version of ['0.9.0', '0.10.0', '0.10.0-beta', '0.2.1']) {
      expect((await publishRaw(await pkg('multi', version))).status).toBe(201);
    }
    const versions = await call('GET', `/v1/plugins/author${run}/multi/versions`, { key: keys.read });
    expect(versions.body.items.map((p: { version: string }) => p.version)).toEqual([
      '0.10.0',
      '0.10.0-beta',
      '0.9.0',
      '0.2.1',
    ]);
    const search = await call('GET', `/v1/plugins?q=multi&author=author${run}`, { key: keys.read });
    expect(search.body.items).toEqual([
      { plugin_id: `author${run}/multi`, latest_version: '0.10.0', versions_count: 4 },
    ]);
  });

  it('fills a search page with matches however many plugins come before them', async () => {
    // Plugins sort by id; the matches come after plugins that do not match (the "a…" names), so
    // a page limited before the filter would come back empty with a cursor.
    for (const name of ['a1', 'a2', 'a3', 'a4', 'a5', 'zfind1', 'zfind2', 'zfind3']) {
      expect((await publishRaw(await pkg(name, '1.0.0'))).status).toBe(201);
    }
    const query = `author=author${run}&q=zfind&limit=2`;
    const first = await call('GET', `/v1/plugins?${query}`, { key: keys.read });
    expect(first.status).toBe(200);
    expect(first.body.items.map((p: { plugin_id: string }) => p.plugin_id)).toEqual([
      `author${run}/zfind1`,
      `author${run}/zfind2`,
    ]);
    expect(first.body.next_cursor).toBeTruthy();
    const second = await call('GET', `/v1/plugins?${query}&cursor=${first.body.next_cursor}`, {
      key: keys.read,
    });
    expect(second.body.items.map((p: { plugin_id: string }) => p.plugin_id)).toEqual([`author${run}/zfind3`]);
    expect(second.body.next_cursor).toBeNull();
  });

  it('pages with cursors that cannot be replayed on another list or edited', async () => {
    const first = await call('GET', `/v1/plugins/author${run}/multi/versions?limit=2`, { key: keys.read });
    expect(first.body.items).toHaveLength(2);
    const cursor = first.body.next_cursor as string;
    expect(cursor).toBeTruthy();
    const second = await call('GET', `/v1/plugins/author${run}/multi/versions?limit=2&cursor=${cursor}`, {
      key: keys.read,
    });
    expect(second.body.items.map((p: { version: string }) => p.version)).toEqual(['0.9.0', '0.2.1']);
    const replayed = await call('GET', `/v1/plugins/author${run}/raw/versions?cursor=${cursor}`, {
      key: keys.read,
    });
    expect(replayed.status).toBe(400);
    // One character of the MAC changed (one in the middle: each carries six bits, where the last
    // one's low bits are padding that decoding ignores, so editing the end can leave it intact).
    const at = cursor.indexOf('.') + 10;
    const tampered = `${cursor.slice(0, at)}${cursor[at] === 'A' ? 'B' : 'A'}${cursor.slice(at + 1)}`;
    const edited = await call('GET', `/v1/plugins/author${run}/multi/versions?cursor=${tampered}`, {
      key: keys.read,
    });
    expect(edited.status).toBe(400);
  });
});

describe('idempotency keys', () => {
  it('replays the first response for the same key and body, and refuses another body', async () => {
    const idem = `idem-${run}`;
    const body = { tenant_id: `idem-${run}` };
    const first = await call('POST', '/v1/tenants', {
      key: operator,
      json: body,
      headers: { 'idempotency-key': idem },
    });
    const replay = await call('POST', '/v1/tenants', {
      key: operator,
      json: body,
      headers: { 'idempotency-key': idem },
    });
    expect(first.status).toBe(201);
    expect(replay.status).toBe(201);
    expect(replay.body).toEqual(first.body);
    const reused = await call('POST', '/v1/tenants', {
      key: operator,
      json: { tenant_id: `other-${run}` },
      headers: { 'idempotency-key': idem },
    });
    expect(reused.status).toBe(422);
    expect(reused.body.type).toBe('urn:pluginops:problem:idempotency-key-reused');
    const without = await call('POST', '/v1/tenants', { key: operator, json: body });
    expect(without.status).toBe(409);
  });
});

describe('policy and signers', () => {
  it('enforces require_signature and allowed_sources at publish, effective on the next request', async () => {
    const { privateKeyPem, publicKeyPem } = await generateSigningKeyPair(2048);
    const signerId = `ci-${run}`;
    const signer = await call('POST', '/v1/signers', {
      key: operator,
      json: { key_id: signerId, public_key_pem: publicKeyPem },
    });
    expect(signer.status).toBe(201);
    const policy = await call('PUT', `/v1/tenants/${acme}/policy`, {
      key: keys.admin,
      json: { require_signature: true, trusted_signers: [signerId] },
    });
    expect(policy.status).toBe(200);
    expect(policy.body.require_signature).toBe(true);
    expect(policy.body.inherited).toContain('allowed_sources');

    const unsigned = await pkg('signed', '1.0.0');
    const refused = await publishRaw(unsigned);
    expect(refused.status).toBe(422);
    expect(refused.body.type).toBe('urn:pluginops:problem:signature-required');

    const signed = await signPackage(byteSourceFromBuffer(unsigned), {
      privateKeyPem,
      authorizedCategory: 'partner',
      now: new Date('2026-01-01T00:00:00Z'),
    });
    const accepted = await publishRaw(signed);
    expect(accepted.status).toBe(201);
    expect(accepted.body.signature).toMatchObject({
      status: 'verified',
      key_id: signerId,
      authorized_category: 'partner',
    });

    const sources = await call('PUT', `/v1/tenants/${acme}/policy`, {
      key: keys.admin,
      json: { allowed_sources: ['github'] },
    });
    expect(sources.body.require_signature).toBe(false);
    const blocked = await publishRaw(await pkg('blocked', '1.0.0'));
    expect(blocked.status).toBe(403);
    expect(blocked.body.type).toBe('urn:pluginops:problem:source-not-allowed');
    await call('PUT', `/v1/tenants/${acme}/policy`, { key: keys.admin, json: {} });
    expect((await publishRaw(await pkg('blocked', '1.0.0'))).status).toBe(201);
  });

  it('refuses a signer that is not an RSA public key', async () => {
    const response = await call('POST', '/v1/signers', {
      key: operator,
      json: {
        key_id: `bad-${run}`,
        public_key_pem: `-----BEGIN PUBLIC KEY-----\n${'A'.repeat(80)}\n-----END PUBLIC KEY-----`,
      },
    });
    expect(response.status).toBe(400);
  });
});

describe('drop folder', () => {
  const s3 = new S3Client({
    region: 'us-east-1',
    endpoint: stack.s3Endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });

  async function report(key: string): Promise<Record<string, any> | undefined> {
    try {
      const object = await s3.send(
        new GetObjectCommand({ Bucket: stack.bucket, Key: `drop-results/${key}.json` }),
      );
      return JSON.parse(await object.Body!.transformToString()) as Record<string, any>;
    } catch {
      return undefined;
    }
  }

  it('publishes a dropped package once, even when dropped twice, and reports bad files', async () => {
    const bytes = await pkg('dropped', '2.0.0');
    const key = `drop/catalog/${run}/dropped.difypkg`;
    await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: key, Body: bytes }));
    const first = await eventually(() => report(key));
    expect(first.status).toBe('published');
    const again = `drop/catalog/${run}/dropped-again.difypkg`;
    await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: again, Body: bytes }));
    const second = await eventually(() => report(again));
    expect(second.status).toBe('already_published');
    expect(second.unique_identifier).toBe(first.unique_identifier);
    const versions = await call('GET', `/v1/plugins/author${run}/dropped/versions`, { key: keys.read });
    expect(versions.body.items).toHaveLength(1);

    const bad = `drop/catalog/${run}/broken.difypkg`;
    await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: bad, Body: Buffer.from('garbage') }));
    const failed = await eventually(() => report(bad));
    expect(failed.status).toBe('failed');
    expect(failed.problem.type).toBe('urn:pluginops:problem:invalid-package');
  });

  it('publishes every package of a dropped bundle', async () => {
    const bundle = await buildBundle({
      manifest: { author: `author${run}`, name: 'kit' },
      packages: { one: await pkg('kitone', '1.0.0'), two: await pkg('kittwo', '1.0.0') },
    });
    const key = `drop/catalog/${run}/kit.difybndl`;
    await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: key, Body: bundle }));
    const done = await eventually(() => report(key));
    expect(done.status).toBe('published');
    expect(done.unique_identifiers.map((uid: string) => uid.split(':')[0]).sort()).toEqual([
      `author${run}/kitone`,
      `author${run}/kittwo`,
    ]);
  });
});

describe('OpenAPI', () => {
  it('serves a valid OpenAPI 3.1 document covering every route', async () => {
    const response = await call('GET', '/v1/openapi.json');
    expect(response.status).toBe(200);
    const validator = new Validator();
    const result = await validator.validate(response.body);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(response.body.openapi).toBe('3.1.0');
    expect(Object.keys(response.body.paths)).toContain('/v1/packages:raw');
  });
});
