import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMarketplaceClient } from '#adapters/marketplace-client.ts';
import { ProblemError, type ProblemSlug } from '#core/errors.ts';
import {
  type FakeMarketplace,
  type FakeMarketplaceOptions,
  startFakeMarketplace,
} from '#test/support/fake-marketplace.ts';

const UID = `langgenius/openai:0.2.1@${'a1'.repeat(32)}`;
const READ_KEY = 'po_upstreamReadKey123';
const MiB = 1024 * 1024;

let dir: string;
let dest: string;
let fake: FakeMarketplace | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pluginops-marketplace-'));
  dest = join(dir, 'download.difypkg');
});

afterEach(async () => {
  await fake?.stop();
  fake = undefined;
  await rm(dir, { recursive: true, force: true });
});

async function start(options: FakeMarketplaceOptions): Promise<FakeMarketplace> {
  fake = await startFakeMarketplace(options);
  return fake;
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

describe('downloadPackage', () => {
  it("downloads by unique identifier on Dify's path with the identifier URL-encoded", async () => {
    const bytes = randomBytes(20_000);
    const marketplace = await start({ packages: new Map([[UID, bytes]]) });
    const client = createMarketplaceClient({ baseUrl: marketplace.baseUrl });

    const result = await client.downloadPackage(UID, dest, { maxBytes: MiB });

    expect(result).toEqual({ size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
    expect(await readFile(dest)).toEqual(bytes);
    expect(marketplace.requests[0]?.path).toBe(
      `/api/v1/plugins/download?unique_identifier=${encodeURIComponent(UID)}`,
    );
    expect(marketplace.requests[0]?.headers.authorization).toBeUndefined();
  });

  it('reports an unknown identifier as not-found naming it', async () => {
    const marketplace = await start({ packages: new Map() });
    const client = createMarketplaceClient({ baseUrl: marketplace.baseUrl });

    const error = await expectProblem(client.downloadPackage(UID, dest, { maxBytes: MiB }), 'not-found');

    expect(error.message).toContain(UID);
    expect(existsSync(dest)).toBe(false);
  });

  it('reads from an upstream pluginops stage under /v1/marketplace with its read key', async () => {
    const bytes = randomBytes(1000);
    const marketplace = await start({
      packages: new Map([[UID, bytes]]),
      basePath: '/v1/marketplace',
      token: READ_KEY,
    });
    expect(marketplace.baseUrl).toMatch(/\/v1\/marketplace$/);
    const client = createMarketplaceClient({ baseUrl: `${marketplace.baseUrl}/`, token: READ_KEY });

    const result = await client.downloadPackage(UID, dest, { maxBytes: MiB });

    expect(result.size).toBe(bytes.length);
    expect(marketplace.requests[0]?.path).toMatch(/^\/v1\/marketplace\/api\/v1\/plugins\/download\?/);
    expect(marketplace.requests[0]?.headers.authorization).toBe(`Bearer ${READ_KEY}`);
  });

  it.each([
    ['no key', undefined],
    ['a wrong key', 'po_wrongKey'],
  ])('maps %s to upstream-failed without the key in the detail', async (_label, token) => {
    const marketplace = await start({ packages: new Map([[UID, randomBytes(10)]]), token: READ_KEY });
    const client = createMarketplaceClient({ baseUrl: marketplace.baseUrl, token });

    const error = await expectProblem(
      client.downloadPackage(UID, dest, { maxBytes: MiB }),
      'upstream-failed',
    );

    expect(error.message).toContain('HTTP 401');
    expect(JSON.stringify(error.toProblem())).not.toMatch(/po_wrongKey|po_upstreamReadKey/);
  });

  it('follows a CDN redirect without forwarding the key', async () => {
    const bytes = randomBytes(5000);
    const marketplace = await start({
      packages: new Map([[UID, bytes]]),
      token: READ_KEY,
      redirectToCdn: true,
    });
    const client = createMarketplaceClient({ baseUrl: marketplace.baseUrl, token: READ_KEY });

    const result = await client.downloadPackage(UID, dest, { maxBytes: MiB });

    expect(result.size).toBe(bytes.length);
    expect(marketplace.requests.map((request) => [request.listener, request.headers.authorization])).toEqual([
      ['marketplace', `Bearer ${READ_KEY}`],
      ['cdn', undefined],
    ]);
  });

  it('refuses a package over the cap and leaves no file', async () => {
    const marketplace = await start({ packages: new Map([[UID, randomBytes(2 * MiB)]]) });
    const client = createMarketplaceClient({ baseUrl: marketplace.baseUrl });

    await expectProblem(client.downloadPackage(UID, dest, { maxBytes: MiB }), 'package-too-large');

    expect(existsSync(dest)).toBe(false);
  });

  it.each([
    'openai',
    'langgenius/openai:0.2.1',
    `LangGenius/openai:0.2.1@${'a1'.repeat(32)}`,
    `a/b:1.0.0@xyz`,
  ])('rejects the malformed identifier %s before any request', async (uid) => {
    const client = createMarketplaceClient({ baseUrl: 'http://127.0.0.1:9' });

    const error = await expectProblem(
      client.downloadPackage(uid, dest, { maxBytes: MiB }),
      'validation-failed',
    );

    expect(error.errors?.[0]?.path).toBe('unique_identifier');
  });
});
