/**
 * The auto-upgrade sweep end to end on the shared local stack: `POST /v1/sweeps {at}` → the real
 * `statemachines/sweep.asl.json` → the real deploy workflow → the local plugin host.
 *
 * The stack is shared, so every tenant here is new, and each scenario uses a UTC quarter-hour slot
 * that no other tenant is indexed under (checked in DynamoDB Local), a few hours ahead: the
 * tenants' upgrade time is that slot, and the sweeps are run "as if" at the end of its window on
 * consecutive days — only our tenants are due there.
 */
import { randomBytes } from 'node:crypto';
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { keys as dynamoKeys } from '#adapters/dynamo/keys.ts';
import { slotOf, utcOffsetMs, WINDOW_MS } from '#core/auto-upgrade/schedule.ts';
import { createApiClient, eventually } from '#test/support/api-client.ts';
import { dynamoClient } from '#test/support/local-stack.ts';
import { buildPackage } from '#test/support/package-builder.ts';
import { privateStack } from '#test/support/private-stack.ts';

// Sweeps upgrade every due tenant of a stage: a stack of its own keeps them off other files' tenants.
const stack = privateStack();
const call = createApiClient(() => stack.baseUrl);
const operator = stack.bootstrapKey;
const ddb = DynamoDBDocumentClient.from(dynamoClient(stack));
const run = randomBytes(3).toString('hex');
const AUTHOR = `sw${run}`;
const DAY_MS = 86_400_000;
const FINAL = new Set(['succeeded', 'failed', 'rolled_back', 'rejected']);

/** Distinct quarter-hours 4–20 h ahead whose slot partition is empty right now. */
const instants: Date[] = [];

beforeAll(async () => {
  const base = Math.ceil(Date.now() / WINDOW_MS) * WINDOW_MS + 4 * 3_600_000;
  for (let step = 0; instants.length < 3 && step < 64; step += 1) {
    const candidate = new Date(base + step * WINDOW_MS * 3);
    const { Count } = await ddb.send(
      new QueryCommand({
        TableName: stack.mainTable,
        IndexName: 'GSI2',
        KeyConditionExpression: 'GSI2PK = :pk',
        ExpressionAttributeValues: { ':pk': dynamoKeys.autoUpgradeSlotIndex(slotOf(candidate), 'x').GSI2PK },
        Select: 'COUNT',
      }),
    );
    if (Count === 0) instants.push(candidate);
  }
  expect(instants).toHaveLength(3);
});

// ── helpers ─────────────────────────────────────────────────────────────────────────────────────

let tenantCount = 0;
async function newTenant(label: string): Promise<string> {
  tenantCount += 1;
  const id = `sw-${run}-${label}-${tenantCount}`;
  const response = await call('POST', '/v1/tenants', { key: operator, json: { tenant_id: id } });
  expect(response.status, response.text).toBe(201);
  return id;
}

async function publish(name: string, version: string): Promise<string> {
  const body = await buildPackage({
    manifest: { author: AUTHOR, name, version, meta: { version } } as never,
  });
  const response = await call('POST', '/v1/packages:raw', {
    key: operator,
    body,
    headers: { 'content-type': 'application/octet-stream' },
  });
  expect([200, 201], response.text).toContain(response.status);
  return response.body.unique_identifier as string;
}

async function finished(tenant: string, deploymentId: string) {
  return eventually(async () => {
    const response = await call('GET', `/v1/tenants/${tenant}/deployments/${deploymentId}`, {
      key: operator,
    });
    return FINAL.has(response.body.status) ? response.body : undefined;
  }, 60_000);
}

async function install(tenant: string, uniqueIdentifier: string): Promise<void> {
  const response = await call('POST', `/v1/tenants/${tenant}/deployments`, {
    key: operator,
    json: { operation: 'install', unique_identifier: uniqueIdentifier },
  });
  expect(response.status, response.text).toBe(202);
  expect((await finished(tenant, response.body.deployment_id)).status).toBe('succeeded');
}

/** Seconds after local midnight in `timeZone` at which the wall clock shows `instant`. */
function localTimeOfDay(instant: Date, timeZone: string): number {
  const local = instant.getTime() + utcOffsetMs(timeZone, instant);
  return Math.floor((((local % DAY_MS) + DAY_MS) % DAY_MS) / 1000);
}

async function setAutoUpgrade(tenant: string, settings: Record<string, unknown>): Promise<void> {
  const response = await call('PUT', `/v1/tenants/${tenant}/auto-upgrade`, { key: operator, json: settings });
  expect(response.status, response.text).toBe(200);
}

