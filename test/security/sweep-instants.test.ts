/**
 * Issue 14, "Sweeps as if at any instant": an operator sweep at a far-future instant used to
 * re-index the tenant from there (silently turning auto-upgrade off for 9999), and a run listed an
 * upgrade Verify refused under `upgraded`.
 */
import { randomBytes } from 'node:crypto';
import { DynamoDBDocumentClient, GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { keys as dynamoKeys } from '#adapters/dynamo/keys.ts';
import { slotOf, WINDOW_MS } from '#core/auto-upgrade/schedule.ts';
import { createApiClient, eventually } from '#test/support/api-client.ts';
import { dynamoClient } from '#test/support/local-stack.ts';
import { buildPackage } from '#test/support/package-builder.ts';
import { privateStack } from '#test/support/private-stack.ts';
import { PROBLEM } from './support.ts';

// Sweeps upgrade every due tenant of a stage: a stack of its own keeps them off other files' tenants.
const stack = privateStack();
const call = createApiClient(() => stack.baseUrl);
const operator = stack.bootstrapKey;
const ddb = DynamoDBDocumentClient.from(dynamoClient(stack));
const run = randomBytes(3).toString('hex');
const tenant = `swi-${run}`;
const FINAL = new Set(['succeeded', 'failed', 'rolled_back', 'rejected']);
let slotStart: Date;

async function publish(version: string): Promise<string> {
  const response = await call('POST', '/v1/packages:raw', {
    key: operator,
    body: await buildPackage({
      manifest: { author: `swi${run}`, name: 'tool', version, meta: { version } } as never,
    }),
    headers: { 'content-type': 'application/octet-stream' },
  });
  expect(response.status, response.text).toBe(201);
  return response.body.unique_identifier as string;
}

async function finished(deploymentId: string) {
  return eventually(async () => {
    const got = await call('GET', `/v1/tenants/${tenant}/deployments/${deploymentId}`, { key: operator });
    return FINAL.has(got.body.status) ? got.body : undefined;
  }, 60_000);
}

async function storedSchedule() {
  const { Item } = await ddb.send(
    new GetCommand({ TableName: stack.mainTable, Key: dynamoKeys.autoUpgrade(tenant) }),
  );
  return { next_run_at: Item?.next_run_at, slot: Item?.GSI2PK };
}

beforeAll(async () => {
  const base = Math.ceil(Date.now() / WINDOW_MS) * WINDOW_MS + 50 * 3_600_000;
  for (let step = 0; step < 64; step += 1) {
    const candidate = new Date(base + step * WINDOW_MS * 7);
    const { Count } = await ddb.send(
      new QueryCommand({
        TableName: stack.mainTable,
        IndexName: 'GSI2',
        KeyConditionExpression: 'GSI2PK = :pk',
        ExpressionAttributeValues: { ':pk': dynamoKeys.autoUpgradeSlotIndex(slotOf(candidate), 'x').GSI2PK },
        Select: 'COUNT',
      }),
    );
    if (Count === 0) {
      slotStart = candidate;
      break;
    }
  }
  expect((await call('POST', '/v1/tenants', { key: operator, json: { tenant_id: tenant } })).status).toBe(
    201,
  );
  const v1 = await publish('1.0.0');
  const install = await call('POST', `/v1/tenants/${tenant}/deployments`, {
    key: operator,
    json: { operation: 'install', unique_identifier: v1 },
  });
  expect(install.status, install.text).toBe(202);
  expect((await finished(install.body.deployment_id)).status).toBe('succeeded');
  const settings = await call('PUT', `/v1/tenants/${tenant}/auto-upgrade`, {
    key: operator,
    json: {
      strategy_setting: 'latest',
      timezone: 'UTC',
      upgrade_time_of_day: (slotStart.getTime() % 86_400_000) / 1000,
    },
  });
  expect(settings.status, settings.text).toBe(200);
}, 90_000);

describe('operator sweeps at arbitrary instants', () => {
  it('refuses an instant far from now and leaves the schedule alone', async () => {
    const before = await storedSchedule();
    expect(before.slot).toEqual(expect.any(String));
    const response = await call('POST', '/v1/sweeps', {
      key: operator,
      json: { at: '9999-12-31T23:45:30Z' },
    });
    expect(response.status, response.text).toBe(400);
    expect(response.body.type).toBe(`${PROBLEM}validation-failed`);
    expect(await storedSchedule()).toEqual(before);
  });

  it('an as-if sweep moves the next run to the first slot after it; a refused upgrade is listed as failed', async () => {
    // Verify will refuse the new build: the tenant now requires signatures, the build is unsigned.
    const policy = await call('PUT', `/v1/tenants/${tenant}/policy`, {
      key: operator,
      json: { require_signature: true },
    });
    expect(policy.status, policy.text).toBe(200);
    await publish('1.0.1');
    const sweep = await call('POST', '/v1/sweeps', {
      key: operator,
      json: { at: new Date(slotStart.getTime() + WINDOW_MS).toISOString() },
      timeoutMs: 40_000,
    });
    expect(sweep.status, sweep.text).toBe(200);
    expect(sweep.body.due).toBe(1);
    // The documented effect of an operator sweep: the run counts as the tenant's run of that slot.
    expect((await storedSchedule()).next_run_at).toBe(
      new Date(slotStart.getTime() + 86_400_000).toISOString(),
    );

    const started = await call('GET', `/v1/tenants/${tenant}/auto-upgrade/runs`, { key: operator });
    const deploymentId = (started.body.items[0]?.upgraded[0] ?? started.body.items[0]?.failed[0])
      ?.deployment_id;
    expect(deploymentId).toEqual(expect.any(String));
    const deployment = await finished(deploymentId);
    expect(deployment.status).toBe('failed');
    const runs = await call('GET', `/v1/tenants/${tenant}/auto-upgrade/runs`, { key: operator });
    expect(runs.body.items[0].upgraded).toEqual([]);
    expect(runs.body.items[0].failed).toEqual([
      expect.objectContaining({
        deployment_id: deploymentId,
        problem: expect.objectContaining({ type: `${PROBLEM}signature-required` }),
      }),
    ]);
  }, 120_000);
});
