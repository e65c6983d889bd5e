/**
 * Publishing from external sources. GitHub is stood in for by a local server speaking the
 * releases REST shape; the marketplace is the real thing: the shared test stack plays "dev" and
 * a second stack started here plays "staging", pulling by unique identifier (promotion).
 */

import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalStack } from '#local/stack.ts';
import { startLocalStack } from '#local/stack.ts';
import { createApiClient } from '#test/support/api-client.ts';
import { type FakeGithub, startFakeGithub } from '#test/support/fake-github.ts';
import { sharedEngineOptions, stackInfo } from '#test/support/local-stack.ts';
import { buildPackage } from '#test/support/package-builder.ts';

const run = randomBytes(3).toString('hex');
const dev = stackInfo();
const devCall = createApiClient(dev.baseUrl);
const githubToken = `ghp_${randomBytes(12).toString('hex')}`;

let staging: LocalStack;
let github: FakeGithub;
let dataDir: string;
let stagingCall: ReturnType<typeof createApiClient>;
let releaseBytes: Buffer;

beforeAll(async () => {
  if (process.env.PLUGINOPS_TEST_LOGS !== '1') process.env.PLUGINOPS_LOG_LEVEL ??= 'WARN';
  releaseBytes = await buildPackage({
    manifest: { author: `gh${run}`, name: 'tool', version: '1.4.0' } as never,
  });
  github = await startFakeGithub({
    token: githubToken,
    releases: [
      { repo: `acme/tool-${run}`, tag: 'v1.4.0', assets: [{ name: 'tool.difypkg', content: releaseBytes }] },
    ],
  });
  const devReader = await devCall('POST', '/v1/tenants', {
    key: dev.bootstrapKey,
    json: { tenant_id: `mk-${run}` },
  });
  expect(devReader.status).toBe(201);
  const readKey = await devCall('POST', `/v1/tenants/mk-${run}/keys`, {
    key: dev.bootstrapKey,
    json: { scopes: ['read'] },
  });
  process.env.PLUGINOPS_GITHUB_API_URL = github.apiUrl;
  process.env.PLUGINOPS_GITHUB_TOKEN = githubToken;
  process.env.PLUGINOPS_MARKETPLACE_URL = `${dev.baseUrl}/v1/marketplace`;
  process.env.PLUGINOPS_MARKETPLACE_TOKEN = readKey.body.key;
  dataDir = await mkdtemp(join(tmpdir(), 'pluginops-staging-'));
  staging = await startLocalStack({
    dataDir,
    ...sharedEngineOptions('staging'),
    port: 0,
    s3Port: 0,
    quiet: true,
  });
  stagingCall = createApiClient(staging.baseUrl);
}, 60_000);

afterAll(async () => {
  await staging?.stop();
  await github?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('GitHub release source', () => {
  it('publishes a release asset and sends the token only to the API', async () => {
    const response = await stagingCall('POST', '/v1/packages', {
      key: staging.bootstrapKey,
      json: { source: 'github', repo: `acme/tool-${run}`, release: 'v1.4.0', asset: 'tool.difypkg' },
    });
    expect(response.status).toBe(201);
    expect(response.body.plugin_id).toBe(`gh${run}/tool`);
    expect(response.body.source).toEqual({
      type: 'github',
      repo: `acme/tool-${run}`,
      release: 'v1.4.0',
      asset: 'tool.difypkg',
    });
    const storageCalls = github.requests.filter((r) => r.listener === 'storage');
    expect(storageCalls.length).toBeGreaterThan(0);
    expect(storageCalls.every((r) => r.headers.authorization === undefined)).toBe(true);
  });

  it('answers 404 naming the assets when the asset is missing', async () => {
    const response = await stagingCall('POST', '/v1/packages', {
      key: staging.bootstrapKey,
      json: { source: 'github', repo: `acme/tool-${run}`, release: 'v1.4.0', asset: 'other.difypkg' },
    });
    expect(response.status).toBe(404);
    expect(response.body.detail).toContain('tool.difypkg');
  });
});

describe('marketplace source (promotion from another stage)', () => {
  it('pulls the exact package by unique identifier from the upstream stage', async () => {
    const bytes = await buildPackage({
      manifest: { author: `mk${run}`, name: 'promoted', version: '3.1.0' } as never,
    });
    const published = await devCall('POST', '/v1/packages:raw', {
      key: dev.bootstrapKey,
      body: bytes,
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(published.status).toBe(201);
    const uid = published.body.unique_identifier as string;
    const promoted = await stagingCall('POST', '/v1/packages', {
      key: staging.bootstrapKey,
      json: { source: 'marketplace', unique_identifier: uid },
    });
    expect(promoted.status, JSON.stringify(promoted.body)).toBe(201);
    expect(promoted.body.unique_identifier).toBe(uid);
    expect(promoted.body.sha256).toBe(published.body.sha256);
    expect(promoted.body.source).toMatchObject({ type: 'marketplace', unique_identifier: uid });
  });

  it('answers 404 for an identifier the upstream does not have', async () => {
    const missing = `mk${run}/ghost:1.0.0@${'0'.repeat(64)}`;
    const response = await stagingCall('POST', '/v1/packages', {
      key: staging.bootstrapKey,
      json: { source: 'marketplace', unique_identifier: missing },
    });
    expect(response.status).toBe(404);
  });
});
