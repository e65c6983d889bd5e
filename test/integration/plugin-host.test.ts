/**
 * The runtime port end to end: the real adapter writes desired state to the stack's S3 server and
 * probes the local plugin host (local/plugin-host.ts), which loads packages published through the
 * API. Faults are injected through the host's admin API, as the deploy e2e tests do.
 */
import { randomBytes } from 'node:crypto';
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createRuntimeHost, type DesiredPlugin, type DesiredState } from '#adapters/runtime-host.ts';
import { api, s3Client, stackInfo } from '#test/support/local-stack.ts';
import { buildPackage } from '#test/support/package-builder.ts';

const stack = stackInfo();
const run = randomBytes(3).toString('hex');
const author = `host${run}`;
const s3 = s3Client();
const host = createRuntimeHost({
  runtimeUrl: stack.runtimeUrl,
  probeTimeoutMs: 5_000,
  s3,
  bucket: stack.bucket,
});
let generation = 0;

interface Published {
  plugin: DesiredPlugin;
  uniqueIdentifier: string;
}

async function publish(name: string, version: string): Promise<Published> {
  const bytes = await buildPackage({ manifest: { author, name, version, meta: { version } } as never });
  const response = await api<{ unique_identifier: string; sha256: string; plugin_id: string }>(
    'POST',
    '/v1/packages:raw',
    { key: 'bootstrap', body: new Uint8Array(bytes) },
  );
  expect(response.status, response.text).toBe(201);
  const { unique_identifier, sha256, plugin_id } = response.json;
  return {
    uniqueIdentifier: unique_identifier,
    plugin: { plugin_id, unique_identifier, sha256, package_key: `packages/sha256/${sha256}.difypkg` },
  };
}

function desired(tenant: string, plugins: DesiredPlugin[]): DesiredState {
  generation += 1;
  return { tenant_id: tenant, generation, updated_at: new Date().toISOString(), plugins };
}