async function sweep(at: Date) {
  const response = await call('POST', '/v1/sweeps', {
    key: operator,
    json: { at: at.toISOString() },
    timeoutMs: 40_000,
  });
  expect(response.status, response.text).toBe(200);
  return response.body as Record<string, any>;
}

async function runs(tenant: string): Promise<Array<Record<string, any>>> {
  const response = await call('GET', `/v1/tenants/${tenant}/auto-upgrade/runs`, { key: operator });
  expect(response.status).toBe(200);
  return response.body.items;
}

async function installed(tenant: string, pluginId: string): Promise<Record<string, any> | undefined> {
  const response = await call('GET', `/v1/tenants/${tenant}/installations`, { key: operator });
  return (response.body.items as Array<Record<string, any>>).find((item) => item.plugin_id === pluginId);
}

/**
 * Waits for the deployments a tenant's latest run started. Reading a run settles it: a deployment
 * that has already ended refused (a fast rollback) is listed under `failed` — with its deployment
 * and without `attempts`, which only earlier runs' reported failures carry — not under `upgraded`.
 */
async function settleLatestRun(tenant: string) {
  const [latest] = await runs(tenant);
  const refused = (latest?.failed ?? []).filter(
    (entry: Record<string, unknown>) => entry.deployment_id !== undefined && entry.attempts === undefined,
  );
  const results = [];
  for (const entry of [...(latest?.upgraded ?? []), ...refused]) {
    results.push(await finished(tenant, entry.deployment_id));
  }
  return results;
}

