import { describe, expect, it } from 'vitest';
import { ApiClient } from '#cli/client.ts';
import { EXIT_CODES, exitCodeForProblem, formatProblem, RemoteProblemError } from '#cli/output.ts';

const KEY = 'po_secretsecretsecret';

function client(responses: Array<Response | Error>, seen: Request[] = []) {
  const fetchImpl = (async (input: URL, init: RequestInit) => {
    seen.push(new Request(input, init));
    const next = responses.shift();
    if (next === undefined) throw new Error('no more responses');
    if (next instanceof Error) throw next;
    return next;
  }) as typeof fetch;
  return new ApiClient(
    { endpoint: 'http://api.test', key: KEY, profile: 'dev', requestTimeoutMs: 1000 },
    { fetchImpl, sleep: async () => undefined },
  );
}

function problem(status: number, slug: string, extra: Record<string, unknown> = {}) {
  return new Response(
    JSON.stringify({
      type: `urn:pluginops:problem:${slug}`,
      title: slug,
      status,
      detail: `${slug} happened`,
      ...extra,
    }),
    { status, headers: { 'content-type': 'application/problem+json' } },
  );
}

describe('ApiClient', () => {
  it('sends the bearer key, JSON and an idempotency key on mutations', async () => {
    const seen: Request[] = [];
    const api = client(
      [new Response('{"ok":true}', { status: 201, headers: { 'content-type': 'application/json' } })],
      seen,
    );
    const response = await api.post('/v1/things', { json: { a: 1 } });
    expect(response).toMatchObject({ status: 201, body: { ok: true } });
    expect(seen[0]?.headers.get('authorization')).toBe(`Bearer ${KEY}`);
    expect(seen[0]?.headers.get('idempotency-key')).toMatch(/^[0-9a-f-]{36}$/);
    expect(await seen[0]?.json()).toEqual({ a: 1 });
  });

  it('maps problems to exit codes and keeps the problem, never the key', async () => {
    for (const [status, slug, code] of [
      [401, 'unauthorized', EXIT_CODES.auth],
      [403, 'forbidden', EXIT_CODES.auth],
      [404, 'not-found', EXIT_CODES.notFound],
      [409, 'conflict', EXIT_CODES.conflict],
      [422, 'invalid-package', EXIT_CODES.badInput],
      [400, 'validation-failed', EXIT_CODES.badInput],
      [403, 'source-not-allowed', EXIT_CODES.badInput],
      [500, 'internal', EXIT_CODES.unexpected],
    ] as const) {
      const error = await client([problem(status, slug)])
        .get('/v1/x')
        .catch((caught) => caught);
      expect(error).toBeInstanceOf(RemoteProblemError);
      expect([slug, error.exitCode]).toEqual([slug, code]);
      expect(JSON.stringify(error.problem) + error.message).not.toContain(KEY);
    }
  });

  it('retries GETs on 503 and network errors, then succeeds', async () => {
    const seen: Request[] = [];
    const api = client(
      [
        new Response('', { status: 503 }),
        new TypeError('fetch failed', { cause: { code: 'ECONNRESET' } }),
        new Response('{"items":[]}', { status: 200, headers: { 'content-type': 'application/json' } }),
      ],
      seen,
    );
    expect((await api.get('/v1/x')).body).toEqual({ items: [] });
    expect(seen).toHaveLength(3);
  });

  it('a deadline is exit 7, an unreachable endpoint exit 1, a non-JSON error a synthetic problem', async () => {
    const timeout = Object.assign(new Error('The operation was aborted due to timeout'), {
      name: 'TimeoutError',
    });
    const timedOut = await client([timeout])
      .get('/v1/x')
      .catch((caught) => caught);
    expect(timedOut.exitCode).toBe(EXIT_CODES.timeout);
    expect(timedOut.message).toContain('did not answer within 1000 ms');

    const refused = new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } });
    const unreachable = await client([refused, refused, refused])
      .get('/v1/x')
      .catch((caught) => caught);
    expect(unreachable.exitCode).toBe(EXIT_CODES.unexpected);
    expect(unreachable.message).toBe(
      'Could not reach http://api.test (profile dev) for GET /v1/x: ECONNREFUSED.',
    );

    const html = await client([
      new Response('<html>Bad gateway</html>', { status: 400, statusText: 'Bad Request' }),
    ])
      .get('/v1/x')
      .catch((caught) => caught);
    expect(html.problem).toMatchObject({ type: 'urn:pluginops:problem:http-400', status: 400 });
    expect(html.exitCode).toBe(EXIT_CODES.badInput);
  });
});

describe('problem rendering', () => {
  it('prints error[slug] Title: detail and the field errors', () => {
    expect(
      formatProblem({
        type: 'urn:pluginops:problem:validation-failed',
        title: 'Validation failed',
        status: 400,
        detail: 'The request body is invalid.',
        errors: [{ path: 'body.timezone', message: 'unknown time zone' }],
      }),
    ).toBe(
      'error[validation-failed] Validation failed: The request body is invalid.\n  - body.timezone: unknown time zone\n',
    );
  });

  it('exit codes by status', () => {
    expect(exitCodeForProblem(429, 'rate-limited')).toBe(EXIT_CODES.unexpected);
    expect(exitCodeForProblem(413, 'package-too-large')).toBe(EXIT_CODES.badInput);
    expect(exitCodeForProblem(504, 'http-504')).toBe(EXIT_CODES.timeout);
  });
});
