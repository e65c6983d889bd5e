/**
 * HTTP fuzz (issue 10, Security): arbitrary methods, route-table paths with mutated parameters,
 * headers, query strings and bodies against the shared local gateway (loopback only). Whatever
 * arrives, the answer is never a 5xx, and every 4xx is an RFC 9457 problem+json document with a
 * `urn:pluginops:problem:` type. Bounded: a fixed number of runs, a deadline per request.
 *
 * The fuzzer holds a tenant admin key of its own tenant (never the operator key), so it cannot
 * run sweeps or touch other suites' tenants even when it guesses a valid request.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROUTES } from '#api/routes.ts';
import { createApiClient } from '#test/support/api-client.ts';
import { stackInfo } from '#test/support/local-stack.ts';
import { PROBLEM } from './support.ts';

const RUNS = 300;
const REQUEST_DEADLINE_MS = 10_000;
const stack = stackInfo();
const call = createApiClient(stack.baseUrl);
const run = randomBytes(3).toString('hex');
const tenant = `fuzz-${run}`;
const auth: Record<string, string> = {};

beforeAll(async () => {
  expect(new URL(stack.baseUrl).hostname).toBe('127.0.0.1');
  const created = await call('POST', '/v1/tenants', { key: stack.bootstrapKey, json: { tenant_id: tenant } });
  expect(created.status).toBe(201);
  for (const [name, scopes] of [
    ['admin', ['admin']],
    ['reader', ['read']],
  ] as const) {
    const issued = await call('POST', `/v1/tenants/${tenant}/keys`, {
      key: stack.bootstrapKey,
      json: { scopes },
    });
    expect(issued.status).toBe(201);
    auth[name] = `Bearer ${issued.body.key}`;
  }
}, 60_000);

/** Values a path parameter may take: plausible, hostile, encoded, huge. */
const segment = fc.oneof(
  fc.constant(tenant),
  fc.constantFrom(
    '..',
    '%2e%2e',
    '..%2F..%2Fetc%2Fpasswd',
    '%252e%252e',
    "acme'%3B%20DROP%20TABLE%20x%3B--",
    '%00',
    '%ff%fe',
    '%',
    'key_abc',
    '01ARZ3NDEKTSV4RRFFQ69G5FAV',
    `langgenius%2Fdemo%3A0.0.1%40${'a'.repeat(64)}`,
    'CON',
    '.',
  ),
  fc.string({ minLength: 1, maxLength: 40 }).map((s) => encodeURIComponent(s)),
  fc.integer({ min: 200, max: 6000 }).map((n) => 'a'.repeat(n)),
  fc.stringMatching(/^[a-z0-9_-]{1,20}$/),
);

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const;
const anyMethod = fc.constantFrom(...METHODS);

/** A route of the table with its parameters replaced; mostly with the route's own method. */
const routeTarget = fc
  .tuple(
    fc.constantFrom(...ROUTES),
    fc.array(segment, { minLength: 4, maxLength: 4 }),
    fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: anyMethod }),
  )
  .map(([route, values, method]) => {
    let i = 0;
    const path = route.path.replace(/\{[a-z_]+\}/g, () => values[i++ % values.length] as string);
    return { method: method ?? route.method, path };
  });

const target = fc.oneof(
  { weight: 8, arbitrary: routeTarget },
  {
    weight: 1,
    arbitrary: fc.record({
      method: anyMethod,
      path: fc.array(segment, { minLength: 0, maxLength: 6 }).map((parts) => `/v1/${parts.join('/')}`),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      method: anyMethod,
      path: fc.constantFrom(
        '/',
        '/v1',
        '/v1/',
        '//v1//tenants',
        '/v1/tenants/',
        '/V1/HEALTH',
        '/v1/packages:RAW',
      ),
    }),
  },
);

