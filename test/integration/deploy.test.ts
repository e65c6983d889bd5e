/**
 * The deploy workflow end to end: API → the real `statemachines/deploy.asl.json` on the local
 * engine → task handlers → DynamoDB Local / S3 server → the local plugin host over HTTP.
 *
 * This file runs its own local stack in the test process (not the shared one of global-setup):
 * crash tests need the engine's fault injection, which lives in the process that runs the
 * engine, and the event assertions read the `PLUGINOPS_EVENTS_FILE` the handlers here write.
 * Retry waits are scaled down (`timeScale`) so backoff paths run in milliseconds.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { beforeAll, describe, expect, it } from 'vitest';
import { runtimeHost } from '#adapters/runtime-host.ts';
import { byteSourceFromBuffer } from '#core/package/byte-source.ts';
import { generateSigningKeyPair, signPackage } from '#core/package/sign.ts';
import type { LocalStack } from '#local/stack.ts';
import { createApiClient, eventually } from '#test/support/api-client.ts';
import { buildPackage } from '#test/support/package-builder.ts';
import { privateStack } from '#test/support/private-stack.ts';
import { FINAL_STATUSES, tenantApi } from '#test/support/tenant-api.ts';

const OPERATOR = `po_${'d'.repeat(43)}`;
const run = randomBytes(3).toString('hex');

let stack: LocalStack;
let eventsFile: string;
let call: ReturnType<typeof createApiClient>;
let s3: S3Client;

const priv = privateStack({ bootstrapKey: OPERATOR, eventsFile: true });

beforeAll(() => {
  stack = priv.stack;
  eventsFile = priv.eventsFile;
  call = createApiClient(stack.baseUrl);
  const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
  s3 = new S3Client({ endpoint: stack.s3Endpoint, region: 'us-east-1', forcePathStyle: true, credentials });
});

// ── helpers ─────────────────────────────────────────────────────────────────────────────────────

interface Tenant {
  id: string;
  deployer: string;
  admin: string;
}

const api = tenantApi({ call: () => call, operator: OPERATOR, workflows: () => stack.workflows });

let tenantCount = 0;
async function newTenant(policy: Record<string, unknown> = {}): Promise<Tenant> {
  tenantCount += 1;
  const id = `dep-${run}-${tenantCount}`;
  const keys = await api.createTenant({
    id,
    author: AUTHOR,
    keys: { deployer: ['read', 'deploy:write'], admin: ['admin'] },
    policy,
    policyKey: 'admin',
  });
  return { id, deployer: keys.deployer as string, admin: keys.admin as string };
}

let pluginCount = 0;
function newPluginName(): string {
  pluginCount += 1;
  return `p${run}${pluginCount}`;
}

const AUTHOR = `dep${run}`;

async function publish(
  name: string,
  version: string,
  manifest: Record<string, unknown> = {},
  bytes?: Buffer,
) {
  const body =
    bytes ??
    (await buildPackage({
      manifest: { author: AUTHOR, name, version, meta: { version }, ...manifest } as never,
    }));
  return api.publishBytes(body);
}

function deploy(tenant: Tenant, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  return api.deploy(tenant.id, tenant.deployer, body, headers);
}

/** The deployment once its status is final and its execution has ended (Alert runs after a rollback). */
function finished(tenant: Tenant, deploymentId: string, timeoutMs = 20_000) {
  return api.finished(tenant.id, tenant.deployer, deploymentId, timeoutMs);
}

function deployAndWait(tenant: Tenant, body: Record<string, unknown>) {
  return api.deployAndWait(tenant.id, tenant.deployer, body);
}

function installations(tenant: Tenant) {
  return api.installations(tenant.id, tenant.deployer);
}

async function installationOf(tenant: Tenant, pluginId: string) {
  return (await installations(tenant)).find((item) => item.plugin_id === pluginId);
}

function revisions(tenant: Tenant, pluginId: string) {
  return api.revisions(tenant.id, tenant.deployer, pluginId);
}

async function events(
  deploymentId: string,
): Promise<Array<{ 'detail-type': string; detail: Record<string, any> }>> {
  // Events reach the file through the outbox relay: wait until it has caught up.
  await stack.outbox.drained();
  const text = await readFile(eventsFile, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line))
    .filter((event) => event.detail?.deployment_id === deploymentId);
}

