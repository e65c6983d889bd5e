/**
 * Bad-input corpus (issue 10, Security): hostile or malformed requests against the shared local
 * stack. Every case must get its documented 4xx status and problem `type`, as
 * `application/problem+json`, and must leave everything the run stored unchanged (DynamoDB items
 * of the run's tenants and authors, the run's events; for packages, no blob record and no S3 object).
 */
import { randomBytes } from 'node:crypto';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { beforeAll, describe, expect, it } from 'vitest';
import { byteSourceFromBuffer } from '#core/package/byte-source.ts';
import { generateSigningKeyPair, signPackage } from '#core/package/sign.ts';
import { type ApiResponse, createApiClient, eventually } from '#test/support/api-client.ts';
import { LOCAL_CREDENTIALS, stackInfo } from '#test/support/local-stack.ts';
import {
  buildPackage,
  defaultRawEntries,
  type RawZipEntry,
  writeRawZip,
} from '#test/support/package-builder.ts';
import {
  documentClient,
  expectBytesNotStored,
  fingerprint,
  PROBLEM,
  type RawResponse,
  sendRaw,
} from './support.ts';

const stack = stackInfo();
const call = createApiClient(stack.baseUrl);
const db = documentClient(stack);
const s3 = new S3Client({
  endpoint: stack.s3Endpoint,
  region: 'us-east-1',
  forcePathStyle: true,
  credentials: LOCAL_CREDENTIALS,
});
const run = `sec${randomBytes(3).toString('hex')}`;
const author = `a${run}`;
const FINAL = new Set(['succeeded', 'failed', 'rolled_back', 'rejected']);

/** Filled in `beforeAll`; cases name them with `{placeholders}` in paths, bodies and keys. */
const ctx: Record<string, string> = {
  acme: `acme-${run}`,
  globex: `globex-${run}`,
  strict: `strict-${run}`,
};

type Role =
  | 'none'
  | 'operator'
  | 'acmeAdmin'
  | 'acmeReader'
  | 'acmeWriter'
  | 'globexAdmin'
  | 'strictWriter'
  | 'revoked';

interface Case {
  name: string;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
  /** `{name}` is replaced by `ctx[name]`. */
  path: string;
  key?: Role;
  headers?: Record<string, string>;
  json?: unknown;
  body?: string | (() => Promise<Buffer> | Buffer);
  status: number;
  type: string;
  /** Runs before the "before" fingerprint (e.g. the first use of an idempotency key). */
  setup?: () => Promise<void>;
  /** Extra assertions after the response. */
  check?: (response: RawResponse) => Promise<void> | void;
}

function fill(template: string): string {
  return template.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = ctx[name];
    if (value === undefined) throw new Error(`no ctx.${name}`);
    return value;
  });
}

function fillJson(value: unknown): unknown {
  if (typeof value === 'string') return fill(value);
  if (Array.isArray(value)) return value.map(fillJson);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fillJson(v)]));
  }
  return value;
}

const manifest = (name: string, version = '1.0.0') => ({ author, name, version, meta: { version } });
const rawEntries = (name: string) => defaultRawEntries({ manifest: manifest(name) });
const zipWith = (name: string, extra: RawZipEntry[]) => () => writeRawZip([...rawEntries(name), ...extra]);
const OCTET = { 'content-type': 'application/octet-stream' };

function raw(name: string, body: Case['body'], status: number, type: string, key: Role = 'acmeWriter'): Case {
  return { name, method: 'POST', path: '/v1/packages:raw', key, headers: OCTET, body, status, type };
}

// ── the corpus ──────────────────────────────────────────────────────────────────────────────────

