/**
 * The local stand-in for API Gateway (HTTP API): serves the shared route table over `node:http`,
 * builds payload-2.0 events, calls the same dispatcher the Lambda functions export, and enforces
 * the gateway's own behaviour (10 MiB request cap, 404/405, opaque 500s).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type { RouteDefinition } from '#api/routes.ts';
import { ProblemError } from '#core/errors.ts';
import { redactMarketplacePath } from '#core/marketplace/token.ts';
import { problemResponse } from '#shared/http-response.ts';
import { buildApiGatewayEvent, createLambdaContext, createRouteMatcher } from './api-event.ts';
import type { AssetHandler } from './console-assets.ts';

/** API Gateway HTTP API's hard payload limit. */
export const MAX_REQUEST_BODY_BYTES = 10 * 1024 * 1024;
/** API Gateway HTTP API's maximum integration timeout. */
const INTEGRATION_TIMEOUT_MS = 30_000;
/** After a 413 the rest of the upload is read and discarded up to this much, then the socket closes. */
const MAX_DISCARD_BYTES = 64 * 1024 * 1024;

export type ApiDispatcher = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

/** Paths that belong to the API even where no route matches (they answer problems, never the console). */
const API_PREFIXES = ['/v1/', '/marketplace/'];

export interface GatewayLogger {
  /** One access-log line per request; leave it out and no line is built. */
  request?(line: Record<string, unknown>): void;
  error(message: string, error: unknown): void;
}

export interface GatewayOptions {
  routes: readonly RouteDefinition[];
  dispatch: ApiDispatcher;
  host: string;
  port: number;
  logger: GatewayLogger;
  maxBodyBytes?: number;
  /** Static files (the web console) for GET/HEAD that no API route matches; answers `false` to fall through. */
  assets?: AssetHandler;
}

export interface Gateway {
  server: Server;
  port: number;
  url: string;
  /** Stops accepting, lets in-flight requests finish for up to `graceMs`, then drops the rest. */
  close(graceMs?: number): Promise<void>;
}

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const matcher = createRouteMatcher(options.routes);
  const maxBodyBytes = options.maxBodyBytes ?? MAX_REQUEST_BODY_BYTES;
  let inFlight = 0;
  let drained: (() => void) | undefined;

  const accessLog = options.logger.request?.bind(options.logger);
  const server = createServer({ keepAliveTimeout: 5_000 }, (req, res) => {
    inFlight++;
    const started = performance.now();
    const requestId = nextRequestId();
    res.on('close', () => {
      inFlight--;
      accessLog?.({
        method: req.method,
        // Marketplace tokens live in the path: never log them.
        path: redactMarketplacePath((req.url ?? '/').split('?')[0] ?? '/'),
        status: res.statusCode,
        ms: Math.round((performance.now() - started) * 10) / 10,
        requestId,
      });
      if (inFlight === 0) drained?.();
    });
    handleRequest(req, res, requestId).catch((error: unknown) => {
      options.logger.error(`request ${requestId} failed in the gateway`, error);
      if (!res.headersSent) writeProblem(res, new ProblemError('internal', 'Internal error.'), requestId);
      else res.destroy();
    });
  });

  // Malformed requests never reach a handler; answer them as problems too (Node's default is a
  // bare status line). Oversized headers are 431, like API Gateway's own limit.
  server.on('clientError', (error: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return;
    const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
    const problem = tooLarge
      ? new ProblemError('headers-too-large', 'The request headers are too large.')
      : new ProblemError('validation-failed', 'The request is not valid HTTP.');
    const body = JSON.stringify(problem.toProblem());
    socket.end(
      `HTTP/1.1 ${problem.status} ${tooLarge ? 'Request Header Fields Too Large' : 'Bad Request'}\r\n` +
        `content-type: application/problem+json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  });

  async function handleRequest(req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const rawPath = url.split('?')[0] ?? '/';
    const match = matcher.match(method, rawPath);
    // API routes first (/v1/…, and the Dify marketplace protocol under /marketplace/…); the console's
    // files answer only what no route matches.
    if (
      match.kind === 'not-found' &&
      options.assets &&
      !API_PREFIXES.some((prefix) => rawPath.startsWith(prefix)) &&
      (await options.assets(req, res, rawPath))
    ) {
      return;
    }
    if (match.kind === 'not-found') {
      discardBody(req);
      writeProblem(
        res,
        new ProblemError('not-found', `No route matches ${method} ${rawPath}.`),
        requestId,
        rawPath,
      );
      return;
    }
    if (match.kind === 'method-not-allowed') {
      discardBody(req);
      writeProblem(
        res,
        new ProblemError('method-not-allowed', `${method} is not allowed on ${rawPath}.`),
        requestId,
        rawPath,
        { allow: match.allow.join(', ') },
      );
      return;
    }

    const read = readBody(req, maxBodyBytes);
    const body = read instanceof Promise ? await read : read;
    if (body === 'too-large') {
      writeProblem(
        res,
        new ProblemError(
          'package-too-large',
          `The request body exceeds the API limit of ${maxBodyBytes} bytes; upload large packages with POST /v1/uploads.`,
        ),
        requestId,
        rawPath,
      );
      return;
    }

    const now = new Date();
    const event = buildApiGatewayEvent(
      {
        method,
        url,
        headers: req.headersDistinct,
        body,
        sourceIp: normalizeIp(req.socket.remoteAddress),
        protocol: `HTTP/${req.httpVersion}`,
        requestId,
        domainName: 'localhost',
        now,
        localPort: req.socket.localPort ?? 0,
      },
      match.route,
      match.pathParameters,
    );
    const context = createLambdaContext({
      awsRequestId: randomUUID(),
      functionName: `pluginops-local-${match.route.group}`,
      deadline: now.getTime() + INTEGRATION_TIMEOUT_MS,
    });

    let result: APIGatewayProxyStructuredResultV2;
    try {
      result = await options.dispatch(event, context);
    } catch (error) {
      // On AWS an unhandled exception is a Lambda error and the client sees a bare 500.
      options.logger.error(`handler for ${match.route.method} ${match.route.path} threw`, error);
      writeProblem(
        res,
        new ProblemError('internal', 'An unexpected error occurred. It has been logged.'),
        requestId,
        rawPath,
      );
      return;
    }
    writeResult(res, result, requestId);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;

  return {
    server,
    port,
    url: `http://${options.host.includes(':') ? `[${options.host}]` : options.host}:${port}`,
    async close(graceMs = 5_000) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      if (inFlight > 0) {
        const idle = new Promise<void>((resolve) => {
          drained = resolve;
        });
        await Promise.race([idle, new Promise((resolve) => setTimeout(resolve, graceMs).unref())]);
      }
      server.closeAllConnections();
      await closed;
    },
  };
}

