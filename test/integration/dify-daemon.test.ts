/**
 * Deploying into a Dify plugin daemon, end to end: API → the real `statemachines/deploy.asl.json`
 * on the local engine → task handlers → DynamoDB Local / S3 server → the daemon stand-in
 * (local/dify-daemon.ts) over its management API.
 *
 * The stack runs in this process with `PLUGINOPS_RUNTIME=dify-daemon` and no daemon URL, which is
 * exactly what `npm start` does: the stack starts the stand-in itself. After every step the
 * stand-in's own list must match pluginops' installations.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { keys as tableKeys } from '#adapters/dynamo/keys.ts';
import type { DifyDaemon } from '#local/dify-daemon.ts';
import type { LocalStack } from '#local/stack.ts';
import { createApiClient, eventually } from '#test/support/api-client.ts';
import { buildPackage } from '#test/support/package-builder.ts';
import { privateStack } from '#test/support/private-stack.ts';
import { tenantApi } from '#test/support/tenant-api.ts';

const OPERATOR = `po_${'f'.repeat(43)}`;
const run = randomBytes(3).toString('hex');
const AUTHOR = `dfy${run}`;

let stack: LocalStack;
let daemon: DifyDaemon;
let eventsFile: string;
let call: ReturnType<typeof createApiClient>;
let dynamo: DynamoDBDocumentClient;

const priv = privateStack({
  bootstrapKey: OPERATOR,
  eventsFile: true,
  env: () => ({
    PLUGINOPS_RUNTIME: 'dify-daemon',
    // A hung daemon task (the crash test) gives up quickly; real tasks here finish in milliseconds.
    PLUGINOPS_DIFY_DAEMON_TASK_TIMEOUT_MS: '3000',
    // No daemon URL: the stack starts its stand-in.
    PLUGINOPS_DIFY_DAEMON_URL: undefined,
    PLUGINOPS_DIFY_DAEMON_KEY: undefined,
  }),
});

beforeAll(() => {
  stack = priv.stack;
  eventsFile = priv.eventsFile;
  if (stack.difyDaemon === undefined) throw new Error('the stack did not start the daemon stand-in');
  daemon = stack.difyDaemon;
  call = createApiClient(stack.baseUrl);
  const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
  dynamo = DynamoDBDocumentClient.from(
    new DynamoDBClient({ endpoint: stack.dynamodbEndpoint, region: 'us-east-1', credentials }),
  );
});

afterEach(() => daemon?.clearFaults());

// ── helpers ─────────────────────────────────────────────────────────────────────────────────────

interface Tenant {
  id: string;
  dify: string;
  deployer: string;
  admin: string;
}

const api = tenantApi({ call: () => call, operator: OPERATOR, workflows: () => stack.workflows });

let tenantCount = 0;
async function newTenant(
  options: { dify?: boolean; policy?: Record<string, unknown> } = {},
): Promise<Tenant> {
  tenantCount += 1;
  const id = `dfy-${run}-${tenantCount}`;
  const dify = randomUUID();
  const keys = await api.createTenant({
    id,
    fields: options.dify === false ? {} : { dify_tenant_id: dify },
    keys: { deployer: ['read', 'deploy:write'], admin: ['admin'] },
    ...(options.policy === undefined ? {} : { policy: options.policy, policyKey: 'admin' }),
  });
  return { id, dify, deployer: keys.deployer as string, admin: keys.admin as string };
}

let pluginCount = 0;
function newPluginName(): string {
  pluginCount += 1;
  return `p${run}${pluginCount}`;
}

async function packageOf(name: string, version: string): Promise<Buffer> {
  return buildPackage({ manifest: { author: AUTHOR, name, version, meta: { version } } as never });
}

async function publish(name: string, version: string) {
  return api.publishBytes(await packageOf(name, version));
}

function deploy(tenant: Tenant, body: Record<string, unknown>) {
  return api.deploy(tenant.id, tenant.deployer, body);
}

function deployAndWait(tenant: Tenant, body: Record<string, unknown>) {
  return api.deployAndWait(tenant.id, tenant.deployer, body);
}

function installations(tenant: Tenant) {
  return api.installations(tenant.id, tenant.deployer);
}

function revisions(tenant: Tenant, pluginId: string) {
  return api.revisions(tenant.id, tenant.deployer, pluginId);
}

/** The invariant of every step: the daemon's own list is exactly pluginops' installed state. */
async function expectDaemonMatches(tenant: Tenant) {
  const recorded = (await installations(tenant))
    .filter((item) => item.status === 'installed')
    .map((item) => `${item.plugin_id} ${item.unique_identifier}`)
    .sort();
  const running = daemon
    .list(tenant.dify)
    .map((item) => `${item.plugin_id} ${item.plugin_unique_identifier}`)
    .sort();
  expect(running).toEqual(recorded);
  return running;
}