const BODIES: Case[] = [
  {
    name: 'malformed JSON',
    method: 'POST',
    path: '/v1/tenants',
    key: 'operator',
    headers: { 'content-type': 'application/json' },
    body: '{"tenant_id":',
    status: 400,
    type: 'validation-failed',
  },
  {
    name: 'JSON body over 256 KiB',
    method: 'POST',
    path: '/v1/tenants',
    key: 'operator',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ tenant_id: `big-${run}`, display_name: 'x'.repeat(300 * 1024) }),
    status: 400,
    type: 'validation-failed',
  },
  {
    name: 'body over the 10 MiB gateway cap',
    method: 'POST',
    path: '/v1/tenants',
    key: 'operator',
    headers: { 'content-type': 'application/json' },
    body: () => Buffer.alloc(10 * 1024 * 1024 + 1, 0x20),
    status: 413,
    type: 'package-too-large',
  },
  {
    name: 'tenant_id of the wrong type',
    method: 'POST',
    path: '/v1/tenants',
    key: 'operator',
    json: { tenant_id: 12345 },
    status: 400,
    type: 'validation-failed',
  },
  {
    name: 'tenant_id null',
    method: 'POST',
    path: '/v1/tenants',
    key: 'operator',
    json: { tenant_id: null },
    status: 400,
    type: 'validation-failed',
  },
  {
    name: 'body is an array',
    method: 'POST',
    path: '/v1/tenants',
    key: 'operator',
    json: [{ tenant_id: `arr-${run}` }],
    status: 400,
    type: 'validation-failed',
  },
  {
    name: 'body is a bare JSON string',
    method: 'POST',
    path: '/v1/tenants',
    key: 'operator',
    json: `str-${run}`,
    status: 400,
    type: 'validation-failed',
  },
  {
    name: 'extra field (privilege escalation attempt)',
    method: 'POST',
    path: '/v1/tenants',
    key: 'operator',
    json: { tenant_id: `extra-${run}`, admin: true },
    status: 400,
    type: 'validation-failed',
  },
  {
    name: '__proto__ member',
    method: 'POST',
    path: '/v1/tenants',
    key: 'operator',
    headers: { 'content-type': 'application/json' },
    body: `{"tenant_id":"proto-${run}","__proto__":{"admin":true}}`,
    status: 400,
    type: 'validation-failed',
  },
  {
    name: 'SQL-injection-looking tenant id',
    method: 'POST',
    path: '/v1/tenants',
    key: 'operator',
    json: { tenant_id: `acme-${run}'; DROP TABLE tenants;--` },
    status: 400,
    type: 'validation-failed',
  },
  {
    name: 'path traversal in tenant id',
    method: 'POST',
    path: '/v1/tenants',
    key: 'operator',
    json: { tenant_id: `../../etc/${run}` },
    status: 400,
    type: 'validation-failed',
  },
  {
    name: 'NUL byte in tenant id',
    method: 'POST',
    path: '/v1/tenants',
    key: 'operator',
    json: { tenant_id: `nul-${run}\u0000x` },
    status: 400,
    type: 'validation-failed',
  },
  {
    name: 'unicode look-alike tenant id',
    method: 'POST',
    path: '/v1/tenants',
    key: 'operator',
    json: { tenant_id: `аcme-${run}` /* Cyrillic а */ },
    status: 400,
    type: 'validation-failed',
  },
  {
    name: 'very long tenant id (5000 chars)',
    method: 'POST',
    path: '/v1/tenants',
    key: 'operator',
    json: { tenant_id: `${run}${'a'.repeat(5000)}` },
    status: 400,
    type: 'validation-failed',
  },
  {
    name: 'unknown scope',
    method: 'POST',
    path: '/v1/tenants/{acme}/keys',
    key: 'acmeAdmin',
    json: { scopes: ['root'] },
    status: 400,
    type: 'validation-failed',
  },
  {
    name: 'scopes as a string',
    method: 'POST',
    path: '/v1/tenants/{acme}/keys',
    key: 'acmeAdmin',
    json: { scopes: 'admin' },
    status: 400,
    type: 'validation-failed',
  },
  {
    name: 'empty scopes',
    method: 'POST',
    path: '/v1/tenants/{acme}/keys',
    key: 'acmeAdmin',
    json: { scopes: [] },
    status: 400,
    type: 'validation-failed',
  },
  {
    name: 'repeated scopes',
    method: 'POST',
    path: '/v1/tenants/{acme}/keys',
    key: 'acmeAdmin',
    json: { scopes: ['read', 'read'] },
    status: 400,
    type: 'validation-failed',
  },
  {
    name: 'tenant_id smuggled into a key body',
    method: 'POST',
    path: '/v1/tenants/{acme}/keys',
    key: 'acmeAdmin',
    json: { scopes: ['admin'], tenant_id: null },
    status: 400,
    type: 'validation-failed',
  },
  {
    name: 'policy field of the wrong type',
    method: 'PUT',
    path: '/v1/tenants/{acme}/policy',
    key: 'acmeAdmin',
    json: { require_signature: 'yes' },
    status: 400,
    type: 'validation-failed',
  },
  {
    name: 'policy trusted signer with traversal',
    method: 'PUT',
    path: '/v1/tenants/{acme}/policy',
    key: 'acmeAdmin',
    json: { trusted_signers: ['../../keys/root'] },
    status: 400,
    type: 'validation-failed',
  },
  {
    name: 'policy unknown field',
    method: 'PUT',
    path: '/v1/tenants/{acme}/policy',
    key: 'acmeAdmin',
    json: { require_signature: false, bypass: true },
    status: 400,
    type: 'validation-failed',
  },
  {
    name: 'upload filename with traversal',
    method: 'POST',
    path: '/v1/uploads',
    key: 'acmeWriter',
    json: { filename: '../../etc/passwd.difypkg', size: 100 },
    status: 400,
    type: 'validation-failed',
  },
  {
    name: 'upload filename with URL-encoded traversal',
    method: 'POST',
    path: '/v1/uploads',
    key: 'acmeWriter',
    json: { filename: '%2e%2e%2fx.difypkg', size: 100 },
    status: 400,
    type: 'validation-failed',
  },
  {
    name: 'upload size negative',
    method: 'POST',
    path: '/v1/uploads',
    key: 'acmeWriter',
    json: { filename: 'a.difypkg', size: -1 },
    status: 400,
    type: 'validation-failed',
  },
  {
    name: 'upload size as a string',
    method: 'POST',
    path: '/v1/uploads',
    key: 'acmeWriter',
    json: { filename: 'a.difypkg', size: '100' },
    status: 400,
    type: 'validation-failed',
  },
  {
    name: 'upload size over 50 MiB',
    method: 'POST',
    path: '/v1/uploads',
    key: 'acmeWriter',
    json: { filename: 'a.difypkg', size: 50 * 1024 * 1024 + 1 },
    status: 413,
    type: 'package-too-large',
  },
  {
    name: 'publish with an unknown source',
    method: 'POST',
    path: '/v1/packages',
    key: 'acmeWriter',
    json: { source: 'ftp', url: 'ftp://example.com/x.difypkg' },
    status: 400,
    type: 'validation-failed',
  },
  {
    name: 'publish upload_id with traversal',
    method: 'POST',
    path: '/v1/packages',
    key: 'acmeWriter',
    json: { source: 'package', upload_id: 'up_../../../../etc/passwd' },
    status: 400,
    type: 'validation-failed',
  },
  {
    name: 'publish github repo with traversal',
    method: 'POST',
    path: '/v1/packages',
    key: 'acmeWriter',
    json: { source: 'github', repo: '../../../x', release: 'v1', asset: 'a.difypkg' },
    status: 400,
    type: 'validation-failed',
  },
  {
    name: 'deployment with an unknown operation',
    method: 'POST',
    path: '/v1/tenants/{acme}/deployments',
    key: 'acmeAdmin',
    json: { operation: 'delete-everything', plugin_id: `${author}/one` },
    status: 400,
    type: 'validation-failed',
  },
  {
    name: 'deployment with an injection-looking unique identifier',
    method: 'POST',
    path: '/v1/tenants/{acme}/deployments',
    key: 'acmeAdmin',
    json: { operation: 'install', unique_identifier: "x'; DROP TABLE installations;--" },
    status: 400,
    type: 'validation-failed',
  },
  {
    name: 'deployment config that is not an object',
    method: 'POST',
    path: '/v1/tenants/{acme}/deployments',
    key: 'acmeAdmin',
    json: { operation: 'install', unique_identifier: '{uidOne}', config: ['secret'] },
    status: 400,
    type: 'validation-failed',
  },
  {
    name: 'rollback to revision 0',
    method: 'POST',
    path: '/v1/tenants/{acme}/deployments',
    key: 'acmeAdmin',
    json: { operation: 'rollback', plugin_id: `${author}/one`, to_revision: 0 },
    status: 400,
    type: 'validation-failed',
  },
  {
    name: 'plan with 51 entries',
    method: 'POST',
    path: '/v1/tenants/{acme}/plans',
    key: 'acmeAdmin',
    json: { install: Array.from({ length: 51 }, (_, i) => `${author}/p${i}@^1`) },
    status: 400,
    type: 'validation-failed',
  },
  {
    name: 'signer key id with a slash',
    method: 'POST',
    path: '/v1/signers',
    key: 'operator',
    json: { key_id: `../${run}`, public_key_pem: 'x'.repeat(100) },
    status: 400,
    type: 'validation-failed',
  },
  {
    name: 'sweep at a non-date',
    method: 'POST',
    path: '/v1/sweeps',
    key: 'operator',
    json: { at: 'yesterday' },
    status: 400,
    type: 'validation-failed',
  },
];

