/**
 * A local stand-in for the GitHub REST API that speaks its wire format for the calls pluginops
 * makes: release by tag, release list, asset metadata, and asset download (302 to storage).
 *
 * It listens twice on 127.0.0.1: the API (optionally under a GitHub Enterprise prefix such as
 * `/api/v3`) and a "storage" listener on another port. Another port is another origin, as
 * `objects.githubusercontent.com` is for `api.github.com`, so clients are tested on the rule that
 * matters: the storage URL is presigned and answers 400 when a request also carries
 * `Authorization` (as S3 does), so a client that forwards the API token fails.
 *
 * Like GitHub: a wrong token → 401 "Bad credentials"; no token when one is required → 404 (the
 * repository looks private); unknown repo/release/asset → 404 `{"message":"Not Found",...}`.
 */
import { randomBytes } from 'node:crypto';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeGithubAsset {
  name: string;
  /** The bytes served; a function is called on each download (build large bodies lazily). */
  content: Buffer | (() => Buffer);
  /** `size` reported in the release JSON. Default: the real length. Set lower to lie. */
  declaredSize?: number;
  /**
   * `Content-Length` of the storage response. Default: the real length. `'omit'` sends the body
   * chunked (no length up front); a number is sent as-is, a lie on the wire.
   */
  contentLength?: number | 'omit';
  /** `'headers'`: storage never answers. `'body'`: headers and half the body, then silence. */
  hang?: 'headers' | 'body';
  /** Storage answers this status (e.g. 500) instead of the bytes. */
  storageStatus?: number;
  contentType?: string;
}

export interface FakeGithubRelease {
  /** `owner/name`; matched case-insensitively, as GitHub does. */
  repo: string;
  tag: string;
  assets: FakeGithubAsset[];
}

export interface FakeGithubOptions {
  releases: FakeGithubRelease[];
  /** When set, API calls must send `Authorization: Bearer <token>` (or `token <token>`). */
  token?: string;
  /** API path prefix; `/api/v3` emulates GitHub Enterprise Server. Default: none (github.com). */
  apiPrefix?: string;
}

export interface RecordedRequest {
  method: string;
  /** Raw request target: path and query exactly as received (percent-encoding kept). */
  path: string;
  headers: IncomingHttpHeaders;
  /** Which listener answered it. */
  listener: 'api' | 'storage';
}

export interface FakeGithub {
  /** API base for `createGithubClient({ apiUrl })`, e.g. `http://127.0.0.1:4100/api/v3`. */
  apiUrl: string;
  /** Origin of the storage listener (where asset downloads redirect). */
  storageOrigin: string;
  requests: RecordedRequest[];
  stop(): Promise<void>;
}

interface StoredAsset extends FakeGithubAsset {
  id: number;
  owner: string;
  repoName: string;
  tag: string;
  signature: string;
}

const DOCS = 'https://docs.github.com/rest';
const CREATED_AT = '2025-01-01T00:00:00Z';