/** Faults are host-wide and test files run in parallel: every fault here names one of our tenants. */
async function admin(method: string, body?: unknown, query = '') {
  const response = await fetch(`${stack.runtimeUrl}/admin/faults${query}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(5_000),
  });
  return { status: response.status, json: (await response.json()) as { faults?: unknown[]; error?: string } };
}

let demoV1: Published;
let demoV2: Published;
const faultedTenants: string[] = [];

async function addFault(fault: { tenant_id: string } & Record<string, string>) {
  faultedTenants.push(fault.tenant_id);
  const response = await admin('POST', fault);
  expect(response.status).toBe(201);
  expect(response.json.faults).toContainEqual(fault);
}

beforeAll(async () => {
  demoV1 = await publish('demo', '0.0.1');
  demoV2 = await publish('demo', '0.0.2');
});

afterEach(async () => {
  for (const tenant of faultedTenants.splice(0)) {
    expect((await admin('DELETE', undefined, `?tenant_id=${tenant}`)).status).toBe(200);
  }
});

afterAll(() => s3.destroy());

describe('desired state', () => {
  it('round-trips through S3, and is undefined for a tenant without one', async () => {
    const tenant = `t-${run}-doc`;
    expect(await host.readDesiredState(tenant)).toBeUndefined();
    const state = desired(tenant, [demoV1.plugin]);
    await host.writeDesiredState(state);
    expect(await host.readDesiredState(tenant)).toEqual(state);
  });
});

describe('probe against the local plugin host', () => {
  it('confirms a published package, and notices an upgrade and an uninstall', async () => {
    const tenant = `t-${run}-ok`;
    await host.writeDesiredState(desired(tenant, [demoV1.plugin]));
    expect(await host.probe(tenant, demoV1.plugin.plugin_id, demoV1.uniqueIdentifier)).toEqual({
      ok: true,
      observed: demoV1.uniqueIdentifier,
      detail: `The plugin host runs ${demoV1.uniqueIdentifier}.`,
    });
    // Before the desired state changes, the host still runs v1: probing for v2 must fail.
    const early = await host.probe(tenant, demoV1.plugin.plugin_id, demoV2.uniqueIdentifier);
    expect(early).toMatchObject({ ok: false, observed: demoV1.uniqueIdentifier });

    await host.writeDesiredState(desired(tenant, [demoV2.plugin]));
    expect(await host.probe(tenant, demoV2.plugin.plugin_id, demoV2.uniqueIdentifier)).toMatchObject({
      ok: true,
      observed: demoV2.uniqueIdentifier,
    });

    await host.writeDesiredState(desired(tenant, []));
    expect((await host.probe(tenant, demoV2.plugin.plugin_id, null)).ok).toBe(true);
    expect((await host.probe(tenant, demoV2.plugin.plugin_id, demoV2.uniqueIdentifier)).ok).toBe(false);
  });

  it('fails while a fail fault is set, and succeeds again once faults are cleared', async () => {
    const tenant = `t-${run}-fail`;
    await host.writeDesiredState(desired(tenant, [demoV2.plugin]));
    const fault = { tenant_id: tenant, unique_identifier: demoV2.uniqueIdentifier, mode: 'fail' };
    await addFault(fault);
    expect((await admin('GET')).json.faults).toContainEqual(fault);

    expect(await host.probe(tenant, demoV2.plugin.plugin_id, demoV2.uniqueIdentifier)).toEqual({
      ok: false,
      observed: demoV2.uniqueIdentifier,
      detail: `The plugin host reports ${demoV2.uniqueIdentifier} as failed: injected fault: fail`,
    });

    const cleared = await admin('DELETE', undefined, `?tenant_id=${tenant}`);
    expect(cleared.status).toBe(200);
    expect(cleared.json.faults).not.toContainEqual(fault);
    expect((await host.probe(tenant, demoV2.plugin.plugin_id, demoV2.uniqueIdentifier)).ok).toBe(true);
  });

  it('keeps reporting the old version under a stale fault', async () => {
    const tenant = `t-${run}-stale`;
    await host.writeDesiredState(desired(tenant, [demoV1.plugin]));
    expect((await host.probe(tenant, demoV1.plugin.plugin_id, demoV1.uniqueIdentifier)).ok).toBe(true);
    await addFault({ tenant_id: tenant, plugin_id: demoV1.plugin.plugin_id, mode: 'stale' });
    await host.writeDesiredState(desired(tenant, [demoV2.plugin]));
    const result = await host.probe(tenant, demoV2.plugin.plugin_id, demoV2.uniqueIdentifier);
    expect(result).toEqual({
      ok: false,
      observed: demoV1.uniqueIdentifier,
      detail: `The plugin host runs ${demoV1.uniqueIdentifier}, not the expected ${demoV2.uniqueIdentifier}: it did not switch versions.`,
    });
  });

  it('times out under a timeout fault, within the probe deadline', async () => {
    const tenant = `t-${run}-timeout`;
    await host.writeDesiredState(desired(tenant, [demoV1.plugin]));
    await addFault({ tenant_id: tenant, mode: 'timeout' });
    const started = Date.now();
    const result = await host.probe(tenant, demoV1.plugin.plugin_id, demoV1.uniqueIdentifier, {
      timeoutMs: 400,
    });
    expect(result).toEqual({ ok: false, detail: 'The plugin host did not answer within 400 ms.' });
    expect(Date.now() - started).toBeLessThan(2_000);
    // The fault is scoped: another tenant is answered.
    const other = `t-${run}-timeout-other`;
    await host.writeDesiredState(desired(other, [demoV1.plugin]));
    expect((await host.probe(other, demoV1.plugin.plugin_id, demoV1.uniqueIdentifier)).ok).toBe(true);
  });

  it('reports failed when the package object is missing', async () => {
    const tenant = `t-${run}-missing`;
    const sha256 = randomBytes(32).toString('hex');
    const missing = { ...demoV1.plugin, sha256, package_key: `packages/sha256/${sha256}.difypkg` };
    await host.writeDesiredState(desired(tenant, [missing]));
    const result = await host.probe(tenant, missing.plugin_id, missing.unique_identifier);
    expect(result).toEqual({
      ok: false,
      observed: missing.unique_identifier,
      detail: `The plugin host reports ${missing.unique_identifier} as failed: package ${missing.package_key} is not in the bucket`,
    });
  });

  it('reports failed when the bytes at the key do not hash to the desired sha256', async () => {
    const tenant = `t-${run}-corrupt`;
    const sha256 = randomBytes(32).toString('hex');
    const key = `packages/sha256/${sha256}.difypkg`;
    await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: key, Body: 'not the package' }));
    try {
      await host.writeDesiredState(desired(tenant, [{ ...demoV1.plugin, sha256, package_key: key }]));
      const result = await host.probe(tenant, demoV1.plugin.plugin_id, demoV1.uniqueIdentifier);
      expect(result.ok).toBe(false);
      expect(result.detail).toContain(`package ${key} has sha256 `);
    } finally {
      await s3.send(new DeleteObjectCommand({ Bucket: stack.bucket, Key: key }));
    }
  });

  it('reports the identifier of the bytes it loaded, not the one it was told', async () => {
    const tenant = `t-${run}-mixup`;
    // v1's identifier with v2's bytes: a desired state that points at the wrong package.
    await host.writeDesiredState(
      desired(tenant, [{ ...demoV2.plugin, unique_identifier: demoV1.uniqueIdentifier }]),
    );
    const result = await host.probe(tenant, demoV1.plugin.plugin_id, demoV1.uniqueIdentifier);
    expect(result).toMatchObject({ ok: false, observed: demoV2.uniqueIdentifier });
  });
});

describe('admin API', () => {
  it('rejects a malformed fault with 400 and keeps the list unchanged', async () => {
    const tenant = `t-${run}-admin`;
    const typo = await admin('POST', { tenant_id: tenant, plugin: 'a/b', mode: 'fail' });
    expect(typo.status).toBe(400);
    expect(typo.json.error).toMatch(/^invalid fault/);
    expect((await admin('POST', { tenant_id: tenant, mode: 'explode' })).status).toBe(400);
    expect((await admin('POST', undefined)).status).toBe(400);
    const faults = (await admin('GET')).json.faults as Array<{ tenant_id?: string }>;
    expect(faults.filter((fault) => fault.tenant_id === tenant)).toEqual([]);
  });
});