const HEADERS: Case[] = [
  { name: 'no Authorization', method: 'GET', path: '/v1/tenants/{acme}', status: 401, type: 'unauthorized' },
  {
    name: 'Basic instead of Bearer',
    method: 'GET',
    path: '/v1/tenants/{acme}',
    headers: { authorization: 'Basic b3BlcmF0b3I6cGFzc3dvcmQ=' },
    status: 401,
    type: 'unauthorized',
  },
  {
    name: 'Bearer without a token',
    method: 'GET',
    path: '/v1/tenants/{acme}',
    headers: { authorization: 'Bearer' },
    status: 401,
    type: 'unauthorized',
  },
  {
    name: 'Bearer with a space inside the token',
    method: 'GET',
    path: '/v1/tenants/{acme}',
    headers: { authorization: 'Bearer po_abc def' },
    status: 401,
    type: 'unauthorized',
  },
  {
    name: 'Bearer with a garbled well-shaped key',
    method: 'GET',
    path: '/v1/tenants/{acme}',
    headers: { authorization: `Bearer po_${'A'.repeat(43)}` },
    status: 401,
    type: 'unauthorized',
  },
  {
    name: 'two Authorization headers (comma-joined)',
    method: 'POST',
    path: '/v1/tenants',
    headers: { authorization: 'Bearer {operatorKey}, Bearer {acmeAdminKey}' },
    json: { tenant_id: `dup-${run}` },
    status: 401,
    type: 'unauthorized',
  },
  {
    name: 'huge Authorization header (12 KiB)',
    method: 'GET',
    path: '/v1/tenants/{acme}',
    headers: { authorization: `Bearer po_${'x'.repeat(12 * 1024)}` },
    status: 401,
    type: 'unauthorized',
  },
  {
    name: 'revoked key',
    method: 'GET',
    path: '/v1/tenants/{acme}',
    key: 'revoked',
    status: 401,
    type: 'unauthorized',
  },
  {
    name: 'revoked key on a write',
    method: 'PUT',
    path: '/v1/tenants/{acme}/policy',
    key: 'revoked',
    json: { require_signature: true },
    status: 401,
    type: 'unauthorized',
  },
  {
    name: 'read key on a write route',
    method: 'POST',
    path: '/v1/tenants/{acme}/keys',
    key: 'acmeReader',
    json: { scopes: ['admin'] },
    status: 403,
    type: 'forbidden',
  },
  {
    name: 'tenant admin on an operator route',
    method: 'POST',
    path: '/v1/signers',
    key: 'acmeAdmin',
    json: { key_id: `evil-${run}`, public_key_pem: 'x'.repeat(100) },
    status: 403,
    type: 'forbidden',
  },
  {
    name: 'JSON body sent as text/plain',
    method: 'POST',
    path: '/v1/tenants',
    key: 'operator',
    headers: { 'content-type': 'text/plain' },
    body: JSON.stringify({ tenant_id: `plain-${run}` }),
    status: 415,
    type: 'unsupported-media-type',
  },
  {
    name: 'JSON body without a content type',
    method: 'POST',
    path: '/v1/tenants',
    key: 'operator',
    body: () => Buffer.from(JSON.stringify({ tenant_id: `noct-${run}` })),
    status: 415,
    type: 'unsupported-media-type',
  },
  {
    name: 'raw package sent as application/json',
    method: 'POST',
    path: '/v1/packages:raw',
    key: 'acmeWriter',
    headers: { 'content-type': 'application/json' },
    body: '{"not":"a package"}',
    status: 415,
    type: 'unsupported-media-type',
  },
  {
    name: 'Idempotency-Key with a space',
    method: 'POST',
    path: '/v1/tenants',
    key: 'operator',
    headers: { 'idempotency-key': 'a b' },
    json: { tenant_id: `idem1-${run}` },
    status: 400,
    type: 'validation-failed',
  },
  {
    name: 'Idempotency-Key of 256 characters',
    method: 'POST',
    path: '/v1/tenants',
    key: 'operator',
    headers: { 'idempotency-key': 'k'.repeat(256) },
    json: { tenant_id: `idem2-${run}` },
    status: 400,
    type: 'validation-failed',
  },
  {
    name: 'Idempotency-Key with a Latin-1 byte',
    method: 'POST',
    path: '/v1/tenants',
    key: 'operator',
    headers: { 'idempotency-key': 'caf\u00e9' },
    json: { tenant_id: `idem3-${run}` },
    status: 400,
    type: 'validation-failed',
  },
  {
    name: 'Idempotency-Key reused with another body',
    method: 'PUT',
    path: '/v1/tenants/{acme}/policy',
    key: 'acmeAdmin',
    headers: { 'idempotency-key': `reuse-${run}` },
    json: { require_signature: true },
    setup: async () => {
      const first = await call('PUT', fill('/v1/tenants/{acme}/policy'), {
        key: ctx.acmeAdminKey,
        json: {},
        headers: { 'idempotency-key': `reuse-${run}` },
      });
      expect(first.status).toBe(200);
    },
    status: 422,
    type: 'idempotency-key-reused',
  },
];

