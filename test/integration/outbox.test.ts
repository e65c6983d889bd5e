/**
 * The transactional outbox on the real engines: status changes and their events are stored in one
 * DynamoDB Local transaction, DynamoDB Local's stream carries them to the local relay, and the
 * relay's sink (standing in for EventBridge PutEvents) fails again and again. Every event still
 * arrives, exactly once after dedupe on `event_id`, and a restart delivers what was stored but
 * not yet delivered.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dynamoClient } from '#adapters/dynamo/client.ts';
import { type DomainEvent, fileSink } from '#adapters/events.ts';
import { dedupeEvents } from '#core/events.ts';
import { type LocalStack, startLocalStack } from '#local/stack.ts';
import { createApiClient, eventually } from '#test/support/api-client.ts';
import { freePort } from '#test/support/free-port.ts';
import { sharedEngineOptions } from '#test/support/local-stack.ts';
import { buildPackage } from '#test/support/package-builder.ts';

const OPERATOR = `po_${'o'.repeat(43)}`;
const run = randomBytes(3).toString('hex');
const AUTHOR = `ob${run}`;

let dataDir: string;
let eventsFile: string;
let stack: LocalStack;
let call: ReturnType<typeof createApiClient>;
/** Deliveries to fail: `before` fails without writing, `after` writes then fails (a lost ack). */
const script: Array<'before' | 'after' | 'ok'> = [];
let deliveries = 0;

/** A restart keeps the ports: the SDK clients of this process keep their endpoints. */
const ports = { port: 0, dynamodbPort: 0, s3Port: 0 };
/** The run's DynamoDB Local and one stage for both lives of the stack (the tables outlive it). */
const engine = sharedEngineOptions();

async function start(): Promise<void> {
  const file = fileSink(eventsFile);
  stack = await startLocalStack({
    dataDir,
    ...ports,
    ...engine,
    bootstrapKey: OPERATOR,
    quiet: true,
    workflows: { timeScale: 0.01 },
    // The relay's backoff doubles up to 2 s; capped at 100 ms here the scripted failures cost
    // a second, not twenty, and still arrive in order.
    outboxRetryMaxMs: 100,
    eventSink: {
      async deliver(events: readonly DomainEvent[]) {
        const step = script.shift() ?? 'ok';
        deliveries += 1;
        if (step === 'before') throw new Error('PutEvents: ServiceUnavailable');
        await file.deliver(events);
        if (step === 'after') throw new Error('PutEvents: socket hang up after the request was sent');
      },
    },
  });
  call = createApiClient(stack.baseUrl);
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'pluginops-outbox-'));
  eventsFile = join(dataDir, 'delivered.jsonl');
  Object.assign(ports, { port: await freePort(), dynamodbPort: await freePort(), s3Port: await freePort() });
  await start();
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

interface Delivered {
  id: string;
  /** The id consumers dedupe on (the line's `id`, also `detail.event_id`). */
  event_id: string;
  'detail-type': string;
  detail: Record<string, any>;
}

async function delivered(): Promise<Delivered[]> {
  await stack.outbox.drained(30_000);
  const text = await readFile(eventsFile, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line))
    .map((line) => ({ ...line, event_id: line.id }));
}

async function deploy(tenantId: string, body: Record<string, unknown>) {
  const response = await call('POST', `/v1/tenants/${tenantId}/deployments`, { key: OPERATOR, json: body });
  expect(response.status, response.text).toBe(202);
  const id = response.body.deployment_id as string;
  await stack.workflows.waitForExecution(id, 30_000);
  return (await call('GET', `/v1/tenants/${tenantId}/deployments/${id}`, { key: OPERATOR })).body;
}

async function publish(version: string): Promise<string> {
  const body = await buildPackage({
    manifest: { author: AUTHOR, name: 'relay', version, meta: { version } } as never,
  });
  const response = await call('POST', '/v1/packages:raw', {
    key: OPERATOR,
    body,
    headers: { 'content-type': 'application/octet-stream' },
  });
  expect([200, 201]).toContain(response.status);
  return response.body.unique_identifier as string;
}

