import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createGithubClient } from '#adapters/github-client.ts';
import { ProblemError, type ProblemSlug } from '#core/errors.ts';
import { type FakeGithub, type FakeGithubOptions, startFakeGithub } from '#test/support/fake-github.ts';

const TOKEN = 'ghp_secretTokenValue1234567890';
const MiB = 1024 * 1024;

let dir: string;
let dest: string;
let fake: FakeGithub | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pluginops-github-'));
  dest = join(dir, 'download.difypkg');
});

afterEach(async () => {
  await fake?.stop();
  fake = undefined;
  await rm(dir, { recursive: true, force: true });
});

async function start(options: FakeGithubOptions): Promise<FakeGithub> {
  fake = await startFakeGithub(options);
  return fake;
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

async function expectProblem(promise: Promise<unknown>, slug: ProblemSlug): Promise<ProblemError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(ProblemError);
  expect((error as ProblemError).slug).toBe(slug);
  return error as ProblemError;
}

const ref = { repo: 'acme/weather', release: 'v1.2.0', asset: 'weather.difypkg' };

describe('downloadReleaseAsset', () => {
  it('downloads the asset bytes with their sha256 and the browser link', async () => {
    const content = randomBytes(64 * 1024);
    const github = await start({
      releases: [{ repo: 'acme/weather', tag: 'v1.2.0', assets: [{ name: 'weather.difypkg', content }] }],
    });
    const client = createGithubClient({ apiUrl: github.apiUrl });

    const result = await client.downloadReleaseAsset(ref, dest, { maxBytes: MiB });

    expect(result).toEqual({
      size: content.length,
      sha256: sha256(content),
      assetUrl: expect.stringMatching(/\/acme\/weather\/releases\/download\/v1\.2\.0\/weather\.difypkg$/),
    });
    expect(await readFile(dest)).toEqual(content);
    const [lookup, assetCall, storage] = github.requests;
    expect(lookup?.path).toBe('/repos/acme/weather/releases/tags/v1.2.0');
    expect(lookup?.headers).toMatchObject({
      accept: 'application/vnd.github+json',
      'x-github-api-version': '2022-11-28',
      'user-agent': 'pluginops',
    });
    expect(assetCall?.path).toMatch(/^\/repos\/acme\/weather\/releases\/assets\/\d+$/);
    expect(assetCall?.headers.accept).toBe('application/octet-stream');
    expect(storage?.listener).toBe('storage');
  });

  it('sends the token to the API origin only, never to the storage redirect', async () => {
    const content = randomBytes(1024);
    const github = await start({
      token: TOKEN,
      releases: [{ repo: 'acme/weather', tag: 'v1.2.0', assets: [{ name: 'weather.difypkg', content }] }],
    });
    const client = createGithubClient({ apiUrl: github.apiUrl, token: TOKEN });

    const result = await client.downloadReleaseAsset(ref, dest, { maxBytes: MiB });

    expect(result.sha256).toBe(sha256(content));
    const api = github.requests.filter((request) => request.listener === 'api');
    const storage = github.requests.filter((request) => request.listener === 'storage');
    expect(api).toHaveLength(2);
    for (const request of api) expect(request.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(storage).toHaveLength(1);
    expect(storage[0]?.headers.authorization).toBeUndefined();
  });

  it('URL-encodes tags that contain "/" into one path segment', async () => {
    const content = randomBytes(100);
    const github = await start({
      releases: [
        { repo: 'acme/weather', tag: 'release/1.0 beta', assets: [{ name: 'weather.difypkg', content }] },
      ],
    });
    const client = createGithubClient({ apiUrl: github.apiUrl });

    const result = await client.downloadReleaseAsset({ ...ref, release: 'release/1.0 beta' }, dest, {
      maxBytes: MiB,
    });

    expect(result.sha256).toBe(sha256(content));
    expect(github.requests[0]?.path).toBe('/repos/acme/weather/releases/tags/release%2F1.0%20beta');
  });

  it('works against a GitHub Enterprise API base (/api/v3)', async () => {
    const content = randomBytes(2048);
    const github = await start({
      apiPrefix: '/api/v3',
      token: TOKEN,
      releases: [{ repo: 'acme/weather', tag: 'v1.2.0', assets: [{ name: 'weather.difypkg', content }] }],
    });
    expect(github.apiUrl).toMatch(/\/api\/v3$/);
    const client = createGithubClient({ apiUrl: `${github.apiUrl}/`, token: TOKEN });

    const result = await client.downloadReleaseAsset(ref, dest, { maxBytes: MiB });

    expect(result.sha256).toBe(sha256(content));
    expect(github.requests[0]?.path).toBe('/api/v3/repos/acme/weather/releases/tags/v1.2.0');
    expect(github.requests[1]?.path).toMatch(/^\/api\/v3\/repos\/acme\/weather\/releases\/assets\/\d+$/);
  });

  it('reports a missing release as not-found and names recent releases', async () => {
    const github = await start({
      releases: [
        { repo: 'acme/weather', tag: 'v1.0.0', assets: [] },
        { repo: 'acme/weather', tag: 'v1.1.0', assets: [] },
      ],
    });
    const client = createGithubClient({ apiUrl: github.apiUrl });

    const error = await expectProblem(client.downloadReleaseAsset(ref, dest, { maxBytes: MiB }), 'not-found');

    expect(error.status).toBe(404);
    expect(error.message).toContain('"v1.2.0"');
    expect(error.message).toContain('Recent releases: v1.1.0, v1.0.0.');
    expect(existsSync(dest)).toBe(false);
  });

  it('reports a missing asset as not-found and lists up to 10 available names', async () => {
    const assets = Array.from({ length: 12 }, (_, index) => ({
      name: `other-${index}.difypkg`,
      content: Buffer.from('x'),
    }));
    const github = await start({ releases: [{ repo: 'acme/weather', tag: 'v1.2.0', assets }] });
    const client = createGithubClient({ apiUrl: github.apiUrl });

    const error = await expectProblem(client.downloadReleaseAsset(ref, dest, { maxBytes: MiB }), 'not-found');

    expect(error.message).toContain('no asset named "weather.difypkg"');
    expect(error.message).toContain('"other-0.difypkg"');
    expect(error.message).toContain('"other-9.difypkg"');
    expect(error.message).not.toContain('other-10');
    expect(error.message).toContain('and 2 more');
  });

  it('refuses a declared size over the cap before downloading anything', async () => {
    const github = await start({
      releases: [
        {
          repo: 'acme/weather',
          tag: 'v1.2.0',
          assets: [{ name: 'weather.difypkg', content: randomBytes(2048) }],
        },
      ],
    });
    const client = createGithubClient({ apiUrl: github.apiUrl });

    const error = await expectProblem(
      client.downloadReleaseAsset(ref, dest, { maxBytes: 1024 }),
      'package-too-large',
    );

    expect(error.status).toBe(413);
    expect(error.message).toContain('1024-byte cap');
    expect(github.requests.map((request) => request.listener)).toEqual(['api']);
    expect(existsSync(dest)).toBe(false);
  });

  it('aborts a chunked body that grows past the cap and leaves no partial file', async () => {
    const github = await start({
      releases: [
        {
          repo: 'acme/weather',
          tag: 'v1.2.0',
          // Declared small, sent without Content-Length: only the streaming count can catch it.
          assets: [
            {
              name: 'weather.difypkg',
              content: () => randomBytes(4 * MiB),
              declaredSize: 10,
              contentLength: 'omit',
            },
          ],
        },
      ],
    });
    const client = createGithubClient({ apiUrl: github.apiUrl });

    const error = await expectProblem(
      client.downloadReleaseAsset(ref, dest, { maxBytes: MiB }),
      'package-too-large',
    );

    expect(error.message).toContain('1 MiB cap');
    expect(existsSync(dest)).toBe(false);
  });

  it('refuses early when Content-Length is over the cap', async () => {
    const github = await start({
      releases: [
        {
          repo: 'acme/weather',
          tag: 'v1.2.0',
          assets: [
            {
              name: 'weather.difypkg',
              content: randomBytes(100),
              declaredSize: 100,
              contentLength: 20 * MiB,
            },
          ],
        },
      ],
    });
    const client = createGithubClient({ apiUrl: github.apiUrl });

    const error = await expectProblem(
      client.downloadReleaseAsset(ref, dest, { maxBytes: MiB }),
      'package-too-large',
    );

    expect(error.message).toContain('20 MiB, over the 1 MiB cap');
    expect(existsSync(dest)).toBe(false);
  });

  it('treats a body that differs from the declared size (under the cap) as an upstream failure', async () => {
    const github = await start({
      releases: [
        {
          repo: 'acme/weather',
          tag: 'v1.2.0',
          assets: [{ name: 'weather.difypkg', content: randomBytes(500), declaredSize: 400 }],
        },
      ],
    });
    const client = createGithubClient({ apiUrl: github.apiUrl });

    const error = await expectProblem(
      client.downloadReleaseAsset(ref, dest, { maxBytes: MiB }),
      'upstream-failed',
    );

    expect(error.message).toContain('sent 500 bytes but declared 400');
    expect(existsSync(dest)).toBe(false);
  });

  it('maps a wrong token to upstream-failed without echoing the token', async () => {
    const github = await start({
      token: TOKEN,
      releases: [
        {
          repo: 'acme/weather',
          tag: 'v1.2.0',
          assets: [{ name: 'weather.difypkg', content: Buffer.from('x') }],
        },
      ],
    });
    const wrong = 'ghp_wrongTokenValue0987654321';
    const client = createGithubClient({ apiUrl: github.apiUrl, token: wrong });

    const error = await expectProblem(
      client.downloadReleaseAsset(ref, dest, { maxBytes: MiB }),
      'upstream-failed',
    );

    expect(error.status).toBe(502);
    expect(error.message).toContain('401');
    expect(JSON.stringify(error.toProblem())).not.toContain(wrong);
    expect(JSON.stringify(error.toProblem())).not.toContain(TOKEN);
  });

  it('reports a private repository read without a token as not-found, hinting at the token', async () => {
    const github = await start({
      token: TOKEN,
      releases: [
        {
          repo: 'acme/weather',
          tag: 'v1.2.0',
          assets: [{ name: 'weather.difypkg', content: Buffer.from('x') }],
        },
      ],
    });
    const client = createGithubClient({ apiUrl: github.apiUrl });

    const error = await expectProblem(client.downloadReleaseAsset(ref, dest, { maxBytes: MiB }), 'not-found');

    expect(error.message).toContain('private');
  });

  it('maps a storage that never answers to upstream-failed within the deadline', async () => {
    const github = await start({
      releases: [
        {
          repo: 'acme/weather',
          tag: 'v1.2.0',
          assets: [{ name: 'weather.difypkg', content: randomBytes(100), hang: 'headers' }],
        },
      ],
    });
    const client = createGithubClient({ apiUrl: github.apiUrl, downloadTimeoutMs: 300 });
    const started = Date.now();

    const error = await expectProblem(
      client.downloadReleaseAsset(ref, dest, { maxBytes: MiB }),
      'upstream-failed',
    );

    expect(error.message).toContain('did not finish within 300 ms');
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(existsSync(dest)).toBe(false);
  });

  it('maps a body that stalls halfway to upstream-failed and removes the partial file', async () => {
    const github = await start({
      releases: [
        {
          repo: 'acme/weather',
          tag: 'v1.2.0',
          assets: [{ name: 'weather.difypkg', content: randomBytes(64 * 1024), hang: 'body' }],
        },
      ],
    });
    const client = createGithubClient({ apiUrl: github.apiUrl, downloadTimeoutMs: 300 });

    const error = await expectProblem(
      client.downloadReleaseAsset(ref, dest, { maxBytes: MiB }),
      'upstream-failed',
    );

    expect(error.message).toContain('did not finish within 300 ms');
    expect(existsSync(dest)).toBe(false);
  });

  it('maps a storage 5xx to upstream-failed without the presigned query in the detail', async () => {
    const github = await start({
      releases: [
        {
          repo: 'acme/weather',
          tag: 'v1.2.0',
          assets: [{ name: 'weather.difypkg', content: randomBytes(10), storageStatus: 503 }],
        },
      ],
    });
    const client = createGithubClient({ apiUrl: github.apiUrl });

    const error = await expectProblem(
      client.downloadReleaseAsset(ref, dest, { maxBytes: MiB }),
      'upstream-failed',
    );

    expect(error.message).toContain('HTTP 503');
    expect(error.message).not.toContain('X-Amz-Signature');
  });

  it('maps an unreachable API to upstream-failed', async () => {
    const github = await start({ releases: [] });
    const { apiUrl } = github;
    await github.stop();
    fake = undefined;
    const client = createGithubClient({ apiUrl });

    const error = await expectProblem(
      client.downloadReleaseAsset(ref, dest, { maxBytes: MiB }),
      'upstream-failed',
    );

    expect(error.message).toContain('ECONNREFUSED');
  });

  it('refuses an asset URL outside the API origin instead of sending it the token', async () => {
    const github = await start({
      token: TOKEN,
      releases: [
        {
          repo: 'acme/weather',
          tag: 'v1.2.0',
          assets: [{ name: 'weather.difypkg', content: Buffer.from('x') }],
        },
      ],
    });
    // A proxy or hostile server that rewrites the asset URL to another host.
    const rewriting: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (!String(input).includes('/releases/tags/')) return response;
      const release = (await response.json()) as { assets: Array<{ url: string }> };
      for (const asset of release.assets) asset.url = 'http://evil.invalid/steal';
      return Response.json(release);
    };
    const client = createGithubClient({ apiUrl: github.apiUrl, token: TOKEN, fetchImpl: rewriting });

    const error = await expectProblem(
      client.downloadReleaseAsset(ref, dest, { maxBytes: MiB }),
      'upstream-failed',
    );

    expect(error.message).toContain('outside the API host');
  });

  it.each([
    [{ ...ref, repo: 'acme' }, 'repo'],
    [{ ...ref, repo: 'acme/../etc' }, 'repo'],
    [{ ...ref, repo: 'acme/wea ther' }, 'repo'],
    [{ ...ref, release: '' }, 'release'],
    [{ ...ref, release: 'v1\n2' }, 'release'],
    [{ ...ref, release: 'v'.repeat(256) }, 'release'],
    [{ ...ref, asset: 'weather.zip' }, 'asset'],
    [{ ...ref, asset: '../weather.difypkg' }, 'asset'],
  ])('rejects invalid input %o with validation-failed on %s', async (badRef, field) => {
    // No server: validation happens before any request.
    const client = createGithubClient({ apiUrl: 'http://127.0.0.1:9' });

    const error = await expectProblem(
      client.downloadReleaseAsset(badRef, dest, { maxBytes: MiB }),
      'validation-failed',
    );

    expect(error.errors?.map((fieldError) => fieldError.path)).toEqual([field]);
  });

  it('accepts .difybndl bundles', async () => {
    const content = randomBytes(300);
    const github = await start({
      releases: [{ repo: 'acme/weather', tag: 'v1.2.0', assets: [{ name: 'weather.difybndl', content }] }],
    });
    const client = createGithubClient({ apiUrl: github.apiUrl });

    const result = await client.downloadReleaseAsset({ ...ref, asset: 'weather.difybndl' }, dest, {
      maxBytes: MiB,
    });

    expect(result.sha256).toBe(sha256(content));
  });
});
