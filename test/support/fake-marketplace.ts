/**
 * A local stand-in for a Dify-compatible marketplace (docs/decisions/002-marketplace-protocol.md):
 * `GET {basePath}/api/v1/plugins/download?unique_identifier=<uid>` → 200 raw package bytes,
 * 404 when unknown. With `basePath: '/v1/marketplace'` and a `token` it behaves like an upstream
 * pluginops stage (errors as problem+json, Bearer read key required).
 *
 * `redirectToCdn` answers downloads with a 302 to a second listener (another origin) that refuses
 * requests carrying `Authorization`, the way a presigned CDN/S3 URL does.
 */
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeMarketplaceOptions {
  /** unique identifier → package bytes. Read on every request, so tests may add entries later. */
  packages: Map<string, Buffer>;
  /** When set, requests must carry `Authorization: Bearer <token>`; otherwise 401. */
  token?: string;
  /** Path prefix of the marketplace; `/v1/marketplace` emulates a pluginops stage. Default none. */
  basePath?: string;
  /** Downloads answer 302 to a separate "CDN" listener instead of the bytes. */
  redirectToCdn?: boolean;
}

export interface RecordedMarketplaceRequest {
  method: string;
  /** Raw request target: path and query as received. */
  path: string;
  headers: IncomingHttpHeaders;
  listener: 'marketplace' | 'cdn';
}

export interface FakeMarketplace {
  /** Value for `createMarketplaceClient({ baseUrl })` / `PLUGINOPS_MARKETPLACE_URL`. */
  baseUrl: string;
  requests: RecordedMarketplaceRequest[];
  stop(): Promise<void>;
}

const DOWNLOAD_PATH = '/api/v1/plugins/download';

export async function startFakeMarketplace(options: FakeMarketplaceOptions): Promise<FakeMarketplace> {
  const basePath = (options.basePath ?? '').replace(/\/+$/, '');
  const requests: RecordedMarketplaceRequest[] = [];
  let cdnOrigin = '';

  function handleMarketplace(req: IncomingMessage, res: ServerResponse) {
    const { pathname, searchParams } = new URL(req.url ?? '/', 'http://fake');
    if (pathname !== `${basePath}${DOWNLOAD_PATH}`)
      return sendProblem(res, 404, 'not-found', 'No such route.');
    if (req.method !== 'GET') return sendProblem(res, 405, 'method-not-allowed', 'Use GET.');
    if (options.token !== undefined && req.headers.authorization !== `Bearer ${options.token}`) {
      res.setHeader('www-authenticate', 'Bearer');
      return sendProblem(res, 401, 'unauthorized', 'A valid API key is required.');
    }
    const uid = searchParams.get('unique_identifier');
    if (uid === null || uid === '') {
      return sendProblem(res, 400, 'validation-failed', 'unique_identifier is required.');
    }
    const bytes = options.packages.get(uid);
    if (bytes === undefined) return sendProblem(res, 404, 'not-found', `No package ${uid}.`);
    if (options.redirectToCdn === true) {
      res
        .writeHead(302, { location: `${cdnOrigin}/cdn/${encodeURIComponent(uid)}`, 'content-length': '0' })
        .end();
      return;
    }
    sendPackage(res, uid, bytes);
  }

  function handleCdn(req: IncomingMessage, res: ServerResponse) {
    const { pathname } = new URL(req.url ?? '/', 'http://fake');
    if (req.headers.authorization !== undefined) {
      return sendProblem(res, 400, 'validation-failed', 'The CDN does not accept Authorization headers.');
    }
    const uid = pathname.startsWith('/cdn/') ? decodeURIComponent(pathname.slice('/cdn/'.length)) : '';
    const bytes = options.packages.get(uid);
    if (bytes === undefined) return sendProblem(res, 404, 'not-found', 'No such object.');
    sendPackage(res, uid, bytes);
  }

  const record =
    (
      listener: RecordedMarketplaceRequest['listener'],
      handler: (req: IncomingMessage, res: ServerResponse) => void,
    ) =>
    (req: IncomingMessage, res: ServerResponse) => {
      requests.push({ method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headers, listener });
      handler(req, res);
    };

  const marketplaceServer = createServer(record('marketplace', handleMarketplace));
  const cdnServer = createServer(record('cdn', handleCdn));
  const origin = await listenOnLoopback(marketplaceServer);
  cdnOrigin = await listenOnLoopback(cdnServer);

  return {
    baseUrl: `${origin}${basePath}`,
    requests,
    async stop() {
      await Promise.all([closeServer(marketplaceServer), closeServer(cdnServer)]);
    },
  };
}

function sendPackage(res: ServerResponse, uid: string, bytes: Buffer): void {
  const filename = `${uid.replace(/[^a-zA-Z0-9_.-]+/g, '-')}.difypkg`;
  res.writeHead(200, {
    'content-type': 'application/octet-stream',
    'content-length': String(bytes.length),
    'content-disposition': `attachment; filename="${filename}"`,
  });
  res.end(bytes);
}

function sendProblem(res: ServerResponse, status: number, slug: string, detail: string): void {
  const text = JSON.stringify({ type: `urn:pluginops:problem:${slug}`, title: slug, status, detail });
  res.writeHead(status, {
    'content-type': 'application/problem+json',
    'content-length': String(Buffer.byteLength(text)),
  });
  res.end(text);
}

async function listenOnLoopback(server: Server): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return `http://127.0.0.1:${port}`;
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
