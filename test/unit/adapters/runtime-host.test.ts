/**
 * The runtime port's HTTP probe against a tiny in-test host: what counts as success, how each way
 * a host can be wrong is reported, and that retries stay inside the deadline.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createRuntimeHost,
  type DesiredState,
  PROBE_ATTEMPTS,
  RuntimeHostError,
  type RuntimeHostOptions,
  runtimeHost,
} from '#adapters/runtime-host.ts';
import { resetConfigCache } from '#config/runtime-config.ts';
import { ValidationError } from '#core/errors.ts';

const TENANT = 'acme';
const PLUGIN = 'langgenius/demo';
const V1 = `${PLUGIN}:0.0.1@${'a'.repeat(64)}`;
const V2 = `${PLUGIN}:0.0.2@${'b'.repeat(64)}`;

type Route = (req: IncomingMessage, res: ServerResponse) => void;

const servers: Server[] = [];

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

/** A host that answers every request with `route`, recording the request paths. */
async function host(route: Route): Promise<{ url: string; paths: string[] }> {
  const paths: string[] = [];
  const server = createServer((req, res) => {
    paths.push(req.url ?? '');
    route(req, res);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, paths };
}

const reply =
  (status: number, body?: unknown): Route =>
  (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body));
  };

const report = (uniqueIdentifier: string, status: 'running' | 'failed', extra: object = {}) =>
  reply(200, { plugin_id: PLUGIN, unique_identifier: uniqueIdentifier, status, generation: 3, ...extra });

/** Drops the connection without an answer: a transport error for the client. */
const hangUp: Route = (req) => req.socket.destroy();

const unusedS3 = {
  send: () => Promise.reject(new Error('S3 must not be called')),
} as unknown as S3Client;

function adapter(runtimeUrl: string | undefined, overrides: Partial<RuntimeHostOptions> = {}) {
  return createRuntimeHost({
    runtimeUrl,
    probeTimeoutMs: 2_000,
    s3: unusedS3,
    bucket: 'unused',
    random: () => 0.5,
    ...overrides,
  });
}

describe('probe', () => {
  it('succeeds when the host runs exactly the expected identifier', async () => {
    const fake = await host(report(V2, 'running'));
    const result = await adapter(fake.url).probe(TENANT, PLUGIN, V2);
    expect(result).toEqual({ ok: true, observed: V2, detail: `The plugin host runs ${V2}.` });
    expect(fake.paths).toEqual([`/v1/tenants/${TENANT}/plugins/langgenius/demo`]);
  });

  it('fails with both identifiers when the host still runs the previous version', async () => {
    const fake = await host(report(V1, 'running'));
    const result = await adapter(fake.url).probe(TENANT, PLUGIN, V2);
    expect(result.ok).toBe(false);
    expect(result.observed).toBe(V1);
    expect(result.detail).toBe(
      `The plugin host runs ${V1}, not the expected ${V2}: it did not switch versions.`,
    );
  });

  it('fails with the host error when the expected identifier is reported failed', async () => {
    const fake = await host(report(V2, 'failed', { error: 'package not in the bucket' }));
    const result = await adapter(fake.url).probe(TENANT, PLUGIN, V2);
    expect(result).toEqual({
      ok: false,
      observed: V2,
      detail: `The plugin host reports ${V2} as failed: package not in the bucket`,
    });
  });

  it('fails when a host that never installed the plugin answers 404', async () => {
    const fake = await host(reply(404, { status: 'not_installed' }));
    const result = await adapter(fake.url).probe(TENANT, PLUGIN, V2);
    expect(result.ok).toBe(false);
    expect(result.observed).toBeUndefined();
    expect(result.detail).toContain('never installed the package');
  });

  it('with null succeeds on 404 and fails while the plugin is still reported', async () => {
    const gone = await host(reply(404));
    expect(await adapter(gone.url).probe(TENANT, PLUGIN, null)).toEqual({
      ok: true,
      detail: `${PLUGIN} is not installed on the plugin host, as expected.`,
    });
    const lingering = await host(report(V1, 'running'));
    const result = await adapter(lingering.url).probe(TENANT, PLUGIN, null);
    expect(result).toEqual({
      ok: false,
      observed: V1,
      detail: `${PLUGIN} should be uninstalled, but the plugin host still reports ${V1} (running).`,
    });
  });

  it('fails on an answer for another plugin and on a malformed body', async () => {
    const other = await host(reply(200, { plugin_id: 'x/y', unique_identifier: V2, status: 'running' }));
    expect((await adapter(other.url).probe(TENANT, PLUGIN, V2)).detail).toBe(
      `The plugin host answered for x/y, not ${PLUGIN}.`,
    );
    const garbage = await host(reply(200, 'not json'));
    const result = await adapter(garbage.url).probe(TENANT, PLUGIN, V2);
    expect(result.ok).toBe(false);
    expect(result.detail).toMatch(/^The plugin host answered 200 with a malformed body/);
  });

  it('does not retry an HTTP error status', async () => {
    const fake = await host(reply(503, { error: 'overloaded' }));
    const result = await adapter(fake.url).probe(TENANT, PLUGIN, V2);
    expect(result).toEqual({
      ok: false,
      detail: 'The plugin host answered HTTP 503: {"error":"overloaded"}',
    });
    expect(fake.paths).toHaveLength(1);
  });

  it('fails within the deadline when the host never answers', async () => {
    const fake = await host(() => undefined);
    const started = Date.now();
    const result = await adapter(fake.url).probe(TENANT, PLUGIN, V2, { timeoutMs: 300 });
    const elapsed = Date.now() - started;
    expect(result).toEqual({ ok: false, detail: 'The plugin host did not answer within 300 ms.' });
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(1_500);
    expect(fake.paths).toHaveLength(1);
  });

  it('retries transport errors, then reports the last one', async () => {
    const fake = await host(hangUp);
    const result = await adapter(fake.url).probe(TENANT, PLUGIN, V2);
    expect(result.ok).toBe(false);
    expect(result.detail).toMatch(
      new RegExp(`^The plugin host is unreachable after ${PROBE_ATTEMPTS} attempt\\(s\\): \\S+`),
    );
    expect(fake.paths).toHaveLength(PROBE_ATTEMPTS);
  });

  it('succeeds when a retry gets through', async () => {
    let calls = 0;
    const fake = await host((req, res) => {
      calls += 1;
      if (calls === 1) hangUp(req, res);
      else report(V2, 'running')(req, res);
    });
    expect((await adapter(fake.url).probe(TENANT, PLUGIN, V2)).ok).toBe(true);
    expect(fake.paths).toHaveLength(2);
  });

  it('reports a refused connection (nothing listening) as unreachable', async () => {
    const fake = await host(reply(404));
    const url = fake.url;
    const server = servers.pop();
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    const result = await adapter(url).probe(TENANT, PLUGIN, null);
    expect(result).toEqual({
      ok: false,
      detail: `The plugin host is unreachable after ${PROBE_ATTEMPTS} attempt(s): ECONNREFUSED.`,
    });
  });

  it('stops retrying at the deadline, however slow each failure is', async () => {
    const fake = await host((req, res) => setTimeout(() => hangUp(req, res), 150));
    const started = Date.now();
    const result = await adapter(fake.url, { random: () => 1 }).probe(TENANT, PLUGIN, V2, { timeoutMs: 250 });
    expect(result.ok).toBe(false);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(fake.paths.length).toBeLessThan(PROBE_ATTEMPTS);
  });

  it('encodes the tenant into the path', async () => {
    const fake = await host(reply(404));
    await adapter(fake.url).probe('a b/c', PLUGIN, null);
    expect(fake.paths).toEqual(['/v1/tenants/a%20b%2Fc/plugins/langgenius/demo']);
  });

  it('throws on caller mistakes and on a missing host URL instead of probing', async () => {
    const probe = adapter('http://127.0.0.1:9').probe;
    await expect(probe(TENANT, 'not a plugin id', null)).rejects.toBeInstanceOf(ValidationError);
    await expect(probe(TENANT, PLUGIN, `other/plugin:1.0.0@${'c'.repeat(64)}`)).rejects.toBeInstanceOf(
      ValidationError,
    );
    await expect(adapter(undefined).probe(TENANT, PLUGIN, V1)).rejects.toBeInstanceOf(RuntimeHostError);
  });
});