/** What the Dify console does: upload, then install or upgrade, through the daemon's own API. */
async function consoleChange(tenant: Tenant, bytes: Buffer, from?: string): Promise<string> {
  const base = `${daemon.url}/plugin/${tenant.dify}/management`;
  const key = process.env.PLUGINOPS_DIFY_DAEMON_KEY as string;
  const form = new FormData();
  form.set('dify_pkg', new Blob([bytes]), 'console.difypkg');
  const uploaded = (await (
    await fetch(`${base}/install/upload/package`, {
      method: 'POST',
      headers: { 'X-Api-Key': key },
      body: form,
    })
  ).json()) as { data: { unique_identifier: string } };
  const uid = uploaded.data.unique_identifier;
  const [route, body] =
    from === undefined
      ? ['install/identifiers', { plugin_unique_identifiers: [uid], source: 'package', metas: [{}] }]
      : [
          'install/upgrade',
          {
            original_plugin_unique_identifier: from,
            new_plugin_unique_identifier: uid,
            source: 'package',
            meta: {},
          },
        ];
  const answer = (await (
    await fetch(`${base}/${route}`, {
      method: 'POST',
      headers: { 'X-Api-Key': key, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    })
  ).json()) as { code: number; data: { task_id: string } };
  expect(answer.code).toBe(0);
  await eventually(
    async () =>
      daemon.list(tenant.dify).some((item) => item.plugin_unique_identifier === uid) ? true : undefined,
    5_000,
  );
  return uid;
}

async function events(deploymentId: string) {
  // Events arrive through the outbox relay.
  await stack.outbox.drained();
  const text = await readFile(eventsFile, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as { 'detail-type': string; detail: Record<string, any> })
    .filter((event) => event.detail?.deployment_id === deploymentId);
}

// ── tests ───────────────────────────────────────────────────────────────────────────────────────

describe('deploying into the Dify plugin daemon', () => {
  it('install → upgrade → rollback → uninstall: the daemon follows every step', async () => {
    const tenant = await newTenant();
    const name = newPluginName();
    const pluginId = `${AUTHOR}/${name}`;
    const v1 = await publish(name, '1.0.0');
    const v2 = await publish(name, '1.1.0');

    const install = await deployAndWait(tenant, {
      operation: 'install',
      unique_identifier: v1.unique_identifier,
    });
    expect(install.status, JSON.stringify(install.error)).toBe('succeeded');
    expect(await expectDaemonMatches(tenant)).toEqual([`${pluginId} ${v1.unique_identifier}`]);

    const upgrade = await deployAndWait(tenant, {
      operation: 'upgrade',
      unique_identifier: v2.unique_identifier,
    });
    expect(upgrade.status, JSON.stringify(upgrade.error)).toBe('succeeded');
    expect(await expectDaemonMatches(tenant)).toEqual([`${pluginId} ${v2.unique_identifier}`]);

    // v1's declaration was deleted by the daemon when v2 replaced it: the rollback re-uploads it.
    const rollback = await deployAndWait(tenant, { operation: 'rollback', plugin_id: pluginId });
    expect(rollback.status, JSON.stringify(rollback.error)).toBe('succeeded');
    expect(await expectDaemonMatches(tenant)).toEqual([`${pluginId} ${v1.unique_identifier}`]);

    const uninstall = await deployAndWait(tenant, { operation: 'uninstall', plugin_id: pluginId });
    expect(uninstall.status, JSON.stringify(uninstall.error)).toBe('succeeded');
    expect(await expectDaemonMatches(tenant)).toEqual([]);
  });

  it('a failing upgrade is rolled back with the daemon message, and the build is held', async () => {
    const tenant = await newTenant();
    const name = newPluginName();
    const pluginId = `${AUTHOR}/${name}`;
    const v1 = await publish(name, '1.0.0');
    const v2 = await publish(name, '1.1.0');
    expect(
      (await deployAndWait(tenant, { operation: 'install', unique_identifier: v1.unique_identifier })).status,
    ).toBe('succeeded');

    daemon.addFault({
      mode: 'task-fails',
      unique_identifier: v2.unique_identifier,
      message: 'failed to init environment: exit status 1',
    });
    const upgrade = await deployAndWait(tenant, {
      operation: 'upgrade',
      unique_identifier: v2.unique_identifier,
    });
    expect(upgrade.status).toBe('rolled_back');
    expect(upgrade.error).toMatchObject({
      type: 'urn:pluginops:problem:runtime-failed',
      detail: expect.stringContaining('failed to init environment: exit status 1'),
    });
    const installation = (await installations(tenant)).find((item) => item.plugin_id === pluginId);
    expect(installation).toMatchObject({
      unique_identifier: v1.unique_identifier,
      hold: { unique_identifier: v2.unique_identifier },
    });
    expect((await revisions(tenant, pluginId))[0]).toMatchObject({
      operation: 'rollback',
      outcome: 'restored',
    });
    expect(await expectDaemonMatches(tenant)).toEqual([`${pluginId} ${v1.unique_identifier}`]);
  });

  it('a daemon that reports another identifier fails the install before anything runs', async () => {
    const tenant = await newTenant();
    const name = newPluginName();
    const v1 = await publish(name, '1.0.0');
    daemon.addFault({ mode: 'wrong-identifier', unique_identifier: v1.unique_identifier });
    const install = await deployAndWait(tenant, {
      operation: 'install',
      unique_identifier: v1.unique_identifier,
    });
    expect(install.status).toBe('rolled_back');
    expect(install.error.detail).toContain(`for the package pluginops knows as ${v1.unique_identifier}`);
    expect(await expectDaemonMatches(tenant)).toEqual([]);
  });

  it('a daemon that is down fails the deployment with a clear reason, never leaving it running', async () => {
    const tenant = await newTenant();
    const name = newPluginName();
    const pluginId = `${AUTHOR}/${name}`;
    const v1 = await publish(name, '1.0.0');
    const v2 = await publish(name, '1.1.0');
    expect(
      (await deployAndWait(tenant, { operation: 'install', unique_identifier: v1.unique_identifier })).status,
    ).toBe('succeeded');
    daemon.addFault({ mode: 'down' });
    const upgrade = await deployAndWait(tenant, {
      operation: 'upgrade',
      unique_identifier: v2.unique_identifier,
    });
    // Snapshot lists the daemon (drift) before anything changes: the run fails there, untouched.
    expect(upgrade.status).toBe('failed');
    expect(upgrade.error).toMatchObject({
      type: 'urn:pluginops:problem:runtime-failed',
      detail: 'The Dify plugin daemon is unreachable (list): UND_ERR_SOCKET.',
    });
    expect(
      upgrade.steps.map((step: { name: string; status: string }) => `${step.name}:${step.status}`),
    ).toEqual([
      'Resolve:succeeded',
      'Verify:succeeded',
      'Acquire:succeeded',
      'Snapshot:failed',
      'MarkFailed:succeeded',
    ]);
    expect((await revisions(tenant, pluginId)).length).toBe(1);
    daemon.clearFaults();
    // pluginops' record still says v1, which is what the daemon kept running.
    expect(await expectDaemonMatches(tenant)).toEqual([`${pluginId} ${v1.unique_identifier}`]);
    // And the plugin is free again.
    const again = await deployAndWait(tenant, {
      operation: 'upgrade',
      unique_identifier: v2.unique_identifier,
    });
    expect(again.status, JSON.stringify(again.error)).toBe('succeeded');
    expect(await expectDaemonMatches(tenant)).toEqual([`${pluginId} ${v2.unique_identifier}`]);
  });

  it('a crash during Apply is settled by the next deployment: the daemon ends on the record', async () => {
    const tenant = await newTenant();
    const name = newPluginName();
    const pluginId = `${AUTHOR}/${name}`;
    const v1 = await publish(name, '1.0.0');
    const v2 = await publish(name, '1.1.0');
    const v3 = await publish(name, '1.2.0');
    expect(
      (await deployAndWait(tenant, { operation: 'install', unique_identifier: v1.unique_identifier })).status,
    ).toBe('succeeded');
    // The record commits v2, the daemon's upgrade task never ends, and the run dies meanwhile.
    daemon.addFault({ mode: 'task-hangs', unique_identifier: v2.unique_identifier });
    const response = await deploy(tenant, { operation: 'upgrade', unique_identifier: v2.unique_identifier });
    expect(response.status).toBe(202);
    await eventually(async () => {
      const recorded = (await installations(tenant)).find((item) => item.plugin_id === pluginId);
      return recorded?.unique_identifier === v2.unique_identifier ? true : undefined;
    }, 10_000);
    const crashed = await stack.workflows.abortExecution(response.body.deployment_id);
    daemon.clearFaults();
    expect(crashed.status).toBe('ABORTED');
    expect(daemon.list(tenant.dify).map((item) => item.plugin_unique_identifier)).toEqual([
      v1.unique_identifier,
    ]);

    await dynamo.send(
      new UpdateCommand({
        TableName: stack.mainTable,
        Key: tableKeys.installation(tenant.id, pluginId),
        UpdateExpression: 'SET #lock.expires_at = :past',
        ExpressionAttributeNames: { '#lock': 'lock' },
        ExpressionAttributeValues: { ':past': '2000-01-01T00:00:00.000Z' },
      }),
    );
    const next = await deployAndWait(tenant, {
      operation: 'upgrade',
      unique_identifier: v3.unique_identifier,
    });
    expect(next.status, JSON.stringify(next.error)).toBe('succeeded');
    expect(next.drift).toBeUndefined();
    expect(await expectDaemonMatches(tenant)).toEqual([`${pluginId} ${v3.unique_identifier}`]);
  });

  it('a tenant without a Dify tenant id cannot deploy until it has one', async () => {
    const tenant = await newTenant({ dify: false });
    const name = newPluginName();
    const v1 = await publish(name, '1.0.0');
    const refused = await deploy(tenant, { operation: 'install', unique_identifier: v1.unique_identifier });
    expect(refused.status).toBe(422);
    expect(refused.body).toMatchObject({
      type: 'urn:pluginops:problem:dify-tenant-missing',
      detail: expect.stringContaining('has no dify_tenant_id'),
    });
    const bad = await call('PATCH', `/v1/tenants/${tenant.id}`, {
      key: OPERATOR,
      json: { dify_tenant_id: 'workspace-1' },
    });
    expect(bad.status).toBe(400);
    const set = await call('PATCH', `/v1/tenants/${tenant.id}`, {
      key: OPERATOR,
      json: { dify_tenant_id: tenant.dify },
    });
    expect(set.status, set.text).toBe(200);
    expect(set.body).toMatchObject({ tenant_id: tenant.id, dify_tenant_id: tenant.dify });
    const install = await deployAndWait(tenant, {
      operation: 'install',
      unique_identifier: v1.unique_identifier,
    });
    expect(install.status, JSON.stringify(install.error)).toBe('succeeded');
    await expectDaemonMatches(tenant);
  });
});

describe('adoption and drift', () => {
  it('runtime:sync adopts what Dify runs, marking packages that are not in the catalog', async () => {
    const tenant = await newTenant();
    const known = newPluginName();
    const unknown = newPluginName();
    const k1 = await publish(known, '1.0.0');
    const knownUid = await consoleChange(tenant, await packageOf(known, '1.0.0'));
    expect(knownUid).toBe(k1.unique_identifier);
    const unknownUid = await consoleChange(tenant, await packageOf(unknown, '3.0.0'));

    const sync = await call('POST', `/v1/tenants/${tenant.id}/runtime:sync`, { key: tenant.admin });
    expect(sync.status, sync.text).toBe(200);
    expect(sync.body.items).toEqual([
      {
        plugin_id: `${AUTHOR}/${known}`,
        unique_identifier: knownUid,
        revision: 1,
        changed: true,
        in_catalog: true,
      },
      {
        plugin_id: `${AUTHOR}/${unknown}`,
        unique_identifier: unknownUid,
        revision: 1,
        changed: true,
        in_catalog: false,
      },
    ]);
    expect(await expectDaemonMatches(tenant)).toHaveLength(2);
    const items = await installations(tenant);
    expect(items.find((item) => item.plugin_id === `${AUTHOR}/${unknown}`)).toMatchObject({
      not_in_catalog: true,
    });
    expect((await revisions(tenant, `${AUTHOR}/${known}`))[0]).toMatchObject({
      operation: 'adopted',
      revision: 1,
    });

    // Again: nothing changes.
    const again = await call('POST', `/v1/tenants/${tenant.id}/runtime:sync`, { key: tenant.admin });
    expect(again.body.items.map((item: { changed: boolean }) => item.changed)).toEqual([false, false]);

    // History starts from reality: an upgrade of the adopted plugin is an upgrade.
    const k2 = await publish(known, '1.1.0');
    const upgrade = await deployAndWait(tenant, {
      operation: 'upgrade',
      unique_identifier: k2.unique_identifier,
    });
    expect(upgrade.status, JSON.stringify(upgrade.error)).toBe('succeeded');
    expect(upgrade.plan.steps[0]).toMatchObject({
      action: 'upgrade',
      from: { unique_identifier: knownUid, revision: 1 },
    });
    await expectDaemonMatches(tenant);
  });

  it('drift with on_drift fail: the deployment fails before anything changes, and installations show it', async () => {
    const tenant = await newTenant();
    const name = newPluginName();
    const pluginId = `${AUTHOR}/${name}`;
    const v1 = await publish(name, '1.0.0');
    const v3 = await publish(name, '1.2.0');
    expect(
      (await deployAndWait(tenant, { operation: 'install', unique_identifier: v1.unique_identifier })).status,
    ).toBe('succeeded');
    const behindBack = await consoleChange(tenant, await packageOf(name, '1.1.0'), v1.unique_identifier);

    const upgrade = await deployAndWait(tenant, {
      operation: 'upgrade',
      unique_identifier: v3.unique_identifier,
    });
    expect(upgrade.status).toBe('failed');
    expect(upgrade.error).toMatchObject({ type: 'urn:pluginops:problem:runtime-drift' });
    const drift = {
      plugin_id: pluginId,
      kind: 'changed-behind-back',
      recorded: v1.unique_identifier,
      observed: behindBack,
    };
    expect(upgrade.drift).toEqual([drift]);
    const installation = (await installations(tenant)).find((item) => item.plugin_id === pluginId);
    expect(installation).toMatchObject({ unique_identifier: v1.unique_identifier, drift });
    expect((await events(upgrade.deployment_id)).map((event) => event['detail-type'])).toContain(
      'Runtime Drift Detected',
    );
    // Nothing was changed in Dify.
    expect(daemon.list(tenant.dify).map((item) => item.plugin_unique_identifier)).toEqual([behindBack]);

    // Adopting clears the drift; the upgrade then runs from what Dify really runs.
    expect((await call('POST', `/v1/tenants/${tenant.id}/runtime:sync`, { key: tenant.admin })).status).toBe(
      200,
    );
    expect((await installations(tenant)).find((item) => item.plugin_id === pluginId)?.drift).toBeUndefined();
    await expectDaemonMatches(tenant);
    const retry = await deployAndWait(tenant, {
      operation: 'upgrade',
      unique_identifier: v3.unique_identifier,
    });
    expect(retry.status, JSON.stringify(retry.error)).toBe('succeeded');
    await expectDaemonMatches(tenant);
  });

  it('drift with on_drift adopt: recorded as adopted, then the deployment goes on', async () => {
    const tenant = await newTenant({ policy: { on_drift: 'adopt' } });
    const name = newPluginName();
    const pluginId = `${AUTHOR}/${name}`;
    const v1 = await publish(name, '1.0.0');
    const v3 = await publish(name, '1.2.0');
    expect(
      (await deployAndWait(tenant, { operation: 'install', unique_identifier: v1.unique_identifier })).status,
    ).toBe('succeeded');
    // Removed in the Dify console behind pluginops' back.
    const listed = daemon.list(tenant.dify)[0];
    const removed = await fetch(`${daemon.url}/plugin/${tenant.dify}/management/uninstall`, {
      method: 'POST',
      headers: {
        'X-Api-Key': process.env.PLUGINOPS_DIFY_DAEMON_KEY as string,
        'Content-Type': 'application/json',
      },
      body: JSON.stringify({ plugin_installation_id: listed?.installation_id }),
    });
    expect(removed.status).toBe(200);

    const upgrade = await deployAndWait(tenant, {
      operation: 'install',
      unique_identifier: v3.unique_identifier,
    });
    expect(upgrade.status, JSON.stringify(upgrade.error)).toBe('succeeded');
    expect(upgrade.drift).toEqual([
      { plugin_id: pluginId, kind: 'removed-behind-back', recorded: v1.unique_identifier, observed: null },
    ]);
    const history = await revisions(tenant, pluginId);
    expect(history.slice(0, 2).map((item) => [item.operation, item.unique_identifier])).toEqual([
      ['install', v3.unique_identifier],
      ['adopted', null],
    ]);
    expect(await expectDaemonMatches(tenant)).toEqual([`${pluginId} ${v3.unique_identifier}`]);
  });
});
