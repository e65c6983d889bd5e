import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { downloadToFile } from '#adapters/http-download.ts';
import { ProblemError, type ProblemSlug } from '#core/errors.ts';

/** Two loopback listeners = two origins; routes are plain functions per test. */
interface Loopback {
  origin: string;
  seen: Array<{ path: string; headers: IncomingHttpHeaders }>;
  server: Server;
}

type Route = (req: IncomingMessage, res: ServerResponse) => void;

const servers: Server[] = [];
let dir: string;
let dest: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pluginops-download-'));
  dest = join(dir, 'out.bin');
});

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  await rm(dir, { recursive: true, force: true });
});

async function serve(routes: Record<string, Route>): Promise<Loopback> {
  const seen: Loopback['seen'] = [];
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    seen.push({ path, headers: req.headers });
    const route = routes[path];
    if (route === undefined) res.writeHead(404).end();
    else route(req, res);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen, server };
}

const redirectTo =
  (location: () => string): Route =>
  (_req, res) => {
    res.writeHead(302, { location: location() }).end();
  };

async function expectProblem(promise: Promise<unknown>, slug: ProblemSlug): Promise<ProblemError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ProblemError);
  expect((error as ProblemError).slug).toBe(slug);
  return error as ProblemError;
}

const SECRET = 'Bearer s3cr3t-token';

describe('downloadToFile', () => {
  it('streams a multi-chunk body to disk with its size and sha256', async () => {
    const body = randomBytes(3 * 1024 * 1024 + 17);
    const host = await serve({ '/pkg': (_req, res) => res.end(body) });

    const result = await downloadToFile(`${host.origin}/pkg`, dest, { maxBytes: 4 * 1024 * 1024 });

    expect(result).toEqual({ size: body.length, sha256: createHash('sha256').update(body).digest('hex') });
    // Buffer.equals, not toEqual: a deep comparison of 3 MiB took ~2.5 s.
    expect((await readFile(dest)).equals(body)).toBe(true);
  });

  it('keeps credentials on same-origin redirects and drops them for good after another origin', async () => {
    let storage: Loopback | undefined;
    const api = await serve({
      '/start': redirectTo(() => '/moved'),
      '/moved': redirectTo(() => `${storage?.origin}/object`),
      '/back': (_req, res) => res.end('done'),
    });
    storage = await serve({ '/object': redirectTo(() => `${api.origin}/back`) });

    const result = await downloadToFile(`${api.origin}/start`, dest, {
      maxBytes: 1024,
      headers: { Authorization: SECRET, Accept: 'application/octet-stream' },
    });

    expect(result.size).toBe(4);
    expect(api.seen.map((request) => [request.path, request.headers.authorization])).toEqual([
      ['/start', SECRET],
      ['/moved', SECRET],
      ['/back', undefined],
    ]);
    expect(storage.seen[0]?.headers.authorization).toBeUndefined();
    expect(storage.seen[0]?.headers.accept).toBe('application/octet-stream');
  });

  it('stops after the redirect limit', async () => {
    const host = await serve({ '/loop': redirectTo(() => '/loop') });

    const error = await expectProblem(
      downloadToFile(`${host.origin}/loop`, dest, { maxBytes: 1024, maxRedirects: 3 }),
      'upstream-failed',
    );

    expect(error.message).toContain('more than 3 times');
    expect(host.seen).toHaveLength(4);
  });

  it('maps 404 to not-found and 401 to upstream-failed without credentials in the detail', async () => {
    const host = await serve({ '/denied': (_req, res) => res.writeHead(401).end('nope') });

    await expectProblem(downloadToFile(`${host.origin}/missing`, dest, { maxBytes: 1024 }), 'not-found');
    const error = await expectProblem(
      downloadToFile(`${host.origin}/denied?sig=abc`, dest, {
        maxBytes: 1024,
        headers: { Authorization: SECRET },
      }),
      'upstream-failed',
    );

    expect(error.message).toContain('HTTP 401');
    expect(error.message).not.toMatch(/s3cr3t|sig=abc/);
    expect(existsSync(dest)).toBe(false);
  });

  it('refuses URLs with embedded credentials without repeating them', async () => {
    const host = await serve({ '/pkg': (_req, res) => res.end('x') });
    const withUserInfo = host.origin.replace('http://', 'http://user:hunter2@');

    const error = await expectProblem(
      downloadToFile(`${withUserInfo}/pkg`, dest, { maxBytes: 1024 }),
      'upstream-failed',
    );

    expect(error.message).toContain('embedded credentials');
    expect(error.message).not.toContain('hunter2');
    expect(host.seen).toHaveLength(0);
  });

  it('removes the partial file when the body passes the cap, even over an existing file', async () => {
    await writeFile(dest, 'stale');
    const host = await serve({
      '/big': (_req, res) => {
        res.writeHead(200); // chunked: no length to refuse early
        res.end(randomBytes(256 * 1024));
      },
    });

    const error = await expectProblem(
      downloadToFile(`${host.origin}/big`, dest, { maxBytes: 100 * 1024 }),
      'package-too-large',
    );

    expect(error.message).toContain('100 KiB cap');
    expect(error.extensions).toEqual({ max_bytes: 100 * 1024 });
    expect(existsSync(dest)).toBe(false);
  });

  it('rejects with the caller reason when the caller aborts', async () => {
    const host = await serve({ '/slow': () => undefined });
    const controller = new AbortController();
    const reason = new Error('shutting down');
    setTimeout(() => controller.abort(reason), 50);

    const outcome = await downloadToFile(`${host.origin}/slow`, dest, {
      maxBytes: 1024,
      signal: controller.signal,
      timeoutMs: 5_000,
    }).catch((error: unknown) => error);

    expect(outcome).toBe(reason);
  });

  it('lets a local file-system failure through as itself, not as an upstream problem', async () => {
    const host = await serve({ '/pkg': (_req, res) => res.end('x') });

    const outcome = await downloadToFile(`${host.origin}/pkg`, join(dir, 'missing-dir', 'out.bin'), {
      maxBytes: 1024,
    }).catch((error: unknown) => error);

    expect(outcome).not.toBeInstanceOf(ProblemError);
    expect(outcome).toMatchObject({ code: 'ENOENT', syscall: 'open' });
  });

  it('refuses non-http locations', async () => {
    const host = await serve({ '/file': redirectTo(() => 'file:///etc/passwd') });

    const error = await expectProblem(
      downloadToFile(`${host.origin}/file`, dest, { maxBytes: 1024 }),
      'upstream-failed',
    );

    expect(error.message).toContain('only http(s)');
  });
});