const QUERIES: Case[] = [
  ...['0', '101', '-1', 'abc', '1.5', '1e3', ''].map(
    (limit): Case => ({
      name: `limit=${limit}`,
      method: 'GET',
      path: `/v1/tenants/{acme}/deployments?limit=${limit}`,
      key: 'acmeAdmin',
      status: 400,
      type: 'validation-failed',
    }),
  ),
  {
    name: 'unknown query parameter',
    method: 'GET',
    path: '/v1/plugins?admin=true',
    key: 'acmeReader',
    status: 400,
    type: 'validation-failed',
  },
  {
    name: 'unknown deployment status filter',
    method: 'GET',
    path: '/v1/tenants/{acme}/deployments?status=all%27%20OR%201%3D1',
    key: 'acmeAdmin',
    status: 400,
    type: 'validation-failed',
  },
  {
    name: 'author filter with injection',
    method: 'GET',
    path: "/v1/plugins?author=a'%20OR%20'1'%3D'1",
    key: 'acmeReader',
    status: 400,
    type: 'validation-failed',
  },
  {
    name: 'forged cursor',
    method: 'GET',
    path: `/v1/tenants/{acme}/deployments?cursor=${Buffer.from('{"s":"tenant:x","k":{"PK":"TENANT#x"}}').toString('base64url')}.${'A'.repeat(43)}`,
    key: 'acmeAdmin',
    status: 400,
    type: 'validation-failed',
  },
  {
    name: 'cursor without a signature',
    method: 'GET',
    path: `/v1/tenants/{acme}/deployments?cursor=${Buffer.from('{"s":"x","k":{}}').toString('base64url')}`,
    key: 'acmeAdmin',
    status: 400,
    type: 'validation-failed',
  },
  {
    name: 'tampered cursor',
    method: 'GET',
    path: '/v1/tenants/{globex}/deployments?cursor={globexCursorTampered}',
    key: 'globexAdmin',
    status: 400,
    type: 'validation-failed',
  },
  {
    name: "another tenant's cursor (cross-tenant replay)",
    method: 'GET',
    path: '/v1/tenants/{acme}/deployments?cursor={globexCursor}',
    key: 'acmeAdmin',
    status: 400,
    type: 'validation-failed',
  },
  {
    name: "another tenant's cursor, even for an operator",
    method: 'GET',
    path: '/v1/tenants/{acme}/deployments?cursor={globexCursor}',
    key: 'operator',
    status: 400,
    type: 'validation-failed',
  },
  {
    name: 'cursor replayed on another kind of list',
    method: 'GET',
    path: '/v1/tenants/{globex}/installations?cursor={globexCursor}',
    key: 'globexAdmin',
    status: 400,
    type: 'validation-failed',
  },
  {
    name: 'cursor of 3000 characters',
    method: 'GET',
    path: `/v1/plugins?cursor=${'a'.repeat(3000)}`,
    key: 'acmeReader',
    status: 400,
    type: 'validation-failed',
  },
];