const EMPTY_BODY = Buffer.alloc(0);

/** Request ids: 10 random bytes each (like API Gateway's), drawn from a pool filled 256 ids at a time. */
const REQUEST_ID_BYTES = 10;
let idPool = Buffer.alloc(0);
let idOffset = 0;

function nextRequestId(): string {
  if (idOffset + REQUEST_ID_BYTES > idPool.length) {
    idPool = randomBytes(REQUEST_ID_BYTES * 256);
    idOffset = 0;
  }
  const id = idPool.toString('base64url', idOffset, idOffset + REQUEST_ID_BYTES);
  idOffset += REQUEST_ID_BYTES;
  return id;
}

/** Reads the body up to `limit` bytes; past it, stops buffering and discards the remainder. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too-large'> | Buffer {
  const declared = Number(req.headers['content-length'] ?? Number.NaN);
  if (Number.isFinite(declared) && declared > limit) {
    discardBody(req);
    return Promise.resolve('too-large');
  }
  // No body framing (a GET, a HEAD) or a declared empty body: nothing to wait for. The stream is
  // still drained, so the connection stays usable.
  if (declared === 0 || (Number.isNaN(declared) && req.headers['transfer-encoding'] === undefined)) {
    req.resume();
    return EMPTY_BODY;
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > limit) {
        req.off('data', onData);
        chunks.length = 0;
        discardBody(req, received);
        resolve('too-large');
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks, received)));
    req.once('error', reject);
  });
}

function discardBody(req: IncomingMessage, alreadyRead = 0): void {
  let discarded = alreadyRead;
  req.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > MAX_DISCARD_BYTES) req.socket.destroy();
  });
  req.resume();
}

function writeProblem(
  res: ServerResponse,
  error: ProblemError,
  requestId: string,
  instance?: string,
  extraHeaders: Record<string, string> = {},
): void {
  const problem = problemResponse(error, instance);
  problem.headers = { ...problem.headers, ...extraHeaders };
  writeResult(res, problem, requestId);
}

function writeResult(
  res: ServerResponse,
  result: APIGatewayProxyStructuredResultV2,
  requestId: string,
): void {
  // A text body goes out as the string it is: Node then sends head and body in one write, with
  // no intermediate Buffer. Base64 bodies are decoded to bytes.
  const body: string | Buffer =
    result.body === undefined
      ? ''
      : result.isBase64Encoded === true
        ? Buffer.from(result.body, 'base64')
        : result.body;
  const length = typeof body === 'string' ? Buffer.byteLength(body, 'utf8') : body.length;
  for (const [name, value] of Object.entries(result.headers ?? {})) res.setHeader(name, String(value));
  if (result.cookies !== undefined && result.cookies.length > 0) res.setHeader('set-cookie', result.cookies);
  if (!res.hasHeader('content-type') && length > 0) res.setHeader('content-type', 'application/json');
  res.setHeader('apigw-requestid', requestId);
  // A HEAD answer has no body but states the size of what GET would send.
  const headLength = length === 0 ? result.headers?.['content-length'] : undefined;
  res.setHeader('content-length', headLength === undefined ? length : String(headLength));
  res.statusCode = result.statusCode ?? 200;
  if (typeof body === 'string') res.end(body, 'utf8');
  else res.end(body);
}

function normalizeIp(address: string | undefined): string {
  if (address === undefined) return '127.0.0.1';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}