async function hostFault(fault: Record<string, unknown>): Promise<void> {
  const response = await fetch(`${stack.runtimeUrl}/admin/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(fault),
  });
  expect(response.status).toBe(201);
}

async function clearHostFaults(uniqueIdentifier: string): Promise<void> {
  await fetch(`${stack.runtimeUrl}/admin/faults?unique_identifier=${encodeURIComponent(uniqueIdentifier)}`, {
    method: 'DELETE',
  });
}

/** The end of the window that starts at `instant`, `days` later: a sweep "at" it finds the slot due. */
const sweepAt = (instant: Date, days = 0) => new Date(instant.getTime() + days * DAY_MS + WINDOW_MS);

// ── scenarios ───────────────────────────────────────────────────────────────────────────────────

describe('sweep by strategy, mode and time zone', () => {
  it('upgrades exactly what each due tenant allows, records the runs, and leaves others alone', async () => {
    const slotStart = instants[0] as Date;
    const name = `tool${run}`;
    const pluginId = `${AUTHOR}/${name}`;
    const v100 = await publish(name, '1.0.0');
    const tenants = {
      fix: await newTenant('fix'),
      latest: await newTenant('latest'),
      partial: await newTenant('partial'),
      exclude: await newTenant('exclude'),
      disabled: await newTenant('disabled'),
      later: await newTenant('later'),
    };
    for (const tenant of Object.values(tenants)) await install(tenant, v100);
    const at = (zone: string) => ({ timezone: zone, upgrade_time_of_day: localTimeOfDay(slotStart, zone) });
    await setAutoUpgrade(tenants.fix, { strategy_setting: 'fix_only', ...at('UTC') });
    await setAutoUpgrade(tenants.latest, { strategy_setting: 'latest', ...at('Asia/Kolkata') });
    await setAutoUpgrade(tenants.partial, {
      strategy_setting: 'latest',
      upgrade_mode: 'partial',
      include_plugins: [`${AUTHOR}/other`],
      ...at('America/St_Johns'),
    });
    await setAutoUpgrade(tenants.exclude, {
      strategy_setting: 'fix_only',
      upgrade_mode: 'exclude',
      exclude_plugins: [pluginId],
      ...at('America/New_York'),
    });
    await setAutoUpgrade(tenants.disabled, { strategy_setting: 'disabled', ...at('UTC') });
    await setAutoUpgrade(tenants.later, {
      strategy_setting: 'latest',
      timezone: 'UTC',
      upgrade_time_of_day: localTimeOfDay(new Date(slotStart.getTime() + 3_600_000), 'UTC'),
    });
    const v101 = await publish(name, '1.0.1');
    const v110 = await publish(name, '1.1.0');

    const summary = await sweep(sweepAt(slotStart));
    expect(summary).toMatchObject({
      status: 'succeeded',
      execution: expect.stringMatching(/^sweep-\d{8}T\d{4}Z/),
      window: { start: slotStart.toISOString(), slot: slotOf(slotStart) },
      checked: 4,
      due: 4,
      upgraded: 2,
      failed: 0,
      halted: 0,
    });
    expect(summary.skipped_by_reason).toEqual({ 'not-included': 1, excluded: 1 });

    const [fixRun] = await runs(tenants.fix);
    expect(fixRun).toMatchObject({
      checked: 1,
      upgraded: [{ plugin_id: pluginId, from: v100, to: v101 }],
      skipped: [],
      failed: [],
    });
    const [latestRun] = await runs(tenants.latest);
    expect(latestRun?.upgraded).toEqual([expect.objectContaining({ from: v100, to: v110 })]);
    expect((await runs(tenants.partial))[0]?.skipped).toEqual([
      { plugin_id: pluginId, reason: 'not-included' },
    ]);
    expect((await runs(tenants.exclude))[0]?.skipped).toEqual([{ plugin_id: pluginId, reason: 'excluded' }]);
    expect(await runs(tenants.disabled)).toEqual([]);
    expect(await runs(tenants.later)).toEqual([]);

    for (const result of [
      ...(await settleLatestRun(tenants.fix)),
      ...(await settleLatestRun(tenants.latest)),
    ]) {
      expect(result).toMatchObject({ status: 'succeeded', operation: 'auto-upgrade', actor: 'scheduler' });
    }
    expect((await installed(tenants.fix, pluginId))?.unique_identifier).toBe(v101);
    expect((await installed(tenants.latest, pluginId))?.unique_identifier).toBe(v110);
    for (const tenant of [tenants.partial, tenants.exclude, tenants.disabled, tenants.later]) {
      expect((await installed(tenant, pluginId))?.unique_identifier).toBe(v100);
    }

    // The same window again: a re-run (suffixed name) in which nobody is due any more.
    const again = await sweep(sweepAt(slotStart));
    expect(again.execution).toMatch(/-rerun-/);
    expect(again).toMatchObject({ due: 0, upgraded: 0 });
    // Next day: fix_only reaches 1.0.1 already; latest is at 1.1.0 — nothing left to do.
    const nextDay = await sweep(sweepAt(slotStart, 1));
    expect(nextDay).toMatchObject({ due: 4, upgraded: 0 });
  }, 180_000);
});

describe('a failing upgrade', () => {
  it('rolls back, is retried on later sweeps up to 3 times, then alerts once and stays held', async () => {
    const slotStart = instants[1] as Date;
    const name = `flaky${run}`;
    const pluginId = `${AUTHOR}/${name}`;
    const tenant = await newTenant('flaky');
    const v100 = await publish(name, '1.0.0');
    await install(tenant, v100);
    await setAutoUpgrade(tenant, {
      strategy_setting: 'fix_only',
      timezone: 'UTC',
      upgrade_time_of_day: localTimeOfDay(slotStart, 'UTC'),
    });
    const v101 = await publish(name, '1.0.1');
    await hostFault({ unique_identifier: v101, mode: 'fail' });
    try {
      for (let attempt = 1; attempt <= 3; attempt += 1) {
        const summary = await sweep(sweepAt(slotStart, attempt - 1));
        expect(summary, `attempt ${attempt}`).toMatchObject({ due: 1, upgraded: 1 });
        const [result] = await settleLatestRun(tenant);
        expect(result).toMatchObject({ status: 'rolled_back', operation: 'auto-upgrade' });
        const [latest] = await runs(tenant);
        // The run lists its own rolled-back attempt under `failed` (never `upgraded`), and from the
        // second run on it also reports the previous attempt's failure.
        expect(latest?.upgraded).toEqual([]);
        expect(latest?.failed).toHaveLength(attempt === 1 ? 1 : 2);
        expect(latest?.failed).toContainEqual(
          expect.objectContaining({ to: v101, deployment_id: result.deployment_id }),
        );
        if (attempt > 1) {
          expect(latest?.failed).toContainEqual(expect.objectContaining({ to: v101, attempts: attempt - 1 }));
        }
      }
      const exhausted = await sweep(sweepAt(slotStart, 3));
      expect(exhausted).toMatchObject({ due: 1, upgraded: 0, skipped_by_reason: { held: 1 } });
      const [latest] = await runs(tenant);
      expect(latest?.failed).toEqual([
        expect.objectContaining({
          to: v101,
          attempts: 3,
          problem: expect.objectContaining({ detail: expect.any(String) }),
        }),
      ]);
      expect(latest?.skipped).toEqual([{ plugin_id: pluginId, reason: 'held', candidate: v101 }]);
      const alert = await ddb.send(
        new GetCommand({ TableName: stack.mainTable, Key: dynamoKeys.upgradeAlert(tenant, v101) }),
      );
      expect(alert.Item).toMatchObject({ tenant_id: tenant, unique_identifier: v101 });

      const installation = await installed(tenant, pluginId);
      expect(installation?.unique_identifier).toBe(v100);
      expect(installation?.hold?.unique_identifier).toBe(v101);
      // The hold stands: no fourth attempt.
      expect(await sweep(sweepAt(slotStart, 4))).toMatchObject({ due: 1, upgraded: 0 });
      const deployments = await call('GET', `/v1/tenants/${tenant}/deployments?status=rolled_back`, {
        key: operator,
      });
      expect(deployments.body.items).toHaveLength(3);
    } finally {
      await clearHostFaults(v101);
    }
  }, 240_000);
});

describe('canary waves', () => {
  it('upgrades a first wave, halts the build for everyone when it fails, and resumes on the operator route', async () => {
    const slotStart = instants[2] as Date;
    const name = `canary${run}`;
    const pluginId = `${AUTHOR}/${name}`;
    const v100 = await publish(name, '1.0.0');
    const tenants: string[] = [];
    for (let i = 0; i < 4; i += 1) {
      const tenant = await newTenant(`canary${i}`);
      tenants.push(tenant);
      await install(tenant, v100);
      const policy = await call('PUT', `/v1/tenants/${tenant}/policy`, {
        key: operator,
        json: { canary: { percent: 25, failure_threshold: 0 } },
      });
      expect(policy.status, policy.text).toBe(200);
      await setAutoUpgrade(tenant, {
        strategy_setting: 'fix_only',
        timezone: 'UTC',
        upgrade_time_of_day: localTimeOfDay(slotStart, 'UTC'),
      });
    }
    const v101 = await publish(name, '1.0.1');
    await hostFault({ unique_identifier: v101, mode: 'fail' });
    try {
      const first = await sweep(sweepAt(slotStart));
      expect(first).toMatchObject({ due: 4, upgraded: 1, skipped_by_reason: { 'canary-pending': 3 } });
      let waveTenant = '';
      for (const tenant of tenants) {
        const [latest] = await runs(tenant);
        if (latest?.upgraded.length === 1) waveTenant = tenant;
        else
          expect(latest?.skipped).toEqual([
            expect.objectContaining({ reason: 'canary-pending', candidate: v101 }),
          ]);
      }
      expect((await settleLatestRun(waveTenant))[0]?.status).toBe('rolled_back');
    } finally {
      await clearHostFaults(v101);
    }

    const halted = await sweep(sweepAt(slotStart, 1));
    expect(halted).toMatchObject({
      due: 4,
      upgraded: 0,
      halted: 1,
      halted_builds: [v101],
      skipped_by_reason: { halted: 4 },
    });
    const rollout = await ddb.send(
      new GetCommand({ TableName: stack.mainTable, Key: dynamoKeys.rollout(v101) }),
    );
    expect(rollout.Item).toMatchObject({
      status: 'halted',
      wave_result: { attempted: 1, failed: 1 },
      halt: { by: expect.stringContaining('scheduler') },
    });

    const path = `/v1/rollouts/${encodeURIComponent(v101)}/halt`;
    const resumed = await call('DELETE', path, { key: operator });
    expect(resumed.status, resumed.text).toBe(200);
    expect(resumed.body).toMatchObject({ status: 'open', resumed: { by: expect.any(String) } });
    expect((await call('DELETE', path, { key: operator })).status).toBe(409);

    const open = await sweep(sweepAt(slotStart, 2));
    expect(open).toMatchObject({ due: 4, upgraded: 4 });
    for (const tenant of tenants) {
      expect((await settleLatestRun(tenant))[0]?.status).toBe('succeeded');
      expect((await installed(tenant, pluginId))?.unique_identifier).toBe(v101);
    }
  }, 240_000);
});

describe('POST /v1/sweeps', () => {
  it('is for operators only and validates at', async () => {
    const tenant = await newTenant('auth');
    const key = await call('POST', `/v1/tenants/${tenant}/keys`, {
      key: operator,
      json: { scopes: ['admin'] },
    });
    const tenantAdmin = await call('POST', '/v1/sweeps', { key: key.body.key, json: {} });
    expect([403, 404]).toContain(tenantAdmin.status);
    const bad = await call('POST', '/v1/sweeps', { key: operator, json: { at: 'yesterday' } });
    expect(bad.status).toBe(400);
    expect(bad.body.type).toBe('urn:pluginops:problem:validation-failed');
  });
});