const PATHS: Case[] = [
  {
    name: 'encoded traversal as tenant id',
    method: 'GET',
    path: '/v1/tenants/..%2F..%2Fetc%2Fpasswd',
    key: 'operator',
    status: 404,
    type: 'not-found',
  },
  {
    name: '%2e%2e as tenant id',
    method: 'GET',
    path: '/v1/tenants/%2e%2e/policy',
    key: 'acmeAdmin',
    status: 404,
    type: 'not-found',
  },
  {
    name: 'encoded NUL in tenant id',
    method: 'GET',
    path: '/v1/tenants/{acme}%00/policy',
    key: 'operator',
    status: 404,
    type: 'not-found',
  },
  {
    name: 'very long tenant id in the path (5000 chars)',
    method: 'GET',
    path: `/v1/tenants/${'a'.repeat(5000)}`,
    key: 'operator',
    status: 404,
    type: 'not-found',
  },
  {
    name: 'injection-looking tenant id in the path',
    method: 'PUT',
    path: "/v1/tenants/acme'%3B%20DROP%20TABLE%20tenants%3B--/policy",
    key: 'operator',
    json: { require_signature: true },
    status: 404,
    type: 'not-found',
  },
  {
    name: 'traversal as unique identifier',
    method: 'GET',
    path: '/v1/packages/..%2F..%2F..%2Fetc%2Fpasswd',
    key: 'acmeReader',
    status: 400,
    type: 'validation-failed',
  },
  {
    name: 'double-encoded traversal as unique identifier',
    method: 'GET',
    path: '/v1/packages/%252e%252e%252f%252e%252e',
    key: 'acmeReader',
    status: 400,
    type: 'validation-failed',
  },
  {
    name: 'unique identifier with an unencoded slash',
    method: 'GET',
    path: `/v1/packages/${author}/one:1.0.0@${'0'.repeat(64)}`,
    key: 'acmeReader',
    status: 404,
    type: 'not-found',
  },
  {
    name: 'very long unique identifier',
    method: 'GET',
    path: `/v1/packages/${encodeURIComponent(`${author}/${'n'.repeat(4000)}:1.0.0@${'0'.repeat(64)}`)}`,
    key: 'acmeReader',
    status: 400,
    type: 'validation-failed',
  },
  {
    name: 'traversal in a plugin author',
    method: 'GET',
    path: '/v1/plugins/..%2F..%2Fetc/passwd/versions',
    key: 'acmeReader',
    status: 400,
    type: 'validation-failed',
  },
  {
    name: 'traversal in installation path params',
    method: 'GET',
    path: '/v1/tenants/{acme}/installations/%2e%2e/%2e%2e/revisions',
    key: 'acmeAdmin',
    status: 400,
    type: 'validation-failed',
  },
  {
    name: 'deployment id that is not a ULID',
    method: 'GET',
    path: "/v1/tenants/{acme}/deployments/1'%20OR%20'1'%3D'1",
    key: 'acmeAdmin',
    status: 400,
    type: 'validation-failed',
  },
  {
    name: 'key id with traversal',
    method: 'DELETE',
    path: '/v1/tenants/{acme}/keys/key_..%2F..%2Fop',
    key: 'acmeAdmin',
    status: 400,
    type: 'validation-failed',
  },
  {
    name: 'rollout unique identifier with traversal',
    method: 'DELETE',
    path: '/v1/rollouts/..%2F..%2Fx/halt',
    key: 'operator',
    status: 400,
    type: 'validation-failed',
  },
  {
    name: 'unknown route',
    method: 'GET',
    path: '/v1/admin/../../etc/passwd',
    key: 'operator',
    status: 404,
    type: 'not-found',
  },
  {
    name: 'unsupported method',
    method: 'PUT',
    path: '/v1/tenants/{acme}',
    key: 'operator',
    json: { display_name: 'x' },
    status: 405,
    type: 'method-not-allowed',
  },
];

