/**
 * Pure mapping from an HTTP request to what API Gateway (HTTP API, payload format 2.0) hands a
 * Lambda function: route matching against the shared route table, the v2 event and a Lambda-like
 * context. No sockets here, so the mapping is unit-tested on its own.
 */
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import type { RouteDefinition } from '#api/routes.ts';

export type RouteMatch =
  | { kind: 'matched'; route: RouteDefinition; pathParameters: Record<string, string> }
  | { kind: 'method-not-allowed'; allow: string[] }
  | { kind: 'not-found' };

/** One compiled route path, segment by segment (literal or `{param}` / `{param+}`). */
interface CompiledRoute {
  route: RouteDefinition;
  segments: Array<{ literal: string } | { param: string; greedy: boolean }>;
  /** Number of literal segments: more literals = more specific, as API Gateway prefers. */
  specificity: number;
  /** Greedy `{param+}` routes lose to any other match, as on API Gateway. */
  greedy: boolean;
}

export interface RouteMatcher {
  match(method: string, rawPath: string): RouteMatch;
}

/**
 * Builds a matcher over `routes`. `{param}` matches exactly one non-empty segment (URL-decoded into
 * `pathParameters`), `{param+}` the rest of the path; every other segment is compared literally,
 * so `/v1/packages:raw` is its own route.
 */
export function createRouteMatcher(routes: readonly RouteDefinition[]): RouteMatcher {
  const compiled: CompiledRoute[] = routes.map((route) => {
    const segments = route.path
      .split('/')
      .slice(1)
      .map((segment) => {
        const param = /^\{([A-Za-z0-9_]+)(\+?)\}$/.exec(segment);
        if (param?.[1] !== undefined) return { param: param[1], greedy: param[2] === '+' };
        return { literal: segment };
      });
    return {
      route,
      segments,
      specificity: segments.filter((s) => 'literal' in s).length,
      greedy: segments.some((s) => 'greedy' in s && s.greedy),
    };
  });
  compiled.sort((a, b) => Number(a.greedy) - Number(b.greedy) || b.specificity - a.specificity);

  return {
    match(method, rawPath) {
      const raw = rawPath.split('/').slice(1);
      // Each segment is decoded once per request, not once per candidate route.
      const decoded = raw.map(safeDecode);
      let allow: Set<string> | undefined;
      for (const candidate of compiled) {
        // Only a greedy route can match a path of another length.
        if (!candidate.greedy && candidate.segments.length !== raw.length) continue;
        const pathParameters = matchSegments(candidate.segments, raw, decoded);
        if (pathParameters === undefined) continue;
        if (candidate.route.method === method) {
          return { kind: 'matched', route: candidate.route, pathParameters };
        }
        allow ??= new Set();
        allow.add(candidate.route.method);
      }
      if (allow !== undefined) return { kind: 'method-not-allowed', allow: [...allow].sort() };
      return { kind: 'not-found' };
    },
  };
}

/** `raw` are the request's path segments as sent, `decoded` the same URL-decoded. */
function matchSegments(
  pattern: CompiledRoute['segments'],
  raw: readonly string[],
  decoded: readonly string[],
): Record<string, string> | undefined {
  const parameters: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const expected = pattern[i];
    const actual = decoded[i];
    if (expected === undefined || actual === undefined) return undefined;
    if ('literal' in expected) {
      if (actual !== expected.literal) return undefined;
      continue;
    }
    if (expected.greedy) {
      const rest = raw.slice(i).join('/');
      if (rest === '') return undefined;
      parameters[expected.param] = safeDecode(rest);
      return parameters;
    }
    if (raw[i] === '') return undefined;
    parameters[expected.param] = actual;
  }
  return raw.length === pattern.length ? parameters : undefined;
}

