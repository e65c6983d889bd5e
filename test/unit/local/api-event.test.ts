import { describe, expect, it } from 'vitest';
import { ROUTES } from '#api/routes.ts';
import {
  buildApiGatewayEvent,
  createLambdaContext,
  createRouteMatcher,
  formatRequestTime,
  type GatewayRequest,
  isTextualContentType,
  parseQueryStringParameters,
} from '#local/api-event.ts';

const matcher = createRouteMatcher(ROUTES);
const NOW = new Date('2026-03-12T19:03:58.123Z');

function request(overrides: Partial<GatewayRequest> = {}): GatewayRequest {
  return {
    method: 'GET',
    url: '/v1/health',
    headers: { host: ['127.0.0.1:8787'], 'user-agent': ['vitest'] },
    body: Buffer.alloc(0),
    sourceIp: '127.0.0.1',
    protocol: 'HTTP/1.1',
    requestId: 'req-1',
    domainName: 'localhost',
    now: NOW,
    localPort: 8787,
    ...overrides,
  };
}

describe('createRouteMatcher', () => {
  it('URL-decodes a {param} segment, so an encoded unique identifier arrives whole', () => {
    const match = matcher.match('GET', '/v1/packages/langgenius%2Fdemo%3A0.0.1%40abc123');
    expect(match).toMatchObject({
      kind: 'matched',
      route: { path: '/v1/packages/{unique_identifier}' },
      pathParameters: { unique_identifier: 'langgenius/demo:0.0.1@abc123' },
    });
  });

  it('treats packages:raw as a literal route, not a parameter', () => {
    const match = matcher.match('POST', '/v1/packages:raw');
    expect(match).toMatchObject({
      kind: 'matched',
      route: { handler: 'packages-publish-raw' },
      pathParameters: {},
    });
  });

  it('matches several parameters', () => {
    expect(matcher.match('GET', '/v1/plugins/langgenius/openai/versions')).toMatchObject({
      kind: 'matched',
      pathParameters: { author: 'langgenius', name: 'openai' },
    });
  });

  it('reports the allowed methods of a known path', () => {
    expect(matcher.match('DELETE', '/v1/signers')).toEqual({
      kind: 'method-not-allowed',
      allow: ['GET', 'POST'],
    });
  });

  it('does not match empty segments, extra segments or a trailing slash', () => {
    expect(matcher.match('GET', '/v1/tenants/')).toEqual({ kind: 'not-found' });
    expect(matcher.match('GET', '/v1/health/extra')).toEqual({ kind: 'not-found' });
    expect(matcher.match('GET', '/v1/health/')).toEqual({ kind: 'not-found' });
  });

  it('prefers literal segments over parameters and supports greedy {proxy+}', () => {
    const custom = createRouteMatcher([
      { method: 'GET', path: '/files/{proxy+}', handler: 'a', group: 'public', summary: '' },
      { method: 'GET', path: '/files/{name}', handler: 'b', group: 'public', summary: '' },
      { method: 'GET', path: '/files/index', handler: 'c', group: 'public', summary: '' },
    ]);
    expect(custom.match('GET', '/files/index')).toMatchObject({ route: { handler: 'c' } });
    expect(custom.match('GET', '/files/x')).toMatchObject({ route: { handler: 'b' } });
    expect(custom.match('GET', '/files/a/b%20c')).toMatchObject({
      route: { handler: 'a' },
      pathParameters: { proxy: 'a/b c' },
    });
  });
});