describe('transactional outbox', () => {
  it('PutEvents failing again and again: every event arrives, exactly once after dedupe', async () => {
    const tenant = `outbox-${run}`;
    expect((await call('POST', '/v1/tenants', { key: OPERATOR, json: { tenant_id: tenant } })).status).toBe(
      201,
    );
    const v1 = await publish('1.0.0');
    const v2 = await publish('2.0.0');
    script.push('before', 'before', 'after', 'before', 'after', 'before', 'before', 'after');
    const installed = await deploy(tenant, { operation: 'install', unique_identifier: v1 });
    expect(installed.status).toBe('succeeded');
    // A failing upgrade: its failure and rollback events are the ones that must never be lost.
    const fault = await fetch(`${stack.runtimeUrl}/admin/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ tenant_id: tenant, unique_identifier: v2, mode: 'fail' }),
    });
    expect(fault.status).toBe(201);
    script.push('before', 'after', 'before', 'before', 'after');
    const failed = await deploy(tenant, { operation: 'upgrade', unique_identifier: v2 });
    expect(failed.status).toBe('rolled_back');

    const all = await delivered();
    const mine = (id: string) => all.filter((event) => event.detail.deployment_id === id);
    // Duplicates were delivered (lost acknowledgements) …
    expect(all.length).toBeGreaterThan(dedupeEvents(all).length);
    expect(deliveries).toBeGreaterThan(dedupeEvents(all).length);
    // … and after dedupe every event is there exactly once, in the order it happened.
    const types = (id: string) => dedupeEvents(mine(id)).map((event) => event['detail-type']);
    expect(types(installed.deployment_id)).toEqual([
      'Deployment Started',
      'Installation Changed',
      'Deployment Succeeded',
    ]);
    expect(types(failed.deployment_id)).toEqual([
      'Deployment Started',
      'Installation Changed',
      'Installation Changed',
      'Deployment Rolled Back',
      'Deployment Failed',
    ]);
    for (const event of all) expect(event.detail.event_id).toBe(event.id);
  });

  it('an idle relay slows to one pass a second, and a write through the stack wakes it at once', async () => {
    const tenant = `outbox-idle-${run}`;
    expect((await call('POST', '/v1/tenants', { key: OPERATOR, json: { tenant_id: tenant } })).status).toBe(
      201,
    );
    // Quiet: after the 2 s busy window the pause doubles 50 → 1000 ms.
    await eventually(async () => (stack.outbox.pace().pauseMs === 1_000 ? true : undefined), 10_000);
    const idleFrom = stack.outbox.pace().passes;
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(stack.outbox.pace().passes - idleFrom).toBeLessThanOrEqual(4);
    // Any write through the handlers' client ends the idle pace at once (before the next pass).
    await dynamoClient().send(
      new PutItemCommand({
        TableName: stack.mainTable,
        Item: { PK: { S: `TEST#outbox-idle-${run}` }, SK: { S: 'nudge' } },
      }),
    );
    expect(stack.outbox.pace().pauseMs).toBe(50);
    // A publish stores its event in the same transaction: delivered at the busy pace.
    const v3 = await publish('3.0.0');
    const published = Date.now();
    const arrived = await eventually(
      async () => {
        const text = await readFile(eventsFile, 'utf8').catch(() => '');
        return text.includes(v3) ? Date.now() : undefined;
      },
      5_000,
      10,
    );
    expect(arrived - published).toBeLessThan(600);
  });

  it('events stored while the relay could not deliver arrive after a restart', async () => {
    const tenant = `outbox-restart-${run}`;
    // Every delivery fails until the stack stops: the events wait in the table.
    script.push(...Array.from({ length: 10_000 }, () => 'before' as const));
    expect((await call('POST', '/v1/tenants', { key: OPERATOR, json: { tenant_id: tenant } })).status).toBe(
      201,
    );
    const v1 = await publish('1.0.0');
    const deployment = await deploy(tenant, { operation: 'install', unique_identifier: v1 });
    expect(deployment.status).toBe('succeeded');
    const before = (await readFile(eventsFile, 'utf8').catch(() => '')).includes(deployment.deployment_id);
    expect(before).toBe(false);
    await stack.stop();
    script.length = 0;
    await start();
    await eventually(async () => {
      const types = dedupeEvents(
        (await delivered()).filter((event) => event.detail.deployment_id === deployment.deployment_id),
      ).map((event) => event['detail-type']);
      return types.length === 3 ? types : undefined;
    }, 30_000);
    const types = dedupeEvents(
      (await delivered()).filter((event) => event.detail.deployment_id === deployment.deployment_id),
    ).map((event) => event['detail-type']);
    expect(types).toEqual(['Deployment Started', 'Installation Changed', 'Deployment Succeeded']);
  });
});