export async function startFakeGithub(options: FakeGithubOptions): Promise<FakeGithub> {
  const prefix = (options.apiPrefix ?? '').replace(/\/+$/, '');
  const requests: RecordedRequest[] = [];
  const assetsById = new Map<number, StoredAsset>();
  const releases = options.releases.map((release, releaseIndex) => {
    const [owner = '', repoName = ''] = release.repo.split('/');
    const assets = release.assets.map((asset, assetIndex) => {
      const stored: StoredAsset = {
        ...asset,
        id: (releaseIndex + 1) * 1000 + assetIndex + 1,
        owner,
        repoName,
        tag: release.tag,
        signature: randomBytes(16).toString('hex'),
      };
      assetsById.set(stored.id, stored);
      return stored;
    });
    return { id: releaseIndex + 1, owner, repoName, tag: release.tag, assets };
  });

  let apiOrigin = '';
  let storageOrigin = '';
  const apiBase = () => `${apiOrigin}${prefix}`;

  const assetJson = (asset: StoredAsset) => ({
    url: `${apiBase()}/repos/${asset.owner}/${asset.repoName}/releases/assets/${asset.id}`,
    id: asset.id,
    node_id: `RA_${asset.id}`,
    name: asset.name,
    label: null,
    content_type: asset.contentType ?? 'application/octet-stream',
    state: 'uploaded',
    size: asset.declaredSize ?? bytesOf(asset).length,
    download_count: 0,
    created_at: CREATED_AT,
    updated_at: CREATED_AT,
    browser_download_url: `${apiOrigin}/${asset.owner}/${asset.repoName}/releases/download/${encodeURIComponent(asset.tag)}/${encodeURIComponent(asset.name)}`,
  });
  const releaseJson = (release: (typeof releases)[number]) => ({
    url: `${apiBase()}/repos/${release.owner}/${release.repoName}/releases/${release.id}`,
    html_url: `${apiOrigin}/${release.owner}/${release.repoName}/releases/tag/${encodeURIComponent(release.tag)}`,
    id: release.id,
    tag_name: release.tag,
    name: release.tag,
    draft: false,
    prerelease: false,
    created_at: CREATED_AT,
    published_at: CREATED_AT,
    assets: release.assets.map(assetJson),
  });
  const storageLocation = (asset: StoredAsset) =>
    `${storageOrigin}/storage/${asset.id}/${encodeURIComponent(asset.name)}` +
    `?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=300&X-Amz-Signature=${asset.signature}`;

  const sameRepo = (release: { owner: string; repoName: string }, owner: string, repo: string) =>
    release.owner.toLowerCase() === owner.toLowerCase() &&
    release.repoName.toLowerCase() === repo.toLowerCase();

  function handleApi(req: IncomingMessage, res: ServerResponse) {
    const { pathname, searchParams } = new URL(req.url ?? '/', 'http://fake');
    if (req.method !== 'GET') return sendJson(res, 404, notFound());

    // browser_download_url lives outside the API prefix, on the "github.com" side.
    const browser = matchSegments(pathname, ['*', '*', 'releases', 'download', '*', '*']);
    if (browser !== undefined) {
      const [owner = '', repo = '', tag, name] = browser;
      const asset = [...assetsById.values()].find(
        (candidate) => sameRepo(candidate, owner, repo) && candidate.tag === tag && candidate.name === name,
      );
      if (asset === undefined) return sendJson(res, 404, notFound());
      res.writeHead(302, { location: storageLocation(asset) }).end();
      return;
    }

    if (!pathname.startsWith(`${prefix}/`)) return sendJson(res, 404, notFound());
    const auth = checkToken(req.headers.authorization, options.token);
    if (auth === 'bad') {
      return sendJson(res, 401, { message: 'Bad credentials', documentation_url: DOCS, status: '401' });
    }
    const path = pathname.slice(prefix.length);
    const repoScoped = matchRepoPath(path);
    if (repoScoped === undefined || auth === 'anonymous-private') return sendJson(res, 404, notFound());
    const { owner, repo, rest } = repoScoped;
    const repoReleases = releases.filter((release) => sameRepo(release, owner, repo));
    if (repoReleases.length === 0) return sendJson(res, 404, notFound());

    if (rest[0] === 'releases' && rest[1] === 'tags' && rest.length >= 3) {
      // GitHub takes the tag as one encoded segment; tolerate raw slashes too.
      const tag = rest.slice(2).join('/');
      const release = repoReleases.find((candidate) => candidate.tag === tag);
      return release === undefined
        ? sendJson(res, 404, notFound())
        : sendJson(res, 200, releaseJson(release));
    }
    if (rest[0] === 'releases' && rest.length === 1) {
      const perPage = Math.min(Math.max(Number(searchParams.get('per_page') ?? 30) || 30, 1), 100);
      return sendJson(res, 200, [...repoReleases].reverse().slice(0, perPage).map(releaseJson));
    }
    if (rest[0] === 'releases' && rest[1] === 'assets' && rest.length === 3) {
      const asset = assetsById.get(Number(rest[2]));
      if (asset === undefined || !sameRepo(asset, owner, repo)) return sendJson(res, 404, notFound());
      if ((req.headers.accept ?? '').includes('application/octet-stream')) {
        res.writeHead(302, { location: storageLocation(asset), 'content-length': '0' }).end();
        return;
      }
      return sendJson(res, 200, assetJson(asset));
    }
    return sendJson(res, 404, notFound());
  }

  function handleStorage(req: IncomingMessage, res: ServerResponse) {
    const { pathname, searchParams } = new URL(req.url ?? '/', 'http://fake');
    const match = matchSegments(pathname, ['storage', '*', '*']);
    const asset = match === undefined ? undefined : assetsById.get(Number(match[0]));
    if (asset === undefined || req.method !== 'GET') {
      return sendXml(res, 404, 'NoSuchKey', 'The specified key does not exist.');
    }
    if (req.headers.authorization !== undefined) {
      return sendXml(
        res,
        400,
        'InvalidArgument',
        'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified',
      );
    }
    if (searchParams.get('X-Amz-Signature') !== asset.signature) {
      return sendXml(
        res,
        403,
        'SignatureDoesNotMatch',
        'The request signature we calculated does not match.',
      );
    }
    if (asset.storageStatus !== undefined) {
      return sendXml(res, asset.storageStatus, 'InternalError', 'We encountered an internal error.');
    }
    if (asset.hang === 'headers') return; // never answer; stop() tears the socket down
    const body = bytesOf(asset);
    const headers = {
      'content-type': 'application/octet-stream',
      'content-disposition': `attachment; filename=${asset.name}`,
    };

    if (typeof asset.contentLength === 'number') {
      // A lying Content-Length cannot be produced through ServerResponse; write the wire by hand.
      const socket = res.socket;
      if (socket === null) return;
      socket.write(
        'HTTP/1.1 200 OK\r\n' +
          `content-type: ${headers['content-type']}\r\n` +
          `content-length: ${asset.contentLength}\r\n` +
          'connection: close\r\n\r\n',
      );
      socket.end(body);
      return;
    }
    if (asset.contentLength === 'omit') {
      res.writeHead(200, headers); // no length: Node sends it chunked
    } else {
      res.writeHead(200, { ...headers, 'content-length': String(body.length) });
    }
    if (asset.hang === 'body') {
      res.write(body.subarray(0, Math.floor(body.length / 2)));
      return; // the rest never comes
    }
    res.end(body);
  }

  const record =
    (listener: RecordedRequest['listener'], handler: (req: IncomingMessage, res: ServerResponse) => void) =>
    (req: IncomingMessage, res: ServerResponse) => {
      requests.push({ method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headers, listener });
      handler(req, res);
    };

  const apiServer = createServer(record('api', handleApi));
  const storageServer = createServer(record('storage', handleStorage));
  apiOrigin = await listenOnLoopback(apiServer);
  storageOrigin = await listenOnLoopback(storageServer);

  return {
    apiUrl: apiBase(),
    storageOrigin,
    requests,
    async stop() {
      await Promise.all([closeServer(apiServer), closeServer(storageServer)]);
    },
  };
}