describe('buildApiGatewayEvent', () => {
  it('builds a payload 2.0 event like API Gateway', () => {
    const event = buildApiGatewayEvent(
      request({
        url: '/v1/plugins?q=open%20ai&author=a&author=b',
        headers: {
          host: ['127.0.0.1:8787'],
          'user-agent': ['vitest'],
          Accept: ['application/json', 'text/plain'],
          cookie: ['a=1; b=2'],
        },
      }),
      { method: 'GET', path: '/v1/plugins' },
      {},
    );
    expect(event).toEqual({
      version: '2.0',
      routeKey: 'GET /v1/plugins',
      rawPath: '/v1/plugins',
      rawQueryString: 'q=open%20ai&author=a&author=b',
      cookies: ['a=1', 'b=2'],
      headers: {
        host: '127.0.0.1:8787',
        'user-agent': 'vitest',
        accept: 'application/json,text/plain',
        'x-forwarded-for': '127.0.0.1',
        'x-forwarded-proto': 'http',
        'x-forwarded-port': '8787',
      },
      queryStringParameters: { q: 'open ai', author: 'a,b' },
      requestContext: {
        accountId: 'local',
        apiId: 'local',
        domainName: '127.0.0.1',
        domainPrefix: 'local',
        http: {
          method: 'GET',
          path: '/v1/plugins',
          protocol: 'HTTP/1.1',
          sourceIp: '127.0.0.1',
          userAgent: 'vitest',
        },
        requestId: 'req-1',
        routeKey: 'GET /v1/plugins',
        stage: '$default',
        time: '12/Mar/2026:19:03:58 +0000',
        timeEpoch: NOW.getTime(),
      },
      isBase64Encoded: false,
    });
  });

  it('omits optional members when empty and keeps path parameters', () => {
    const event = buildApiGatewayEvent(
      request({ url: '/v1/tenants/t1' }),
      { method: 'GET', path: '/v1/tenants/{tenant_id}' },
      {
        tenant_id: 't1',
      },
    );
    expect(event.pathParameters).toEqual({ tenant_id: 't1' });
    expect(event).not.toHaveProperty('body');
    expect(event).not.toHaveProperty('cookies');
    expect(event).not.toHaveProperty('queryStringParameters');
    expect(event.rawQueryString).toBe('');
  });

  it('passes textual bodies as UTF-8 and binary bodies as base64', () => {
    const json = buildApiGatewayEvent(
      request({
        method: 'POST',
        headers: { 'content-type': ['application/json; charset=utf-8'] },
        body: Buffer.from('{"name":"é"}'),
      }),
      { method: 'POST', path: '/v1/tenants' },
      {},
    );
    expect(json).toMatchObject({ body: '{"name":"é"}', isBase64Encoded: false });

    const bytes = Buffer.from([0x50, 0x4b, 0x03, 0x04, 0xff]);
    const binary = buildApiGatewayEvent(
      request({ method: 'POST', headers: { 'content-type': ['application/octet-stream'] }, body: bytes }),
      { method: 'POST', path: '/v1/packages:raw' },
      {},
    );
    expect(binary).toMatchObject({ body: bytes.toString('base64'), isBase64Encoded: true });
  });
});

describe('content types', () => {
  it.each([
    ['application/json', true],
    ['application/problem+json', true],
    ['application/vnd.api+json; charset=utf-8', true],
    ['text/plain', true],
    ['application/yaml', true],
    ['application/x-www-form-urlencoded', true],
    ['application/octet-stream', false],
    ['application/zip', false],
    ['multipart/form-data; boundary=x', false],
    [undefined, false],
  ])('%s is textual: %s', (type, textual) => {
    expect(isTextualContentType(type)).toBe(textual);
  });
});

describe('small helpers', () => {
  it('joins repeated query parameters with commas and decodes them', () => {
    expect(parseQueryStringParameters('a=1&a=2&b=x%2By&c')).toEqual({ a: '1,2', b: 'x+y', c: '' });
    expect(parseQueryStringParameters('')).toBeUndefined();
  });

  it('formats the request time like API Gateway', () => {
    expect(formatRequestTime(new Date('2026-01-05T03:04:05Z'))).toBe('05/Jan/2026:03:04:05 +0000');
  });

  it('counts down the remaining time of a Lambda context', () => {
    let now = 1_000;
    const context = createLambdaContext({
      awsRequestId: 'id',
      functionName: 'pluginops-local-public',
      deadline: 31_000,
      now: () => now,
    });
    expect(context.getRemainingTimeInMillis()).toBe(30_000);
    now = 40_000;
    expect(context.getRemainingTimeInMillis()).toBe(0);
    expect(context.invokedFunctionArn).toBe(
      'arn:aws:lambda:us-east-1:000000000000:function:pluginops-local-public',
    );
  });
});