const queryValue = fc.oneof(
  fc.constantFrom('0', '101', '-1', 'abc', '1.5', '', '20', 'null', '%00', 'a'.repeat(3000)),
  fc.string({ maxLength: 30 }),
);
const query = fc
  .dictionary(
    fc.constantFrom('limit', 'cursor', 'q', 'author', 'status', 'unique_identifier', 'x', '__proto__'),
    queryValue,
    {
      maxKeys: 3,
    },
  )
  .map((params) => {
    const search = new URLSearchParams(params).toString();
    return search === '' ? '' : `?${search}`;
  });

/** Header values fetch accepts: visible ASCII and spaces, no CR/LF/NUL. */
const headerText = fc.stringMatching(/^[\x20-\x7e]{0,200}$/).map((s) => s.trim());

const headers = fc.record(
  {
    authorization: fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom('admin', 'reader').map((name) => auth[name] as string) },
      fc.constantFrom(
        'Bearer',
        'Bearer ',
        'Basic Zm9vOmJhcg==',
        `Bearer po_${'A'.repeat(43)}`,
        'bearer po_x',
      ),
      headerText,
    ),
    'content-type': fc.constantFrom(
      'application/json',
      'application/octet-stream',
      'application/problem+json',
      'text/plain',
      'multipart/form-data; boundary=x',
      'application/json; charset=utf-16',
      'garbage',
    ),
    'idempotency-key': fc.oneof(headerText, fc.stringMatching(/^[\x21-\x7e]{1,255}$/)),
    'x-forwarded-for': headerText,
  },
  { requiredKeys: ['authorization'] },
);

const body = fc.oneof(
  fc.constant(undefined),
  fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value)),
  fc.string({ maxLength: 300 }),
  fc.uint8Array({ maxLength: 2048 }).map((bytes) => Buffer.from(bytes)),
  fc.constantFrom(
    '{"tenant_id":',
    '{"source":"package","upload_id":"up_AAAAAAAAAAAAAAAA"}',
    `{"operation":"install","unique_identifier":"a/b:1.0.0@${'0'.repeat(64)}"}`,
    '{"scopes":["admin"],"__proto__":{"x":1}}',
    '{"install":["a/b@^1"]}',
    '{"require_signature":true}',
    '[]',
    'null',
  ),
);

const request = fc
  .record({ target, query, headers, body })
  .map(({ target: { method, path }, ...rest }) => ({ method, path, ...rest }));

describe('HTTP fuzz', () => {
  it(`never answers 5xx, and every 4xx is problem+json (${RUNS} runs)`, async () => {
    const seen = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(request, async (input) => {
        const withBody = input.method !== 'GET' && input.method !== 'HEAD' && input.body !== undefined;
        // Concatenated, not resolved: `//host/...` must stay a path on the loopback gateway.
        const url = new URL(`${stack.baseUrl}${input.path}${input.query}`);
        expect(url.origin).toBe(new URL(stack.baseUrl).origin);
        const response = await fetch(url, {
          method: input.method,
          headers: input.headers as Record<string, string>,
          ...(withBody ? { body: input.body } : {}),
          redirect: 'manual',
          signal: AbortSignal.timeout(REQUEST_DEADLINE_MS),
        });
        const text = await response.text();
        seen.set(response.status, (seen.get(response.status) ?? 0) + 1);
        expect(
          response.status,
          `${input.method} ${input.path}${input.query} → ${text.slice(0, 300)}`,
        ).toBeLessThan(500);
        // A HEAD answer has headers only (the Dify marketplace download routes answer HEAD).
        if (response.status >= 400 && input.method !== 'HEAD') {
          expect(response.headers.get('content-type')).toContain('application/problem+json');
          const problem = JSON.parse(text) as { type: string; status: number; title: string };
          expect(problem.type.startsWith(PROBLEM)).toBe(true);
          expect(problem.status).toBe(response.status);
          expect(typeof problem.title).toBe('string');
        }
      }),
      { numRuns: RUNS, endOnFailure: true },
    );
    console.info('fuzz status counts', Object.fromEntries([...seen].sort(([a], [b]) => a - b)));
    // The corpus reached past authentication and validation, not only 401s.
    expect([...seen.keys()].some((status) => status !== 401)).toBe(true);
  }, 240_000);
});