const PACKAGES: Case[] = [
  raw('not a zip', () => Buffer.from(`definitely not a zip ${run}`), 422, 'invalid-package'),
  raw('empty body', () => Buffer.alloc(0), 422, 'invalid-package'),
  raw('zip-slip entry', zipWith('slip', [{ name: '../evil.py', content: 'x' }]), 422, 'unsafe-archive'),
  raw('absolute entry', zipWith('abs', [{ name: '/etc/cron.d/evil', content: 'x' }]), 422, 'unsafe-archive'),
  raw(
    'backslash traversal entry',
    zipWith('bslash', [{ name: '..\\..\\evil.py', content: 'x' }]),
    422,
    'unsafe-archive',
  ),
  raw(
    'drive-letter entry',
    zipWith('drive', [{ name: 'C:/Windows/evil.dll', content: 'x' }]),
    422,
    'unsafe-archive',
  ),
  raw(
    'symlink entry',
    zipWith('link', [
      { name: 'passwd', content: '/etc/passwd', method: 0, externalAttributes: 0o120777 << 16 },
    ]),
    422,
    'unsafe-archive',
  ),
  raw(
    'NUL byte in an entry name',
    zipWith('nul', [{ name: 'a\u0000.py', content: 'x' }]),
    422,
    'unsafe-archive',
  ),
  raw(
    'zip bomb (12 MiB of zeros, ~1000:1)',
    zipWith('bomb', [{ name: 'bomb.bin', content: Buffer.alloc(12 * 1024 * 1024) }]),
    422,
    'unsafe-archive',
  ),
  raw(
    'header that lies about the inflated size',
    zipWith('liar', [{ name: 'liar.txt', content: 'y'.repeat(200_000), declaredSize: 10 }]),
    422,
    'unsafe-archive',
  ),
  raw(
    'encrypted entry',
    zipWith('enc', [{ name: 'secret.py', content: 'x', flags: 0x1 }]),
    422,
    'unsafe-archive',
  ),
  raw('duplicate entry', zipWith('dup', [{ name: 'main.py', content: 'print(1)' }]), 422, 'unsafe-archive'),
  raw(
    'overlapping entries',
    zipWith('overlap', [{ name: 'copy.py', content: 'x', sharesDataWith: 0 }]),
    422,
    'unsafe-archive',
  ),
  raw(
    'local name differs from the central directory',
    zipWith('mismatch', [{ name: 'ok.py', localName: '../ok.py', content: 'x' }]),
    422,
    'unsafe-archive',
  ),
  raw(
    'wrong CRC-32',
    zipWith('crc', [{ name: 'crc.py', content: 'print(2)', crc32: 0xdeadbeef }]),
    422,
    'invalid-package',
  ),
  raw(
    'truncated zip',
    async () => {
      const full = await buildPackage({ manifest: manifest('trunc') });
      return full.subarray(0, Math.floor(full.length / 2));
    },
    422,
    'invalid-package',
  ),
  raw(
    'no manifest.yaml',
    () => buildPackage({ manifest: manifest('nomanifest'), files: { 'manifest.yaml': null } }),
    422,
    'invalid-package',
  ),
  raw(
    'manifest that is not YAML',
    () => buildPackage({ manifestYaml: `author: ${author}\nname: [unclosed\n` }),
    422,
    'invalid-manifest',
  ),
  raw(
    'manifest with a bad version',
    () => buildPackage({ manifest: manifest('badver', 'not-a-version') }),
    422,
    'invalid-manifest',
  ),
  raw(
    'manifest author with traversal',
    () => buildPackage({ manifest: { ...manifest('x'), author: '../../etc' } }),
    422,
    'invalid-manifest',
  ),
  raw(
    'manifest over 256 KiB',
    () =>
      buildPackage({
        manifestYaml: `author: ${author}\nname: big\nversion: 1.0.0\n# ${'z'.repeat(300 * 1024)}\n`,
      }),
    422,
    'unsafe-archive',
  ),
  raw(
    'raw body over 6 MiB',
    () =>
      buildPackage({
        manifest: manifest('huge'),
        files: { 'blob.bin': randomBytes(6 * 1024 * 1024 + 1) },
        compress: false,
      }),
    413,
    'package-too-large',
  ),
  raw(
    'unsigned package on a tenant that requires signatures',
    () => buildPackage({ manifest: manifest('unsigned') }),
    422,
    'signature-required',
    'strictWriter',
  ),
  raw(
    'package signed by an unknown key',
    async () =>
      signPackage(byteSourceFromBuffer(await buildPackage({ manifest: manifest('rogue') })), {
        privateKeyPem: ctx.roguePrivateKey as string,
        now: new Date('2026-01-01T00:00:00Z'),
      }),
    422,
    'signature-invalid',
    'strictWriter',
  ),
  raw(
    'package signed by a stage signer the tenant does not trust',
    async () =>
      signPackage(byteSourceFromBuffer(await buildPackage({ manifest: manifest('othersigner') })), {
        privateKeyPem: ctx.otherPrivateKey as string,
        now: new Date('2026-01-01T00:00:00Z'),
      }),
    422,
    'signature-invalid',
    'strictWriter',
  ),
  raw(
    'package tampered after signing',
    async () => {
      const signed = await signPackage(
        byteSourceFromBuffer(await buildPackage({ manifest: manifest('tamper') })),
        {
          privateKeyPem: ctx.trustedPrivateKey as string,
          now: new Date('2026-01-01T00:00:00Z'),
        },
      );
      // The signature comment of the original on an archive with one entry rewritten.
      const end = signed.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
      const comment = signed.subarray(end + 22, end + 22 + signed.readUInt16LE(end + 20));
      expect(comment.toString('utf8')).toContain('signature');
      return buildPackage({
        manifest: manifest('tamper'),
        files: { 'main.py': 'import os; os.system("id")\n' },
        comment,
      });
    },
    422,
    'signature-invalid',
    'strictWriter',
  ),
  {
    name: 'publish of an upload that was never PUT',
    method: 'POST',
    path: '/v1/packages',
    key: 'acmeWriter',
    json: { source: 'package', upload_id: '{emptyUpload}' },
    status: 404,
    type: 'not-found',
  },
  {
    name: 'publish of an unknown upload id',
    method: 'POST',
    path: '/v1/packages',
    key: 'acmeWriter',
    json: { source: 'package', upload_id: `up_${'Z'.repeat(16)}` },
    status: 404,
    type: 'not-found',
  },
  {
    name: 'publish of an upload whose size differs from the announced one',
    method: 'POST',
    path: '/v1/packages',
    key: 'acmeWriter',
    json: { source: 'package', upload_id: '{shortUpload}' },
    status: 422,
    type: 'invalid-package',
  },
];