describe('writeDesiredState', () => {
  const valid: DesiredState = {
    tenant_id: TENANT,
    generation: 1,
    updated_at: '2025-01-01T00:00:00.000Z',
    plugins: [
      {
        plugin_id: PLUGIN,
        unique_identifier: V1,
        package_key: `packages/sha256/${'d'.repeat(64)}.difypkg`,
        sha256: 'd'.repeat(64),
      },
    ],
  };

  it('writes the whole document to runtime/tenants/<t>/desired.json', async () => {
    const sent: Array<{ input: Record<string, unknown> }> = [];
    const s3 = { send: async (command: { input: Record<string, unknown> }) => void sent.push(command) };
    await adapter(undefined, { s3: s3 as unknown as S3Client, bucket: 'b' }).writeDesiredState(valid);
    expect(sent).toHaveLength(1);
    expect(sent[0]?.input).toMatchObject({ Bucket: 'b', Key: `runtime/tenants/${TENANT}/desired.json` });
    expect(JSON.parse(String(sent[0]?.input.Body))).toEqual(valid);
  });

  it('refuses a document the host could not act on, before touching S3', async () => {
    const twice = { ...valid, plugins: [...valid.plugins, ...valid.plugins] };
    const error = await adapter(undefined)
      .writeDesiredState(twice)
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).errors).toEqual([
      { path: 'plugins.1.plugin_id', message: 'listed twice' },
    ]);
    const foreign = { ...valid, plugins: [{ ...valid.plugins[0]!, plugin_id: 'other/plugin' }] };
    await expect(adapter(undefined).writeDesiredState(foreign)).rejects.toBeInstanceOf(ValidationError);
  });
});

describe('runtimeHost', () => {
  it('is one instance per configuration, taking the URL from PLUGINOPS_RUNTIME_URL', async () => {
    const saved = process.env.PLUGINOPS_RUNTIME_URL;
    try {
      const fake = await host(report(V1, 'running'));
      process.env.PLUGINOPS_RUNTIME_URL = `${fake.url}/`;
      resetConfigCache();
      const first = runtimeHost();
      expect(runtimeHost()).toBe(first);
      expect((await first.probe(TENANT, PLUGIN, V1)).ok).toBe(true);
      resetConfigCache();
      expect(runtimeHost()).not.toBe(first);
    } finally {
      if (saved === undefined) delete process.env.PLUGINOPS_RUNTIME_URL;
      else process.env.PLUGINOPS_RUNTIME_URL = saved;
      resetConfigCache();
    }
  });
});