async function hostFault(fault: Record<string, unknown>): Promise<void> {
  const response = await fetch(`${stack.runtimeUrl}/admin/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(fault),
  });
  expect(response.status).toBe(201);
}

async function clearHostFaults(tenant: Tenant): Promise<void> {
  await fetch(`${stack.runtimeUrl}/admin/faults?tenant_id=${tenant.id}`, { method: 'DELETE' });
}

/** Invariant of every test: history and installation agree, revisions are contiguous. */
async function expectConsistent(tenant: Tenant, pluginId: string) {
  const history = await revisions(tenant, pluginId);
  const numbers = history.map((revision) => revision.revision);
  expect(numbers).toEqual(numbers.map((_, index) => numbers.length - index));
  const installation = (await installations(tenant)).find((item) => item.plugin_id === pluginId);
  const latest = history[0];
  expect(installation?.unique_identifier ?? null).toBe(latest?.unique_identifier ?? null);
  if (installation !== undefined) expect(installation.revision).toBe(numbers.length);
  return { history, installation };
}

// ── lifecycle ───────────────────────────────────────────────────────────────────────────────────

describe('install → upgrade → rollback → uninstall', () => {
  it('records every change as a revision and the runtime follows', async () => {
    const tenant = await newTenant();
    const name = newPluginName();
    const pluginId = `${AUTHOR}/${name}`;
    const v1 = await publish(name, '1.0.0');
    const v2 = await publish(name, '1.1.0');

    const install = await deployAndWait(tenant, {
      operation: 'install',
      unique_identifier: v1.unique_identifier,
    });
    expect(install.status).toBe('succeeded');
    expect(install.steps.map((step: { name: string }) => step.name)).toEqual([
      'Resolve',
      'Verify',
      'Acquire',
      'Snapshot',
      'Apply',
      'Probe',
      'Release',
    ]);
    expect(install.steps.every((step: { status: string }) => step.status === 'succeeded')).toBe(true);
    expect(install.plan.steps[0]).toMatchObject({
      action: 'install',
      to: { unique_identifier: v1.unique_identifier },
    });
    expect(await runtimeHost().probe(tenant.id, pluginId, v1.unique_identifier)).toMatchObject({ ok: true });

    const upgrade = await deployAndWait(tenant, {
      operation: 'upgrade',
      unique_identifier: v2.unique_identifier,
      expected_current: v1.unique_identifier,
      config: { api_key: 'sk-very-secret', region: 'eu' },
    });
    expect(upgrade.status).toBe('succeeded');
    expect(JSON.stringify(upgrade)).not.toContain('sk-very-secret');
    expect(await installationOf(tenant, pluginId)).toMatchObject({
      unique_identifier: v2.unique_identifier,
      revision: 2,
    });

    const rollback = await deployAndWait(tenant, { operation: 'rollback', plugin_id: pluginId });
    expect(rollback.status).toBe('succeeded');
    expect(rollback.plan.steps[0]).toMatchObject({ restore_revision: 1, action: 'downgrade' });
    expect(await installationOf(tenant, pluginId)).toMatchObject({
      unique_identifier: v1.unique_identifier,
      version: '1.0.0',
      revision: 3,
      status: 'installed',
    });
    expect(await runtimeHost().probe(tenant.id, pluginId, v1.unique_identifier)).toMatchObject({ ok: true });

    const uninstall = await deployAndWait(tenant, { operation: 'uninstall', plugin_id: pluginId });
    expect(uninstall.status).toBe('succeeded');
    expect(await installationOf(tenant, pluginId)).toBeUndefined();
    expect(await runtimeHost().probe(tenant.id, pluginId, null)).toMatchObject({ ok: true });

    const history = await revisions(tenant, pluginId);
    expect(
      history.map(({ revision, operation, unique_identifier, previous_unique_identifier, outcome }) => ({
        revision,
        operation,
        unique_identifier,
        previous_unique_identifier,
        outcome,
      })),
    ).toEqual([
      {
        revision: 4,
        operation: 'uninstall',
        unique_identifier: null,
        previous_unique_identifier: v1.unique_identifier,
        outcome: 'succeeded',
      },
      {
        revision: 3,
        operation: 'rollback',
        unique_identifier: v1.unique_identifier,
        previous_unique_identifier: v2.unique_identifier,
        outcome: 'succeeded',
      },
      {
        revision: 2,
        operation: 'upgrade',
        unique_identifier: v2.unique_identifier,
        previous_unique_identifier: v1.unique_identifier,
        outcome: 'succeeded',
      },
      {
        revision: 1,
        operation: 'install',
        unique_identifier: v1.unique_identifier,
        previous_unique_identifier: null,
        outcome: 'succeeded',
      },
    ]);
    expect(history[2]?.config_digest).toMatch(/^[a-f0-9]{64}$/);
    expect(JSON.stringify(history)).not.toContain('sk-very-secret');
    expect(history.every((revision) => revision.actor.startsWith('key:'))).toBe(true);

    const started = await events(install.deployment_id);
    expect(started.map((event) => event['detail-type'])).toEqual([
      'Deployment Started',
      'Installation Changed',
      'Deployment Succeeded',
    ]);
    const listed = await call('GET', `/v1/tenants/${tenant.id}/deployments?status=succeeded`, {
      key: tenant.deployer,
    });
    expect(listed.body.items.map((item: { deployment_id: string }) => item.deployment_id)).toEqual([
      uninstall.deployment_id,
      rollback.deployment_id,
      upgrade.deployment_id,
      install.deployment_id,
    ]);
    const backup = await s3.send(
      new GetObjectCommand({
        Bucket: stack.bucket,
        Key: `backups/${tenant.id}/${upgrade.deployment_id}.json`,
      }),
    );
    const snapshot = JSON.parse(await backup.Body!.transformToString());
    expect(snapshot.plugins[0]).toMatchObject({
      plugin_id: pluginId,
      unique_identifier: v1.unique_identifier,
      revision: 1,
    });
  });

  it('answers the request errors it can know at once', async () => {
    const tenant = await newTenant();
    const name = newPluginName();
    const v1 = await publish(name, '1.0.0');
    const missing = `${AUTHOR}/${name}:9.9.9@${'0'.repeat(64)}`;
    expect((await deploy(tenant, { operation: 'install', unique_identifier: missing })).status).toBe(404);
    expect((await deploy(tenant, { operation: 'install' })).status).toBe(400);
    expect(
      (await deploy(tenant, { operation: 'upgrade', unique_identifier: v1.unique_identifier })).body.type,
    ).toBe('urn:pluginops:problem:conflict');
    expect((await deploy(tenant, { operation: 'uninstall', plugin_id: `${AUTHOR}/${name}` })).status).toBe(
      409,
    );
    const conditional = await deploy(tenant, {
      operation: 'install',
      unique_identifier: v1.unique_identifier,
      expected_current: v1.unique_identifier,
    });
    expect(conditional.status).toBe(409);
    const readOnly = await call('POST', `/v1/tenants/${tenant.id}/deployments`, {
      key: (
        await call('POST', `/v1/tenants/${tenant.id}/keys`, { key: OPERATOR, json: { scopes: ['read'] } })
      ).body.key,
      json: { operation: 'install', unique_identifier: v1.unique_identifier },
    });
    expect(readOnly.status).toBe(403);
  });
});

// ── Verify failures ─────────────────────────────────────────────────────────────────────────────

describe('each Verify failure leaves the tenant untouched', () => {
  async function expectRefused(
    tenant: Tenant,
    body: Record<string, unknown>,
    slug: string,
    pluginId: string,
  ): Promise<Record<string, any>> {
    const before = await revisions(tenant, pluginId);
    const installedBefore = await installationOf(tenant, pluginId);
    const deployment = await deployAndWait(tenant, body);
    expect(deployment.status).toBe('failed');
    expect(deployment.error.type).toBe(`urn:pluginops:problem:${slug}`);
    expect(deployment.steps.find((step: { name: string }) => step.name === 'Verify')).toMatchObject({
      status: 'failed',
    });
    expect(deployment.steps.map((step: { name: string }) => step.name)).not.toContain('Apply');
    expect(await revisions(tenant, pluginId)).toEqual(before);
    const installedAfter = await installationOf(tenant, pluginId);
    expect(installedAfter?.unique_identifier).toBe(installedBefore?.unique_identifier);
    expect(installedAfter?.deployment_id).toBeUndefined();
    const emitted = (await events(deployment.deployment_id)).map((event) => event['detail-type']);
    expect(emitted).toEqual(['Deployment Started', 'Deployment Failed']);
    return deployment;
  }

  it('signature-required: an unsigned package when the policy requires signatures', async () => {
    const tenant = await newTenant({ require_signature: true });
    const name = newPluginName();
    const v1 = await publish(name, '1.0.0');
    await expectRefused(
      tenant,
      { operation: 'install', unique_identifier: v1.unique_identifier },
      'signature-required',
      `${AUTHOR}/${name}`,
    );
  });

  it('signature-invalid: signed by a signer the tenant does not trust', async () => {
    const { privateKeyPem, publicKeyPem } = await generateSigningKeyPair(2048);
    const signerId = `other-${run}`;
    expect(
      (
        await call('POST', '/v1/signers', {
          key: OPERATOR,
          json: { key_id: signerId, public_key_pem: publicKeyPem },
        })
      ).status,
    ).toBe(201);
    const tenant = await newTenant({ require_signature: true, trusted_signers: [`ours-${run}`] });
    const name = newPluginName();
    const unsigned = await buildPackage({
      manifest: { author: AUTHOR, name, version: '1.0.0', meta: { version: '1.0.0' } } as never,
    });
    const signed = await signPackage(byteSourceFromBuffer(unsigned), { privateKeyPem, now: new Date() });
    const v1 = await publish(name, '1.0.0', {}, signed);
    const failed = await expectRefused(
      tenant,
      { operation: 'install', unique_identifier: v1.unique_identifier },
      'signature-invalid',
      `${AUTHOR}/${name}`,
    );
    expect(failed.error.detail).toContain(signerId);
  });

  it('permission-denied-by-policy: install scope official_only and a community package', async () => {
    const tenant = await newTenant({ install_scope: 'official_only' });
    const name = newPluginName();
    const v1 = await publish(name, '1.0.0');
    const failed = await expectRefused(
      tenant,
      { operation: 'install', unique_identifier: v1.unique_identifier },
      'permission-denied-by-policy',
      `${AUTHOR}/${name}`,
    );
    expect(failed.error.check).toBe('install_scope');
  });

  it('permission-denied-by-policy: a permission beyond the ceiling is named', async () => {
    const tenant = await newTenant({
      permission_ceiling: { tool: { enabled: true }, storage: { enabled: true, size: 1048576 } },
    });
    const name = newPluginName();
    const v1 = await publish(name, '1.0.0');
    const failed = await expectRefused(
      tenant,
      { operation: 'install', unique_identifier: v1.unique_identifier },
      'permission-denied-by-policy',
      `${AUTHOR}/${name}`,
    );
    expect(failed.error.detail).toContain('model.llm');
  });

  it('incompatible-platform-version: minimum_dify_version above the platform', async () => {
    const tenant = await newTenant({ platform_version: '1.9.0' });
    const name = newPluginName();
    const v1 = await publish(name, '1.0.0', { meta: { version: '1.0.0', minimum_dify_version: '2.0.0' } });
    await expectRefused(
      tenant,
      { operation: 'install', unique_identifier: v1.unique_identifier },
      'incompatible-platform-version',
      `${AUTHOR}/${name}`,
    );
  });

  it('downgrade-not-allowed: a lower version without rollback or allow_downgrade', async () => {
    const tenant = await newTenant();
    const name = newPluginName();
    const v1 = await publish(name, '1.0.0');
    const v2 = await publish(name, '1.1.0');
    expect(
      (await deployAndWait(tenant, { operation: 'install', unique_identifier: v2.unique_identifier })).status,
    ).toBe('succeeded');
    await expectRefused(
      tenant,
      { operation: 'install', unique_identifier: v1.unique_identifier },
      'downgrade-not-allowed',
      `${AUTHOR}/${name}`,
    );
    const allowed = await deployAndWait(tenant, {
      operation: 'install',
      unique_identifier: v1.unique_identifier,
      allow_downgrade: true,
    });
    expect(allowed.status).toBe('succeeded');
  });

  it('invalid-package: stored bytes that no longer match the catalog', async () => {
    const tenant = await newTenant();
    const name = newPluginName();
    const v1 = await publish(name, '1.0.0');
    const key = `packages/sha256/${v1.sha256}.difypkg`;
    const original = await (
      await s3.send(new GetObjectCommand({ Bucket: stack.bucket, Key: key }))
    ).Body!.transformToByteArray();
    const tampered = await buildPackage({
      manifest: { author: AUTHOR, name, version: '1.0.0', meta: { version: '1.0.0' } } as never,
      files: { 'extra.txt': 'tampered' },
    });
    await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: key, Body: tampered }));
    try {
      await expectRefused(
        tenant,
        { operation: 'install', unique_identifier: v1.unique_identifier },
        'invalid-package',
        `${AUTHOR}/${name}`,
      );
    } finally {
      await s3.send(new DeleteObjectCommand({ Bucket: stack.bucket, Key: key }));
      await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: key, Body: original }));
    }
  });
});

// ── probe failure → rollback ────────────────────────────────────────────────────────────────────

describe('a failed probe rolls back', () => {
  it('restores the previous version, holds the failed one, and says so', async () => {
    const tenant = await newTenant();
    const name = newPluginName();
    const pluginId = `${AUTHOR}/${name}`;
    const v1 = await publish(name, '1.0.0');
    const v2 = await publish(name, '1.1.0');
    expect(
      (
        await deployAndWait(tenant, {
          operation: 'install',
          unique_identifier: v1.unique_identifier,
          config: { k: 'v1' },
        })
      ).status,
    ).toBe('succeeded');
    await hostFault({ tenant_id: tenant.id, unique_identifier: v2.unique_identifier, mode: 'fail' });
    try {
      const upgrade = await deployAndWait(tenant, {
        operation: 'upgrade',
        unique_identifier: v2.unique_identifier,
        config: { k: 'v2' },
      });
      expect(upgrade.status).toBe('rolled_back');
      expect(upgrade.error.type).toBe('urn:pluginops:problem:probe-failed');
      expect(upgrade.steps.map((step: { name: string }) => step.name)).toEqual(
        expect.arrayContaining(['Apply', 'Probe', 'Rollback', 'Alert']),
      );
      const installation = await installationOf(tenant, pluginId);
      expect(installation).toMatchObject({ unique_identifier: v1.unique_identifier, revision: 3 });
      expect(installation?.hold).toMatchObject({
        unique_identifier: v2.unique_identifier,
        deployment_id: upgrade.deployment_id,
      });
      expect(await runtimeHost().probe(tenant.id, pluginId, v1.unique_identifier)).toMatchObject({
        ok: true,
      });
      const { history } = await expectConsistent(tenant, pluginId);
      expect(history.map((revision) => [revision.operation, revision.outcome])).toEqual([
        ['rollback', 'restored'],
        ['upgrade', 'failed'],
        ['install', 'succeeded'],
      ]);
      // The restored revision carries the config of revision 1, not the failed request's.
      expect(history[0]?.config_digest).toBe(history[2]?.config_digest);
      const emitted = (await events(upgrade.deployment_id)).map((event) => event['detail-type']);
      expect(emitted).toEqual(
        expect.arrayContaining([
          'Deployment Started',
          'Installation Changed',
          'Deployment Rolled Back',
          'Deployment Failed',
        ]),
      );
      const rolledBack = (await events(upgrade.deployment_id)).find(
        (event) => event['detail-type'] === 'Deployment Rolled Back',
      );
      expect(rolledBack?.detail).toMatchObject({
        tenant_id: tenant.id,
        held_unique_identifier: v2.unique_identifier,
      });

      const cleared = await call('DELETE', `/v1/tenants/${tenant.id}/installations/${pluginId}/hold`, {
        key: tenant.deployer,
      });
      expect(cleared.status).toBe(204);
      expect((await installationOf(tenant, pluginId))?.hold).toBeUndefined();
    } finally {
      await clearHostFaults(tenant);
    }
  });
});

// ── approval ────────────────────────────────────────────────────────────────────────────────────

describe('approval', () => {
  async function awaiting(tenant: Tenant, body: Record<string, unknown>) {
    const response = await deploy(tenant, body);
    expect(response.status, response.text).toBe(202);
    return eventually(async () => {
      const current = await call(
        'GET',
        `/v1/tenants/${tenant.id}/deployments/${response.body.deployment_id}`,
        {
          key: tenant.deployer,
        },
      );
      return current.body.status === 'awaiting_approval' ? current.body : undefined;
    });
  }

  it('waits for approval, then deploys', async () => {
    const tenant = await newTenant({ approval_required: true });
    const name = newPluginName();
    const v1 = await publish(name, '1.0.0');
    const waiting = await awaiting(tenant, { operation: 'install', unique_identifier: v1.unique_identifier });
    expect(await installationOf(tenant, `${AUTHOR}/${name}`)).toBeUndefined();
    expect((await events(waiting.deployment_id)).map((event) => event['detail-type'])).toContain(
      'Approval Requested',
    );
    const path = `/v1/tenants/${tenant.id}/deployments/${waiting.deployment_id}/approve`;
    expect((await call('POST', path, { key: tenant.deployer, json: {} })).status).toBe(403);
    const approved = await call('POST', path, { key: tenant.admin, json: { comment: 'ship it' } });
    expect(approved.status, approved.text).toBe(200);
    expect(approved.body.approval).toMatchObject({ decision: 'approved', comment: 'ship it' });
    const done = await finished(tenant, waiting.deployment_id);
    expect(done.status).toBe('succeeded');
    expect(await installationOf(tenant, `${AUTHOR}/${name}`)).toMatchObject({
      unique_identifier: v1.unique_identifier,
    });
    expect((await call('POST', path, { key: tenant.admin, json: {} })).status).toBe(409);
  });

  it('a rejection changes nothing', async () => {
    const tenant = await newTenant({ approval_required: true });
    const name = newPluginName();
    const v1 = await publish(name, '1.0.0');
    const waiting = await awaiting(tenant, { operation: 'install', unique_identifier: v1.unique_identifier });
    const rejected = await call(
      'POST',
      `/v1/tenants/${tenant.id}/deployments/${waiting.deployment_id}/reject`,
      {
        key: tenant.admin,
        json: { comment: 'not now' },
      },
    );
    expect(rejected.status).toBe(200);
    const done = await finished(tenant, waiting.deployment_id);
    expect(done).toMatchObject({
      status: 'rejected',
      approval: { decision: 'rejected', comment: 'not now' },
    });
    expect(await revisions(tenant, `${AUTHOR}/${name}`)).toEqual([]);
    // The reservation is released: the next deployment of the plugin is accepted.
    expect(
      (await deploy(tenant, { operation: 'install', unique_identifier: v1.unique_identifier })).status,
    ).toBe(202);
  });

  it('no decision before the timeout counts as rejected', async () => {
    const tenant = await newTenant({ approval_required: true });
    const name = newPluginName();
    const v1 = await publish(name, '1.0.0');
    const response = await deploy(tenant, {
      operation: 'install',
      unique_identifier: v1.unique_identifier,
      approval_timeout_seconds: 1,
    });
    const done = await finished(tenant, response.body.deployment_id);
    expect(done).toMatchObject({ status: 'rejected', approval: { decision: 'timed_out' } });
    expect(await revisions(tenant, `${AUTHOR}/${name}`)).toEqual([]);
  });
});

// ── concurrency and duplicates ──────────────────────────────────────────────────────────────────

describe('one deployment per plugin at a time', () => {
  it('of 10 simultaneous deploys exactly one proceeds, the rest get 409', async () => {
    const tenant = await newTenant();
    const name = newPluginName();
    const v1 = await publish(name, '1.0.0');
    const responses = await Promise.all(
      Array.from({ length: 10 }, () =>
        deploy(tenant, { operation: 'install', unique_identifier: v1.unique_identifier }),
      ),
    );
    const accepted = responses.filter((response) => response.status === 202);
    expect(accepted).toHaveLength(1);
    for (const response of responses.filter((r) => r.status !== 202)) {
      expect(response.status).toBe(409);
      expect(response.body.type).toBe('urn:pluginops:problem:conflict');
    }
    expect((await finished(tenant, accepted[0]!.body.deployment_id)).status).toBe('succeeded');
    await expectConsistent(tenant, `${AUTHOR}/${name}`);
  });

  it('a duplicate start is the same deployment', async () => {
    const tenant = await newTenant();
    const name = newPluginName();
    const v1 = await publish(name, '1.0.0');
    const headers = { 'idempotency-key': `dup-${run}` };
    const body = { operation: 'install', unique_identifier: v1.unique_identifier };
    const first = await deploy(tenant, body, headers);
    const second = await deploy(tenant, body, headers);
    expect(first.status).toBe(202);
    expect(second.body.deployment_id).toBe(first.body.deployment_id);
    const id = first.body.deployment_id as string;
    // The same start again (the input the API gave it) is the same execution.
    const input = stack.workflows.describeExecution(id)?.input as Record<string, unknown>;
    expect(input).toMatchObject({ deployment_id: id, tenant_id: tenant.id });
    const again = await stack.workflows.startExecution('deploy', id, input);
    expect(again.alreadyStarted).toBe(true);
    expect((await finished(tenant, id)).status).toBe('succeeded');
    const all = await call('GET', `/v1/tenants/${tenant.id}/deployments`, { key: tenant.deployer });
    expect(all.body.items).toHaveLength(1);
    expect(await revisions(tenant, `${AUTHOR}/${name}`)).toHaveLength(1);
  });

  it('deploys of different plugins on one tenant at once all end up in the desired state', async () => {
    const tenant = await newTenant();
    const names = Array.from({ length: 6 }, () => newPluginName());
    const packages = await Promise.all(names.map((name) => publish(name, '1.0.0')));
    const responses = await Promise.all(
      packages.map((pkg) =>
        deploy(tenant, { operation: 'install', unique_identifier: pkg.unique_identifier }),
      ),
    );
    for (const response of responses) expect(response.status, response.text).toBe(202);
    const done = await Promise.all(
      responses.map((response) => finished(tenant, response.body.deployment_id)),
    );
    expect(done.map((deployment) => deployment.status)).toEqual(names.map(() => 'succeeded'));
    const desired = await runtimeHost().readDesiredState(tenant.id);
    expect(desired?.plugins.map((plugin) => plugin.unique_identifier).sort()).toEqual(
      packages.map((pkg) => pkg.unique_identifier).sort(),
    );
    for (const pkg of packages) {
      const pluginId = pkg.unique_identifier.split(':')[0] as string;
      expect(await runtimeHost().probe(tenant.id, pluginId, pkg.unique_identifier)).toMatchObject({
        ok: true,
      });
    }
  });
});

// ── crash consistency ───────────────────────────────────────────────────────────────────────────

describe('crash consistency', () => {
  // A crash right after each Task state (fully old or fully new, protected while the lease is
  // valid, taken over once it expires, the crashed run closed): the reliability suite's matrix
  // (test/reliability/fault-injection.test.ts, "crash after" of every state) covers each one.

  it('a task that fails after Apply committed is rolled back to fully old', async () => {
    const tenant = await newTenant();
    const name = newPluginName();
    const pluginId = `${AUTHOR}/${name}`;
    const v1 = await publish(name, '1.0.0');
    const v2 = await publish(name, '1.1.0');
    expect(
      (await deployAndWait(tenant, { operation: 'install', unique_identifier: v1.unique_identifier })).status,
    ).toBe('succeeded');
    const fault = stack.workflows.injectFault({
      machine: 'deploy',
      state: 'Apply',
      when: 'after',
      mode: 'throw',
    });
    const upgrade = await deployAndWait(tenant, {
      operation: 'upgrade',
      unique_identifier: v2.unique_identifier,
    });
    fault.remove();
    expect(upgrade.status).toBe('rolled_back');
    const { installation, history } = await expectConsistent(tenant, pluginId);
    expect(installation?.unique_identifier).toBe(v1.unique_identifier);
    expect(history.map((revision) => revision.operation)).toEqual(['rollback', 'upgrade', 'install']);
    expect(installation?.deployment_id).toBeUndefined();
  });

  it('a transient failure is retried and the deployment still succeeds once', async () => {
    const tenant = await newTenant();
    const name = newPluginName();
    const pluginId = `${AUTHOR}/${name}`;
    const v1 = await publish(name, '1.0.0');
    const fault = stack.workflows.injectFault({
      machine: 'deploy',
      state: 'Apply',
      when: 'after',
      mode: 'throw',
      errorName: 'TransientError',
      times: 2,
    });
    const install = await deployAndWait(tenant, {
      operation: 'install',
      unique_identifier: v1.unique_identifier,
    });
    fault.remove();
    expect(install.status).toBe('succeeded');
    const { history } = await expectConsistent(tenant, pluginId);
    expect(history).toHaveLength(1);
  });
});

// ── drop folder ─────────────────────────────────────────────────────────────────────────────────

describe('drop folder, tenant path', () => {
  async function drop(key: string, body: Buffer) {
    await s3.send(new PutObjectCommand({ Bucket: stack.bucket, Key: key, Body: body }));
    return eventually(async () => {
      await stack.dropIdle();
      try {
        const report = await s3.send(
          new GetObjectCommand({ Bucket: stack.bucket, Key: `drop-results/${key}.json` }),
        );
        return JSON.parse(await report.Body!.transformToString()) as Record<string, any>;
      } catch {
        return undefined;
      }
    });
  }

  it('publishes, installs, then upgrades what is dropped for a tenant', async () => {
    const tenant = await newTenant();
    const name = newPluginName();
    const pluginId = `${AUTHOR}/${name}`;
    const build = (version: string) =>
      buildPackage({ manifest: { author: AUTHOR, name, version, meta: { version } } as never });

    const first = await drop(`drop/tenants/${tenant.id}/${name}-1.difypkg`, await build('1.0.0'));
    expect(first).toMatchObject({ status: 'published', deployment_id: expect.any(String) });
    expect((await finished(tenant, first.deployment_id)).status).toBe('succeeded');

    const second = await drop(`drop/tenants/${tenant.id}/${name}-2.difypkg`, await build('1.1.0'));
    expect(second.deployment_id).toEqual(expect.any(String));
    const upgrade = await finished(tenant, second.deployment_id);
    expect(upgrade).toMatchObject({
      status: 'succeeded',
      operation: 'upgrade',
      actor: expect.stringMatching(/^drop:/),
    });
    expect(await installationOf(tenant, pluginId)).toMatchObject({
      unique_identifier: second.unique_identifier,
      revision: 2,
    });
  });
});

// ── interrupted work settles by itself ──────────────────────────────────────────────────────────

describe('the recovery pass', () => {
  async function deploymentOf(tenant: Tenant, id: string) {
    return (await call('GET', `/v1/tenants/${tenant.id}/deployments/${id}`, { key: tenant.deployer })).body;
  }

  type Point = {
    name: string;
    /** Where the run is cut: a fault on a state, or an abort while it waits for approval. */
    state?: 'Resolve' | 'Verify' | 'Acquire' | 'Snapshot' | 'Apply' | 'Probe' | 'Release' | 'Rollback';
    when?: 'before' | 'after';
    approval?: boolean;
    probeFails?: boolean;
  };
  const POINTS: Point[] = [
    { name: 'before Resolve (pending, only the reservation)', state: 'Resolve', when: 'before' },
    { name: 'after Resolve', state: 'Resolve', when: 'after' },
    { name: 'after Verify', state: 'Verify', when: 'after' },
    { name: 'while awaiting approval', approval: true },
    { name: 'after Acquire', state: 'Acquire', when: 'after' },
    { name: 'after Snapshot', state: 'Snapshot', when: 'after' },
    { name: 'after Apply (the change committed)', state: 'Apply', when: 'after' },
    { name: 'after Probe', state: 'Probe', when: 'after' },
    { name: 'after Release', state: 'Release', when: 'after' },
    { name: 'before Rollback of a failed probe', state: 'Rollback', when: 'before', probeFails: true },
  ];

  it('finds open deployments of every tenant through one stage-wide index, only while open', async () => {
    const { realRecoveryPorts } = await import('#services/deploy-ports.ts');
    const { RECOVERY_GRACE_SECONDS, recoverDeployments } = await import('#services/deploy-recovery.ts');
    const awaiting = async (tenant: Tenant, body: Record<string, unknown>) => {
      const response = await deploy(tenant, body);
      expect(response.status, response.text).toBe(202);
      return eventually(async () => {
        const current = await deploymentOf(tenant, response.body.deployment_id);
        return current.status === 'awaiting_approval' ? current : undefined;
      });
    };
    const openIds = async () =>
      (await realRecoveryPorts().listOpenDeployments()).map((deployment) => deployment.deployment_id);
    const tenants = [
      await newTenant({ approval_required: true }),
      await newTenant({ approval_required: true }),
    ];
    const waiting = [];
    for (const tenant of tenants) {
      const v1 = await publish(newPluginName(), '1.0.0');
      waiting.push(await awaiting(tenant, { operation: 'install', unique_identifier: v1.unique_identifier }));
    }
    const ids = waiting.map((deployment) => deployment.deployment_id as string);
    // One query, however many tenants the stage has (it listed tenant × status before).
    const { dynamoClient } = await import('#adapters/dynamo/client.ts');
    const sent: string[] = [];
    dynamoClient().middlewareStack.add(
      (next, context) => (args) => {
        sent.push(String(context.commandName));
        return next(args);
      },
      { step: 'initialize', name: 'count-open-listing' },
    );
    try {
      expect(await openIds()).toEqual(expect.arrayContaining(ids));
    } finally {
      dynamoClient().middlewareStack.remove('count-open-listing');
    }
    expect(sent).toEqual(['QueryCommand']);
    // The index entry stays inside: the API never shows it.
    expect(Object.keys(waiting[0] as object).filter((name) => name.startsWith('GSI'))).toEqual([]);
    const [first, second] = tenants as [Tenant, Tenant];
    expect(
      (
        await call('POST', `/v1/tenants/${first.id}/deployments/${ids[0]}/reject`, {
          key: first.admin,
          json: {},
        })
      ).status,
    ).toBe(200);
    expect((await finished(first, ids[0] as string)).status).toBe('rejected');
    const open = await openIds();
    expect(open).not.toContain(ids[0]);
    expect(open).toContain(ids[1]);
    // Cut while it waits; the recovery pass (which reads the index) closes it, and so removes it.
    await stack.workflows.abortExecution(ids[1] as string);
    const pass = await recoverDeployments(
      realRecoveryPorts(),
      new Date(Date.now() + (RECOVERY_GRACE_SECONDS + 1) * 1000),
    );
    expect(pass.settled.map((item) => item.deployment_id)).toContain(ids[1]);
    expect(FINAL_STATUSES.has((await deploymentOf(second, ids[1] as string)).status)).toBe(true);
    expect(await openIds()).not.toContain(ids[1]);
  });

  it.each(POINTS)(
    'a run cut $name ends terminal at the next pass, records and host agreeing',
    async (point) => {
      const { realRecoveryPorts } = await import('#services/deploy-ports.ts');
      const { RECOVERY_GRACE_SECONDS, recoverDeployments } = await import('#services/deploy-recovery.ts');
      const tenant = await newTenant(point.approval === true ? { approval_required: true } : {});
      const name = newPluginName();
      const pluginId = `${AUTHOR}/${name}`;
      const v1 = await publish(name, '1.0.0');
      const v2 = await publish(name, '1.1.0');
      if (point.approval === true) {
        const first = await deploy(tenant, { operation: 'install', unique_identifier: v1.unique_identifier });
        await eventually(
          async () =>
            (await deploymentOf(tenant, first.body.deployment_id)).status === 'awaiting_approval'
              ? true
              : undefined,
          20_000,
        );
        expect(
          (
            await call('POST', `/v1/tenants/${tenant.id}/deployments/${first.body.deployment_id}/approve`, {
              key: tenant.admin,
              json: {},
            })
          ).status,
        ).toBe(200);
        await stack.workflows.waitForExecution(first.body.deployment_id, 20_000);
      } else {
        expect(
          (await deployAndWait(tenant, { operation: 'install', unique_identifier: v1.unique_identifier }))
            .status,
        ).toBe('succeeded');
      }
      if (point.probeFails === true)
        await hostFault({ tenant_id: tenant.id, unique_identifier: v2.unique_identifier, mode: 'fail' });
      const fault =
        point.state === undefined
          ? undefined
          : stack.workflows.injectFault({
              machine: 'deploy',
              state: point.state,
              when: point.when ?? 'after',
              mode: 'abort',
            });
      const response = await deploy(tenant, {
        operation: 'upgrade',
        unique_identifier: v2.unique_identifier,
      });
      expect(response.status, response.text).toBe(202);
      const id = response.body.deployment_id as string;
      if (point.approval === true) {
        await eventually(
          async () => ((await deploymentOf(tenant, id)).status === 'awaiting_approval' ? true : undefined),
          20_000,
        );
        await stack.workflows.abortExecution(id);
      } else {
        expect((await stack.workflows.waitForExecution(id, 20_000)).status).toBe('ABORTED');
      }
      fault?.remove();
      if (point.probeFails === true) await fetch(`${stack.runtimeUrl}/admin/faults`, { method: 'DELETE' });

      // A pass within the grace period leaves it alone; the next one (past the bound) settles it.
      const ports = realRecoveryPorts();
      const early = await recoverDeployments(ports, new Date());
      expect(early.settled.map((item) => item.deployment_id)).not.toContain(id);
      const pass = await recoverDeployments(
        ports,
        new Date(Date.now() + (RECOVERY_GRACE_SECONDS + 1) * 1000),
      );
      const settled = await deploymentOf(tenant, id);
      expect(FINAL_STATUSES.has(settled.status), `${point.name}: ${settled.status}`).toBe(true);
      if (point.state === 'Release') {
        // Release had marked it succeeded before the cut: nothing was left open.
        expect(settled.status).toBe('succeeded');
        expect(pass.settled.map((item) => item.deployment_id)).not.toContain(id);
      } else {
        expect(pass.settled.map((item) => item.deployment_id)).toContain(id);
      }
      // Step views show the final state: nothing is left "running".
      expect(settled.steps.filter((step: { status: string }) => step.status === 'running')).toEqual([]);

      // Fully old or fully new, the host running what the records say, and no lease left behind.
      const { installation } = await expectConsistent(tenant, pluginId);
      expect([v1.unique_identifier, v2.unique_identifier]).toContain(installation?.unique_identifier);
      expect(installation?.deployment_id).toBeUndefined();
      if (settled.status !== 'succeeded') expect(installation?.unique_identifier).toBe(v1.unique_identifier);
      expect(
        await runtimeHost().probe(tenant.id, pluginId, installation?.unique_identifier ?? null),
      ).toMatchObject({ ok: true });
      // Nothing blocks the plugin any more: the next deployment starts at once.
      const next = await deploy(tenant, {
        operation: 'upgrade',
        unique_identifier: (await publish(name, '1.2.0')).unique_identifier,
      });
      expect(next.status, next.text).toBe(202);
      // (On the approval tenant it waits for a decision nobody gives: stop it.)
      if (point.approval === true) await stack.workflows.abortExecution(next.body.deployment_id);
      else await stack.workflows.waitForExecution(next.body.deployment_id, 20_000);
    },
  );
});
