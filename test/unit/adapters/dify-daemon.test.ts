/**
 * The daemon client adapter against the daemon stand-in over real HTTP: install, upgrade,
 * uninstall, the daemon's rules (identifiers no-op, declarations deleted when unused), and every
 * failure (error envelope, failed/hung task, wrong identifier, dropped and refused connections)
 * as a `runtime-failed` problem carrying the daemon's message. The stand-in itself is checked to
 * refuse requests the real controllers would not bind.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createDifyDaemonRuntime, DifyDaemonError, type PluginRuntime } from '#adapters/dify-daemon.ts';
import { byteSourceFromBuffer } from '#core/package/byte-source.ts';
import { inspectPackage } from '#core/package/inspect.ts';
import { type DifyDaemon, startDifyDaemon } from '#local/dify-daemon.ts';
import { buildPackage } from '#test/support/package-builder.ts';

const KEY = 'daemon-server-key-for-tests';
let daemon: DifyDaemon;
let runtime: PluginRuntime;

interface Built {
  uid: string;
  unique_identifier: string;
  bytes: Buffer;
  loadBytes: () => Promise<Uint8Array>;
  loads: number;
}

async function build(name: string, version: string): Promise<Built> {
  const bytes = await buildPackage({
    manifest: { author: 'acme', name, version, meta: { version } } as never,
  });
  const inspected = await inspectPackage(byteSourceFromBuffer(bytes), { keyring: [] });
  const built: Built = {
    uid: inspected.uniqueIdentifier,
    unique_identifier: inspected.uniqueIdentifier,
    bytes,
    loads: 0,
    loadBytes: async () => {
      built.loads += 1;
      return bytes;
    },
  };
  return built;
}

const listed = (tenant: string) => daemon.list(tenant).map((item) => item.plugin_unique_identifier);

beforeAll(async () => {
  daemon = await startDifyDaemon({ apiKey: KEY, taskDelayMs: 5 });
  runtime = createDifyDaemonRuntime({ url: daemon.url, apiKey: KEY, taskTimeoutMs: 2_000, pollDelayMs: 5 });
});
afterAll(async () => {
  await daemon.stop();
});
beforeEach(() => daemon.clearFaults());

describe('converge', () => {
  it('installs, upgrades, goes back to a version the daemon deleted, and uninstalls', async () => {
    const tenant = randomUUID();
    const v1 = await build('weather', '1.0.0');
    const v2 = await build('weather', '1.1.0');

    await runtime.converge(tenant, 'acme/weather', v1);
    expect(listed(tenant)).toEqual([v1.uid]);
    expect(await runtime.probe(tenant, 'acme/weather', v1.uid)).toMatchObject({ ok: true, observed: v1.uid });

    // install/identifiers would answer all_installed and change nothing: this must be an upgrade.
    await runtime.converge(tenant, 'acme/weather', v2);
    expect(listed(tenant)).toEqual([v2.uid]);
    expect(await runtime.probe(tenant, 'acme/weather', v1.uid)).toMatchObject({
      ok: false,
      observed: v2.uid,
    });

    // v1's declaration was deleted when no installation used it: going back re-uploads it.
    const loadsBefore = v1.loads;
    await runtime.converge(tenant, 'acme/weather', v1);
    expect(listed(tenant)).toEqual([v1.uid]);
    expect(v1.loads).toBe(loadsBefore + 1);

    // A retry finds the daemon already there and sends nothing but a list.
    const loads = v1.loads;
    await runtime.converge(tenant, 'acme/weather', v1);
    expect(v1.loads).toBe(loads);

    await runtime.converge(tenant, 'acme/weather', null);
    expect(listed(tenant)).toEqual([]);
    expect(await runtime.probe(tenant, 'acme/weather', null)).toMatchObject({ ok: true });
    await runtime.converge(tenant, 'acme/weather', null);
  });

  it('keeps tenants apart', async () => {
    const a = randomUUID();
    const b = randomUUID();
    const v1 = await build('apart', '1.0.0');
    await runtime.converge(a, 'acme/apart', v1);
    expect(listed(a)).toEqual([v1.uid]);
    expect(listed(b)).toEqual([]);
    expect((await runtime.list(b)).length).toBe(0);
  });

  it('fails with the daemon message when the install task fails, leaving nothing installed', async () => {
    const tenant = randomUUID();
    const v1 = await build('broken', '1.0.0');
    daemon.addFault({
      mode: 'task-fails',
      unique_identifier: v1.uid,
      message: 'failed to init environment: pip exit 1',
    });
    const error = await runtime.converge(tenant, 'acme/broken', v1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DifyDaemonError);
    expect((error as DifyDaemonError).toProblem()).toMatchObject({
      type: 'urn:pluginops:problem:runtime-failed',
      detail: expect.stringContaining('failed to init environment: pip exit 1'),
    });
    expect(listed(tenant)).toEqual([]);
  });

  it('gives up on a task that never ends, within the deadline', async () => {
    const tenant = randomUUID();
    const v1 = await build('hangs', '1.0.0');
    daemon.addFault({ mode: 'task-hangs', unique_identifier: v1.uid });
    const short = createDifyDaemonRuntime({
      url: daemon.url,
      apiKey: KEY,
      taskTimeoutMs: 200,
      pollDelayMs: 5,
    });
    const started = Date.now();
    const error = await short.converge(tenant, 'acme/hangs', v1).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect((error as Error).message).toMatch(/did not finish .* within 200 ms .* still running/);
  });

  it('refuses a package whose identifier the daemon computes differently', async () => {
    const tenant = randomUUID();
    const v1 = await build('mismatch', '1.0.0');
    daemon.addFault({ mode: 'wrong-identifier', unique_identifier: v1.uid });
    const error = await runtime.converge(tenant, 'acme/mismatch', v1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DifyDaemonError);
    expect((error as Error).message).toContain(`for the package pluginops knows as ${v1.uid}`);
    expect(listed(tenant)).toEqual([]);
  });

  it('reports the daemon error envelope (wrong key)', async () => {
    const wrongKey = createDifyDaemonRuntime({ url: daemon.url, apiKey: 'not-the-key' });
    const error = await wrongKey.list(randomUUID()).catch((e: unknown) => e);
    expect((error as Error).message).toBe(
      'The Dify plugin daemon refused list: unauthorized (PluginDaemonUnauthorizedError)',
    );
  });

  it('turns a dropped connection and a refused one into failures, and a failed probe', async () => {
    const tenant = randomUUID();
    daemon.addFault({ mode: 'down' });
    await expect(runtime.list(tenant)).rejects.toThrow(/unreachable \(list\)/);
    expect(await runtime.probe(tenant, 'acme/x', null)).toMatchObject({ ok: false });

    const closed = await startDifyDaemon({ apiKey: KEY });
    const url = closed.url;
    await closed.stop();
    const nowhere = createDifyDaemonRuntime({ url, apiKey: KEY });
    await expect(nowhere.list(tenant)).rejects.toThrow(/unreachable \(list\): ECONNREFUSED/);
  });
});

describe('the stand-in binds requests as the daemon controllers do', () => {
  const tenant = randomUUID();
  const base = () => `${daemon.url}/plugin/${tenant}/management`;

  it('401 with the error envelope without the key', async () => {
    const response = await fetch(`${base()}/list?page=1&page_size=10`);
    expect(response.status).toBe(401);
    const body = (await response.json()) as { code: number; message: string };
    expect(body.code).toBe(-401);
    expect(JSON.parse(body.message)).toMatchObject({ error_type: 'PluginDaemonUnauthorizedError' });
  });

  it('400 for a GET list with a JSON content type or without page parameters', async () => {
    const json = await fetch(`${base()}/list?page=1&page_size=10`, {
      headers: { 'X-Api-Key': KEY, 'Content-Type': 'application/json' },
    });
    expect(json.status).toBe(400);
    expect(((await json.json()) as { code: number }).code).toBe(-400);
    const noPage = await fetch(`${base()}/list`, { headers: { 'X-Api-Key': KEY } });
    expect(noPage.status).toBe(400);
  });

  it('400 for a JSON body without the exact JSON content type, and for metas that do not match', async () => {
    const v1 = await build('shapes', '1.0.0');
    const body = JSON.stringify({ plugin_unique_identifiers: [v1.uid], source: 'package', metas: [{}] });
    const form = await fetch(`${base()}/install/identifiers`, {
      method: 'POST',
      headers: { 'X-Api-Key': KEY, 'Content-Type': 'text/plain' },
      body,
    });
    expect(form.status).toBe(400);
    const metas = await fetch(`${base()}/install/identifiers`, {
      method: 'POST',
      headers: { 'X-Api-Key': KEY, 'Content-Type': 'application/json' },
      body: JSON.stringify({ plugin_unique_identifiers: [v1.uid], source: 'package', metas: [] }),
    });
    const answer = (await metas.json()) as { code: number; message: string };
    expect(answer.code).toBe(-400);
    expect(JSON.parse(answer.message).message).toContain('the number of metas must be equal');
  });

  it('answers all_installed without a task when any version is installed', async () => {
    const v1 = await build('noop', '1.0.0');
    const v2 = await build('noop', '2.0.0');
    await runtime.converge(tenant, 'acme/noop', v1);
    const form = new FormData();
    form.set('dify_pkg', new Blob([v2.bytes]), 'noop.difypkg');
    await fetch(`${base()}/install/upload/package`, {
      method: 'POST',
      headers: { 'X-Api-Key': KEY },
      body: form,
    });
    const response = await fetch(`${base()}/install/identifiers`, {
      method: 'POST',
      headers: { 'X-Api-Key': KEY, 'Content-Type': 'application/json' },
      body: JSON.stringify({ plugin_unique_identifiers: [v2.uid], source: 'package', metas: [{}] }),
    });
    expect(await response.json()).toEqual({
      code: 0,
      message: 'success',
      data: { all_installed: true, task_id: '' },
    });
    expect(listed(tenant).filter((uid) => uid.startsWith('acme/noop:'))).toEqual([v1.uid]);
  });
});