/** Every tenant-scoped route, called by acme's admin on globex's resources. */
const CROSS_TENANT: Case[] = (
  [
    ['GET', '/v1/tenants/{globex}'],
    ['POST', '/v1/tenants/{globex}/keys', { scopes: ['admin'] }],
    ['DELETE', '/v1/tenants/{globex}/keys/{globexKeyId}'],
    ['GET', '/v1/tenants/{globex}/policy'],
    ['PUT', '/v1/tenants/{globex}/policy', { require_signature: true }],
    ['GET', '/v1/tenants/{globex}/auto-upgrade'],
    ['PUT', '/v1/tenants/{globex}/auto-upgrade', { strategy_setting: 'latest' }],
    ['GET', '/v1/tenants/{globex}/auto-upgrade/runs'],
    ['POST', '/v1/tenants/{globex}/deployments', { operation: 'uninstall', plugin_id: `${author}/one` }],
    ['POST', '/v1/tenants/{globex}/plans', { install: ['{uidTwo}'] }],
    ['GET', '/v1/tenants/{globex}/deployments'],
    ['GET', '/v1/tenants/{globex}/deployments/{globexDeployment}'],
    ['POST', '/v1/tenants/{globex}/deployments/{globexDeployment}/approve', {}],
    ['POST', '/v1/tenants/{globex}/deployments/{globexDeployment}/reject', {}],
    ['GET', '/v1/tenants/{globex}/installations'],
    ['GET', `/v1/tenants/{globex}/installations/${author}/one/revisions`],
    ['DELETE', `/v1/tenants/{globex}/installations/${author}/one/hold`],
    // Another tenant's ids under one's own tenant path.
    ['GET', '/v1/tenants/{acme}/deployments/{globexDeployment}'],
    ['POST', '/v1/tenants/{acme}/deployments/{globexDeployment}/approve', {}],
    ['DELETE', '/v1/tenants/{acme}/keys/{globexKeyId}'],
    ['POST', '/v1/packages', { source: 'package', upload_id: '{globexUpload}' }],
  ] as Array<[string, string, unknown?]>
).map(
  ([method, path, json]): Case => ({
    name: `cross-tenant ${method} ${path}`,
    method: method as Case['method'],
    path: path as string,
    key: 'acmeAdmin',
    ...(json === undefined ? {} : { json }),
    status: 404,
    type: 'not-found',
  }),
);

const CORPUS = [...BODIES, ...HEADERS, ...QUERIES, ...PATHS, ...PACKAGES, ...CROSS_TENANT];

// ── setup ───────────────────────────────────────────────────────────────────────────────────────

async function ok<T = any>(response: Promise<ApiResponse<T>>, status: number): Promise<ApiResponse<T>> {
  const settled = await response;
  expect(settled.status, settled.text).toBe(status);
  return settled;
}

async function issueKey(tenant: string, scopes: string[]): Promise<{ key: string; key_id: string }> {
  const response = await ok(
    call('POST', `/v1/tenants/${tenant}/keys`, { key: ctx.operatorKey, json: { scopes } }),
    201,
  );
  return response.body;
}

async function waitFinal(tenant: string, deploymentId: string): Promise<void> {
  await eventually(
    async () => {
      const response = await call('GET', `/v1/tenants/${tenant}/deployments/${deploymentId}`, {
        key: ctx.operatorKey,
      });
      return FINAL.has(response.body.status) ? true : undefined;
    },
    60_000,
    200,
  );
}

