/**
 * The gateway on its own, with a recording dispatcher in place of the route handlers: what the
 * handlers receive, how their results reach the client, and the gateway's own limits.
 */
import { request } from 'node:http';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTES } from '#api/routes.ts';
import { type ApiDispatcher, type Gateway, startGateway } from '#local/gateway.ts';

let gateway: Gateway;
const seen: Array<{ event: APIGatewayProxyEventV2; context: Context }> = [];
const errors: string[] = [];
let respond: (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

const dispatch: ApiDispatcher = async (event, context) => {
  seen.push({ event, context });
  return respond(event);
};

beforeAll(async () => {
  gateway = await startGateway({
    routes: ROUTES,
    dispatch,
    host: '127.0.0.1',
    port: 0,
    logger: { request: () => undefined, error: (message) => errors.push(message) },
  });
});

afterAll(async () => {
  await gateway.close();
});

function lastEvent(): APIGatewayProxyEventV2 {
  const last = seen.at(-1);
  if (last === undefined) throw new Error('the dispatcher was not called');
  return last.event;
}

describe('local gateway', () => {
  it('hands the handler a decoded path parameter, query parameters, cookies and a Lambda context', async () => {
    respond = async () => ({ statusCode: 200, body: '{}' });
    const response = await fetch(`${gateway.url}/v1/packages/langgenius%2Fdemo%3A0.0.1%40abc?x=1&x=2`, {
      headers: { cookie: 'session=s1; theme=dark', 'X-Custom': 'v' },
      signal: AbortSignal.timeout(5_000),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('apigw-requestid')).toBeTruthy();
    const event = lastEvent();
    expect(event).toMatchObject({
      version: '2.0',
      routeKey: 'GET /v1/packages/{unique_identifier}',
      rawPath: '/v1/packages/langgenius%2Fdemo%3A0.0.1%40abc',
      rawQueryString: 'x=1&x=2',
      pathParameters: { unique_identifier: 'langgenius/demo:0.0.1@abc' },
      queryStringParameters: { x: '1,2' },
      cookies: ['session=s1', 'theme=dark'],
      requestContext: { http: { method: 'GET', sourceIp: '127.0.0.1' }, stage: '$default' },
      isBase64Encoded: false,
    });
    expect(event.headers['x-custom']).toBe('v');
    expect(event.headers).not.toHaveProperty('cookie');
    const context = seen.at(-1)?.context;
    expect(context?.functionName).toBe('pluginops-local-catalog-read');
    expect(context?.getRemainingTimeInMillis()).toBeGreaterThan(25_000);
  });

  it('passes JSON bodies as text and binary bodies as base64', async () => {
    respond = async () => ({ statusCode: 201, body: '{}' });
    await fetch(`${gateway.url}/v1/tenants`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"tenant_id":"ü"}',
    });
    expect(lastEvent()).toMatchObject({ body: '{"tenant_id":"ü"}', isBase64Encoded: false });

    const bytes = new Uint8Array([0x50, 0x4b, 0x03, 0x04, 0x00, 0xff]);
    await fetch(`${gateway.url}/v1/packages:raw`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: bytes,
    });
    expect(lastEvent()).toMatchObject({ body: Buffer.from(bytes).toString('base64'), isBase64Encoded: true });
  });

  it('writes status, headers, cookies and base64 bodies from the structured result', async () => {
    respond = async () => ({
      statusCode: 202,
      headers: { 'content-type': 'application/zip', 'x-trace': 't1' },
      cookies: ['a=1; Path=/', 'b=2'],
      body: Buffer.from([1, 2, 3, 250]).toString('base64'),
      isBase64Encoded: true,
    });
    const response = await fetch(`${gateway.url}/v1/health`);
    expect(response.status).toBe(202);
    expect(response.headers.get('x-trace')).toBe('t1');
    expect(response.headers.getSetCookie()).toEqual(['a=1; Path=/', 'b=2']);
    expect([...new Uint8Array(await response.arrayBuffer())]).toEqual([1, 2, 3, 250]);
  });

  it('turns an exception escaping the handler into an opaque 500 problem and logs it', async () => {
    respond = async () => {
      throw new Error('secret internals at /srv/app.ts:12');
    };
    const response = await fetch(`${gateway.url}/v1/health`);
    expect(response.status).toBe(500);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    const text = await response.text();
    expect(JSON.parse(text)).toMatchObject({ type: 'urn:pluginops:problem:internal', status: 500 });
    expect(text).not.toContain('secret');
    expect(errors.at(-1)).toContain('GET /v1/health');
  });

  it('rejects a chunked body once it passes 10 MiB, without a content-length to go by', async () => {
    seen.length = 0;
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${gateway.url}/v1/packages:raw`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream', 'transfer-encoding': 'chunked' },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.setTimeout(10_000, () => req.destroy(new Error('timed out')));
      const chunk = Buffer.alloc(1024 * 1024);
      let sent = 0;
      const write = () => {
        while (sent < 12) {
          sent++;
          if (!req.write(chunk)) {
            req.once('drain', write);
            return;
          }
        }
        req.end();
      };
      write();
    });
    expect(status).toBe(413);
    expect(seen).toHaveLength(0);
  });

  it('answers oversized headers with a 431 problem instead of a bare status line', async () => {
    const response = await fetch(`${gateway.url}/v1/health`, {
      headers: { 'x-filler': 'a'.repeat(20 * 1024) },
      signal: AbortSignal.timeout(10_000),
    });
    expect(response.status).toBe(431);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(await response.json()).toMatchObject({
      type: 'urn:pluginops:problem:headers-too-large',
      status: 431,
    });
  });

  it('lets an in-flight request finish when closing', async () => {
    let arrived: () => void = () => undefined;
    const inFlight = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    const second = await startGateway({
      routes: ROUTES,
      dispatch: async () => {
        arrived();
        await new Promise((resolve) => setTimeout(resolve, 300));
        return { statusCode: 200, body: '"done"' };
      },
      host: '127.0.0.1',
      port: 0,
      logger: { request: () => undefined, error: () => undefined },
    });
    const pending = fetch(`${second.url}/v1/health`).then(async (r) => [r.status, await r.text()]);
    // Close once the request is in the handler (a fixed 50 ms was too short on a busy machine:
    // the request had not arrived, so there was nothing in flight to wait for).
    await inFlight;
    await second.close(5_000);
    expect(await pending).toEqual([200, '"done"']);
  });
});
