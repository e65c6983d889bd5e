/**
 * The embedded runtime end to end: the shared stack from global-setup.ts for gateway behaviour,
 * and a private stack in a temp dir for drop events and restarts on the same data dir. The private
 * stack uses the run's second DynamoDB Local (`sharedEngineOptions()`), so a restart here restarts
 * the gateway, S3 and the bootstrap key, not the engine: DynamoDB Local's own data surviving an
 * engine restart is test/reliability/restart.test.ts's case (installations, revisions, catalog).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ObjectCreatedEvent } from '#local/drop-events.ts';
import { type LocalStack, startLocalStack } from '#local/stack.ts';
import { api, s3Client, sharedEngineOptions, stackInfo, waitFor } from '#test/support/local-stack.ts';

const PROBLEM_TYPE = 'application/problem+json';

describe('shared local stack', () => {
  it('reports healthy with the local engine endpoints', async () => {
    const info = stackInfo();
    const response = await api('GET', '/v1/health');
    expect(response.status).toBe(200);
    expect(response.json).toEqual({
      status: 'ok',
      local: {
        s3_endpoint: info.s3Endpoint,
        bucket: 'pluginops-local-packages',
        dynamodb_endpoint: info.dynamodbEndpoint,
        data_dir: info.dataDir,
        runtime_url: info.runtimeUrl,
        events_file: expect.stringMatching(/events\.jsonl$/),
      },
    });
  });

  it('answers an unknown route with a not-found problem', async () => {
    const response = await api('GET', '/v1/does-not-exist');
    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toBe(PROBLEM_TYPE);
    expect(response.json).toMatchObject({
      type: 'urn:pluginops:problem:not-found',
      status: 404,
      title: 'Not found',
    });
  });

  it('answers a known path with another method with 405 and Allow', async () => {
    const response = await api('DELETE', '/v1/health');
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('GET');
    expect(response.headers.get('content-type')).toBe(PROBLEM_TYPE);
    expect(response.json).toMatchObject({ type: 'urn:pluginops:problem:method-not-allowed', status: 405 });
  });

  it('rejects a body over 10 MiB with package-too-large before any handler runs', async () => {
    const response = await api('POST', '/v1/packages:raw', {
      key: 'bootstrap',
      body: new Uint8Array(11 * 1024 * 1024),
      timeoutMs: 20_000,
    });
    expect(response.status).toBe(413);
    expect(response.headers.get('content-type')).toBe(PROBLEM_TYPE);
    expect(response.json).toMatchObject({
      type: 'urn:pluginops:problem:package-too-large',
      title: 'Package too large',
      status: 413,
    });
    // The connection and the gateway stay usable.
    expect((await api('GET', '/v1/health')).status).toBe(200);
  });

  it('makes the package bucket reachable with the documented S3 credentials', async () => {
    const s3 = s3Client();
    const key = `uploads/it-${Date.now()}.txt`;
    await s3.send(new PutObjectCommand({ Bucket: stackInfo().bucket, Key: key, Body: 'hello' }));
    const object = await s3.send(new GetObjectCommand({ Bucket: stackInfo().bucket, Key: key }));
    expect(await object.Body?.transformToString()).toBe('hello');
    s3.destroy();
  });

  // Runs once the lead's drop handler exists; until then the private stack below covers the pipeline.
  it.runIf(existsSync(new URL('../../functions/events/drop.ts', import.meta.url)))(
    'writes a drop report for a file dropped under drop/',
    async () => {
      const s3 = s3Client();
      const name = `not-a-package-${Date.now()}.difypkg`;
      await s3.send(
        new PutObjectCommand({ Bucket: stackInfo().bucket, Key: `drop/catalog/${name}`, Body: 'not a zip' }),
      );
      const reportKey = await waitFor(
        async () => {
          const listing = await s3.send(
            new ListObjectsV2Command({ Bucket: stackInfo().bucket, Prefix: 'drop-results/' }),
          );
          return listing.Contents?.find((object) => object.Key?.endsWith(`${name}.json`))?.Key;
        },
        { timeoutMs: 20_000, what: 'the drop report' },
      );
      const report = await s3.send(new GetObjectCommand({ Bucket: stackInfo().bucket, Key: reportKey }));
      expect(JSON.parse((await report.Body?.transformToString()) ?? '{}')).toHaveProperty('status');
      s3.destroy();
    },
  );
});

describe('private local stack', () => {
  let dataDir: string;
  let stack: LocalStack | undefined;
  const dropped: ObjectCreatedEvent[] = [];
  let engine: ReturnType<typeof sharedEngineOptions>;

  const start = (ports: { port: number; s3Port: number }) =>
    startLocalStack({
      dataDir,
      ...ports,
      ...engine,
      quiet: true,
      dropHandler: async (event) => {
        dropped.push(event);
      },
    });

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'pluginops-private-'));
    engine = sharedEngineOptions();
    stack = await start({ port: 0, s3Port: 0 });
  });

  afterAll(async () => {
    await stack?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('generates a bootstrap key once and keeps it in the data dir with mode 0600', async () => {
    if (stack === undefined) throw new Error('stack did not start');
    expect(stack.bootstrapKey).toMatch(/^po_[A-Za-z0-9_-]{43}$/);
    expect(stack.bootstrapKeyCreated).toBe(true);
    expect((await readFile(join(dataDir, 'bootstrap-key'), 'utf8')).trim()).toBe(stack.bootstrapKey);
    expect((await stat(join(dataDir, 'bootstrap-key'))).mode & 0o777).toBe(0o600);
  });

  it('turns an object dropped under drop/ into an S3 "Object Created" event for the drop handler', async () => {
    if (stack === undefined) throw new Error('stack did not start');
    const s3 = s3Client(stack);
    await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: 'uploads/ignored.difypkg', Body: 'x' }));
    await s3.send(
      new PutObjectCommand({ Bucket: stack.bucket, Key: 'drop/catalog/demo.difypkg', Body: 'package bytes' }),
    );
    const event = await waitFor(
      async () => dropped.find((e) => e.detail.object.key === 'drop/catalog/demo.difypkg'),
      {
        timeoutMs: 5_000,
        what: 'the drop event',
      },
    );
    await stack.dropIdle();
    expect(dropped).toHaveLength(1);
    expect(event).toMatchObject({
      version: '0',
      'detail-type': 'Object Created',
      source: 'aws.s3',
      region: 'us-east-1',
      resources: [`arn:aws:s3:::${stack.bucket}`],
      detail: {
        version: '0',
        bucket: { name: stack.bucket },
        object: { key: 'drop/catalog/demo.difypkg', size: 13 },
        reason: 'PutObject',
      },
    });
    expect(event.detail.object.etag).toMatch(/^[0-9a-f]{32}$/);
    s3.destroy();
  });

  it('keeps S3 objects and the bootstrap key across a restart on the same data dir', async () => {
    if (stack === undefined) throw new Error('stack did not start');
    const first = stack;
    const s3 = s3Client(first);
    await s3.send(new PutObjectCommand({ Bucket: first.bucket, Key: 'backups/restart.txt', Body: 'kept' }));
    s3.destroy();

    await first.stop();
    stack = undefined;
    // Same ports, as a second `npm start` would use (handler SDK clients are module-scoped).
    stack = await start({ port: first.port, s3Port: portOf(first.s3Endpoint) });
    expect(stack.bootstrapKey).toBe(first.bootstrapKey);
    expect(stack.bootstrapKeyCreated).toBe(false);

    const s3Again = s3Client(stack);
    const object = await s3Again.send(
      new GetObjectCommand({ Bucket: stack.bucket, Key: 'backups/restart.txt' }),
    );
    expect(await object.Body?.transformToString()).toBe('kept');
    expect((await api('GET', '/v1/health', { baseUrl: stack.baseUrl })).status).toBe(200);
    s3Again.destroy();
  }, 60_000);
});

function portOf(endpoint: string): number {
  return Number(new URL(endpoint).port);
}