/** Malformed percent-encoding is passed through as sent rather than failing the request. */
function safeDecode(value: string): string {
  if (!value.includes('%')) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

const TEXTUAL_CONTENT_TYPE =
  /^(text\/[^;]+|application\/([a-z0-9.+-]+\+)?(json|yaml|x-yaml|xml|javascript|x-www-form-urlencoded)|[a-z]+\/[a-z0-9.-]+\+(json|xml|yaml))\s*(;|$)/i;

/**
 * Whether API Gateway would pass a body of this type as text. Everything else (octet-stream,
 * zip, multipart, or no type at all) arrives base64-encoded with `isBase64Encoded: true`.
 */
export function isTextualContentType(contentType: string | undefined): boolean {
  return contentType !== undefined && TEXTUAL_CONTENT_TYPE.test(contentType.trim());
}

export interface GatewayRequest {
  method: string;
  /** Request target as sent: path plus optional `?query`. */
  url: string;
  /** Header name → every value received for it (Node's `headersDistinct`). */
  headers: Record<string, string[] | undefined>;
  body: Buffer;
  sourceIp: string;
  /** e.g. `HTTP/1.1`. */
  protocol: string;
  requestId: string;
  /** Host name reported as `requestContext.domainName` when no Host header is present. */
  domainName: string;
  now: Date;
  localPort: number;
}

export interface SplitTarget {
  rawPath: string;
  rawQueryString: string;
}

export function splitRequestTarget(url: string): SplitTarget {
  const queryStart = url.indexOf('?');
  const rawPath = queryStart === -1 ? url : url.slice(0, queryStart);
  const rawQueryString = queryStart === -1 ? '' : url.slice(queryStart + 1);
  return { rawPath: rawPath === '' ? '/' : rawPath, rawQueryString };
}

/** API Gateway decodes query parameters and joins repeated names with a comma. */
export function parseQueryStringParameters(rawQueryString: string): Record<string, string> | undefined {
  if (rawQueryString === '') return undefined;
  const parameters: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(rawQueryString)) {
    const previous = parameters[name];
    parameters[name] = previous === undefined ? value : `${previous},${value}`;
  }
  return Object.keys(parameters).length === 0 ? undefined : parameters;
}

/**
 * Maps a request onto the payload format 2.0 event. As on AWS: header names are lower case and
 * repeats are comma-joined, the `cookie` header moves to `cookies`, `x-forwarded-*` are added,
 * and optional members are absent rather than empty.
 */
export function buildApiGatewayEvent(
  request: GatewayRequest,
  route: Pick<RouteDefinition, 'method' | 'path'>,
  pathParameters: Record<string, string>,
): APIGatewayProxyEventV2 {
  const { rawPath, rawQueryString } = splitRequestTarget(request.url);
  const headers: Record<string, string> = {};
  let cookies: string[] | undefined;
  for (const [name, values] of Object.entries(request.headers)) {
    if (values === undefined || values.length === 0) continue;
    const lower = name.toLowerCase();
    if (lower === 'cookie') {
      cookies = values
        .flatMap((value) => value.split(';'))
        .map((cookie) => cookie.trim())
        .filter((cookie) => cookie !== '');
      continue;
    }
    headers[lower] = values.join(',');
  }
  headers['x-forwarded-for'] = headers['x-forwarded-for']
    ? `${headers['x-forwarded-for']}, ${request.sourceIp}`
    : request.sourceIp;
  headers['x-forwarded-proto'] = 'http';
  headers['x-forwarded-port'] = String(request.localPort);

  const routeKey = `${route.method} ${route.path}`;
  const event: APIGatewayProxyEventV2 = {
    version: '2.0',
    routeKey,
    rawPath,
    rawQueryString,
    headers,
    requestContext: {
      accountId: 'local',
      apiId: 'local',
      domainName: (headers.host ?? request.domainName).replace(/:\d+$/, ''),
      domainPrefix: 'local',
      http: {
        method: request.method,
        path: rawPath,
        protocol: request.protocol,
        sourceIp: request.sourceIp,
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: request.requestId,
      routeKey,
      stage: '$default',
      time: formatRequestTime(request.now),
      timeEpoch: request.now.getTime(),
    },
    isBase64Encoded: false,
  };
  if (cookies !== undefined && cookies.length > 0) event.cookies = cookies;
  const queryStringParameters = parseQueryStringParameters(rawQueryString);
  if (queryStringParameters !== undefined) event.queryStringParameters = queryStringParameters;
  if (Object.keys(pathParameters).length > 0) event.pathParameters = pathParameters;
  if (request.body.length > 0) {
    if (isTextualContentType(headers['content-type'])) {
      event.body = request.body.toString('utf8');
    } else {
      event.body = request.body.toString('base64');
      event.isBase64Encoded = true;
    }
  }
  return event;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** API Gateway's CLF-style request time, e.g. `12/Mar/2020:19:03:58 +0000`. */
export function formatRequestTime(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return (
    `${pad(date.getUTCDate())}/${MONTHS[date.getUTCMonth()]}/${date.getUTCFullYear()}:` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000`
  );
}

export interface LambdaContextOptions {
  awsRequestId: string;
  functionName: string;
  /** Epoch milliseconds at which the simulated invocation times out. */
  deadline: number;
  memoryLimitInMB?: number;
  region?: string;
  now?: () => number;
}

/** A Lambda `Context` for in-process invocations (the deprecated callbacks are inert). */
export function createLambdaContext(options: LambdaContextOptions): Context {
  const now = options.now ?? Date.now;
  const region = options.region ?? 'us-east-1';
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: options.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${region}:000000000000:function:${options.functionName}`,
    memoryLimitInMB: String(options.memoryLimitInMB ?? 1024),
    awsRequestId: options.awsRequestId,
    logGroupName: `/aws/lambda/${options.functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, options.deadline - now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