function bytesOf(asset: FakeGithubAsset): Buffer {
  return typeof asset.content === 'function' ? asset.content() : asset.content;
}

function checkToken(
  header: string | undefined,
  required: string | undefined,
): 'ok' | 'bad' | 'anonymous-private' {
  if (header === undefined) return required === undefined ? 'ok' : 'anonymous-private';
  if (required === undefined) return 'ok';
  return header === `Bearer ${required}` || header === `token ${required}` ? 'ok' : 'bad';
}

function matchRepoPath(path: string): { owner: string; repo: string; rest: string[] } | undefined {
  const segments = splitPath(path);
  if (segments === undefined || segments[0] !== 'repos' || segments.length < 4) return undefined;
  const [, owner = '', repo = '', ...rest] = segments;
  return { owner, repo, rest };
}

/** Matches decoded segments against a pattern where `*` captures. */
function matchSegments(pathname: string, pattern: string[]): string[] | undefined {
  const segments = splitPath(pathname);
  if (segments === undefined || segments.length !== pattern.length) return undefined;
  const captured: string[] = [];
  for (const [index, expected] of pattern.entries()) {
    const actual = segments[index] ?? '';
    if (expected === '*') captured.push(actual);
    else if (expected !== actual) return undefined;
  }
  return captured;
}

function splitPath(pathname: string): string[] | undefined {
  try {
    return pathname.split('/').slice(1).map(decodeURIComponent);
  } catch {
    return undefined;
  }
}

function notFound() {
  return { message: 'Not Found', documentation_url: DOCS, status: '404' };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
    'x-github-api-version-selected': '2022-11-28',
  });
  res.end(text);
}

function sendXml(res: ServerResponse, status: number, code: string, message: string): void {
  const text = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`;
  res.writeHead(status, {
    'content-type': 'application/xml',
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
  // Hanging responses keep sockets open; close them or `close` never calls back.
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