beforeAll(async () => {
  ctx.operatorKey = stack.bootstrapKey;
  for (const tenant of [ctx.acme, ctx.globex, ctx.strict]) {
    await ok(call('POST', '/v1/tenants', { key: ctx.operatorKey, json: { tenant_id: tenant } }), 201);
  }
  ctx.acmeAdminKey = (await issueKey(ctx.acme as string, ['admin'])).key;
  ctx.acmeReaderKey = (await issueKey(ctx.acme as string, ['read'])).key;
  ctx.acmeWriterKey = (await issueKey(ctx.acme as string, ['read', 'packages:write'])).key;
  const globexAdmin = await issueKey(ctx.globex as string, ['admin']);
  ctx.globexAdminKey = globexAdmin.key;
  ctx.globexKeyId = globexAdmin.key_id;
  ctx.strictWriterKey = (await issueKey(ctx.strict as string, ['read', 'packages:write'])).key;
  // Tenant keys publish only under authors granted to their tenant (docs/security.md).
  for (const tenant of [ctx.acme, ctx.strict]) {
    await ok(call('PUT', `/v1/authors/${author}/tenants/${tenant}`, { key: ctx.operatorKey }), 200);
  }
  const revoked = await issueKey(ctx.acme as string, ['admin']);
  ctx.revokedKey = revoked.key;
  await ok(call('DELETE', `/v1/tenants/${ctx.acme}/keys/${revoked.key_id}`, { key: ctx.acmeAdminKey }), 204);

  // Signers: one the strict tenant trusts, one the stage knows but the tenant does not, one rogue.
  const [trusted, other, rogue] = await Promise.all([
    generateSigningKeyPair(2048),
    generateSigningKeyPair(2048),
    generateSigningKeyPair(2048),
  ]);
  ctx.trustedPrivateKey = trusted.privateKeyPem;
  ctx.otherPrivateKey = other.privateKeyPem;
  ctx.roguePrivateKey = rogue.privateKeyPem;
  for (const [id, pair] of [
    [`trusted-${run}`, trusted],
    [`other-${run}`, other],
  ] as const) {
    await ok(
      call('POST', '/v1/signers', {
        key: ctx.operatorKey,
        json: { key_id: id, public_key_pem: pair.publicKeyPem },
      }),
      201,
    );
  }
  await ok(
    call('PUT', `/v1/tenants/${ctx.strict}/policy`, {
      key: ctx.operatorKey,
      json: { require_signature: true, trusted_signers: [`trusted-${run}`] },
    }),
    200,
  );

  // Two plugins in the catalog, both installed on globex (two deployments → a cursor). Published
  // by the operator: a build acme publishes is acme's own, which globex never sees.
  for (const name of ['one', 'two']) {
    const published = await ok(
      call('POST', '/v1/packages:raw', {
        key: ctx.operatorKey,
        body: await buildPackage({ manifest: manifest(name) }),
        headers: OCTET,
      }),
      201,
    );
    ctx[`uid${name === 'one' ? 'One' : 'Two'}`] = published.body.unique_identifier;
  }
  for (const uid of [ctx.uidOne, ctx.uidTwo]) {
    const deployment = await ok(
      call('POST', `/v1/tenants/${ctx.globex}/deployments`, {
        key: ctx.globexAdminKey,
        json: { operation: 'install', unique_identifier: uid },
      }),
      202,
    );
    ctx.globexDeployment = deployment.body.deployment_id;
    await waitFinal(ctx.globex as string, deployment.body.deployment_id);
  }
  const page = await ok(
    call('GET', `/v1/tenants/${ctx.globex}/deployments?limit=1`, { key: ctx.globexAdminKey }),
    200,
  );
  const cursor = page.body.next_cursor as string;
  expect(cursor).toBeTruthy();
  ctx.globexCursor = cursor;
  const [payload, mac] = cursor.split('.') as [string, string];
  const decoded = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { s: string; k: unknown };
  ctx.globexCursorTampered = `${Buffer.from(JSON.stringify({ ...decoded, s: decoded.s.replace(ctx.globex as string, ctx.acme as string) })).toString('base64url')}.${mac}`;

  // Upload sessions: one never PUT, one PUT with fewer bytes than announced, one of globex.
  const upload = async (key: string, size: number) =>
    (await ok(call('POST', '/v1/uploads', { key, json: { filename: 'p.difypkg', size } }), 201)).body;
  ctx.emptyUpload = (await upload(ctx.acmeWriterKey as string, 1000)).upload_id;
  const short = await upload(ctx.acmeWriterKey as string, 5000);
  ctx.shortUpload = short.upload_id;
  // The presigned URL signs the announced content-length, so the local S3 endpoint (like S3)
  // refuses a shorter body; the short object is written with the stage credentials instead.
  const objectKey = decodeURIComponent(new URL(short.url).pathname).replace(`/${stack.bucket}/`, '');
  const put = await s3
    .send(new PutObjectCommand({ Bucket: stack.bucket, Key: objectKey, Body: Buffer.alloc(10, 1) }))
    .then(() => '200')
    .catch((error: unknown) => String(error));
  ctx.shortUploadPut = put;
  const globexUpload = await upload(ctx.globexAdminKey as string, 1000);
  ctx.globexUpload = globexUpload.upload_id;
}, 180_000);

// ── the cases ───────────────────────────────────────────────────────────────────────────────────

describe('bad-input corpus', () => {
  it('has at least 60 cases', () => {
    expect(CORPUS.length).toBeGreaterThanOrEqual(60);
    expect(new Set(CORPUS.map((c) => c.name)).size).toBe(CORPUS.length);
  });

  it('fingerprints real state (tenants, keys, deployments, catalog, events)', async () => {
    const stored = await fingerprint(stack, db, run);
    expect(stored.items).toBeGreaterThan(20);
    expect(stored.events).toBeGreaterThan(0);
  });

  it.each(CORPUS.map((c) => [c.name, c] as const))('%s', async (_name, testCase) => {
    await testCase.setup?.();
    const bodyBytes = typeof testCase.body === 'function' ? await testCase.body() : undefined;
    const before = await fingerprint(stack, db, run);

    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(testCase.headers ?? {})) headers[name] = fill(value);
    const key = testCase.key === undefined || testCase.key === 'none' ? undefined : ctx[`${testCase.key}Key`];
    if (testCase.key !== undefined && testCase.key !== 'none') expect(key).toBeTruthy();
    if (testCase.json !== undefined) headers['content-type'] ??= 'application/json';
    if (key !== undefined) headers.authorization = `Bearer ${key}`;
    const payload =
      testCase.json !== undefined
        ? JSON.stringify(fillJson(testCase.json))
        : typeof testCase.body === 'string'
          ? testCase.body
          : bodyBytes;
    const response = await sendRaw(stack.baseUrl, testCase.method, fill(testCase.path), headers, payload);

    expect(response.status, response.text.slice(0, 500)).toBe(testCase.status);
    expect(response.headers['content-type']).toContain('application/problem+json');
    expect(response.body.type).toBe(PROBLEM + testCase.type);
    expect(response.body.status).toBe(testCase.status);
    await testCase.check?.(response);

    expect(await fingerprint(stack, db, run)).toEqual(before);
    if (bodyBytes !== undefined && testCase.path === '/v1/packages:raw') {
      await expectBytesNotStored(stack, db, s3, bodyBytes);
    }
  });

  it('leaves a revoked or refused key unusable and the other tenant untouched', async () => {
    // The cross-tenant DELETE above did not revoke globex's key.
    expect((await call('GET', `/v1/tenants/${ctx.globex}`, { key: ctx.globexAdminKey })).status).toBe(200);
    const policy = await call('GET', `/v1/tenants/${ctx.globex}/policy`, { key: ctx.globexAdminKey });
    expect(policy.body.require_signature).toBe(false);
  });
});
