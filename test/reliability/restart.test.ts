/**
 * Restart (issue 10, Reliability): a private stack on a temp data dir accepts work, is stopped
 * while a deployment is in flight (its Apply committed, its probe hanging on the host), and is
 * started again on the same data dir and ports. Nothing accepted may be lost — catalog entries,
 * installations, revisions, S3 objects — and the interrupted deployment must be recoverable: its
 * lease protects the plugin until it expires, then the next deployment takes over and settles it.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { findInstallation, listRevisions } from '#adapters/dynamo/installations.ts';
import { s3Client } from '#adapters/s3/blob-store.ts';
import { eventually } from '#test/support/api-client.ts';
import { freePort } from '#test/support/free-port.ts';
import {
  ageLease,
  checkDeployments,
  checkPlugin,
  createTenant,
  deploy,
  deployAndSettle,
  deploymentOf,
  fastTempDir,
  type Harness,
  hostFault,
  OPERATOR,
  publish,
  readEvents,
  startHarness,
} from './harness.ts';

vi.hoisted(() => {
  process.env.PLUGINOPS_LOG_LEVEL = 'CRITICAL';
});

const run = randomBytes(3).toString('hex');
const AUTHOR = `rst${run}`;

let h: Harness | undefined;
let dataDir: string | undefined;

afterAll(async () => {
  await h?.stack.stop();
  delete process.env.PLUGINOPS_EVENTS_FILE;
  if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
});

async function bucketKeys(bucket: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await (await s3Client()).send(
      new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }),
    );
    keys.push(...(page.Contents ?? []).map((object) => object.Key ?? ''));
    token = page.NextContinuationToken;
  } while (token !== undefined);
  return keys.sort();
}

describe('restart mid-workload', () => {
  it('loses nothing accepted, and the interrupted deployment is recoverable', async () => {
    dataDir = await mkdtemp(join(fastTempDir(), 'pluginops-restart-'));
    const ports = { port: await freePort(), dynamodbPort: await freePort(), s3Port: await freePort() };
    // A probe that hangs holds the deployment in flight long enough to stop the stack under it.
    const start = () => startHarness({ dataDir, ...ports, probeTimeoutMs: 5_000 });

    h = await start();
    const tenant = await createTenant(h.call, `rst${run}`);
    const v1 = await publish(h.call, AUTHOR, 'alpha', '1.0.0');
    const v2 = await publish(h.call, AUTHOR, 'alpha', '1.1.0');
    const other = await publish(h.call, AUTHOR, 'beta', '1.0.0');
    expect(
      (await deployAndSettle(h, tenant, { operation: 'install', unique_identifier: v1.unique_identifier }))
        .status,
    ).toBe('succeeded');
    expect(
      (await deployAndSettle(h, tenant, { operation: 'install', unique_identifier: other.unique_identifier }))
        .status,
    ).toBe('succeeded');

    await hostFault(h, { tenant_id: tenant.id, unique_identifier: v2.unique_identifier, mode: 'timeout' });
    const upgrade = await deploy(h.call, tenant, {
      operation: 'upgrade',
      unique_identifier: v2.unique_identifier,
    });
    expect(upgrade.status).toBe(202);
    const interrupted = upgrade.body.deployment_id as string;
    // In flight: Apply has committed the new revision, the probe is waiting on the host.
    await eventually(
      async () => {
        const steps = (await deploymentOf(h!.call, tenant, interrupted)).steps as Array<{ name: string }>;
        return steps.some((step) => step.name === 'Probe') ? true : undefined;
      },
      20_000,
      20,
    );
    const late = await publish(h.call, AUTHOR, 'alpha', '1.2.0'); // accepted just before the stop

    const packages = [v1, v2, other, late].map((p) => p.unique_identifier);
    const before = {
      alpha: await findInstallation(tenant.id, v1.plugin_id),
      beta: await findInstallation(tenant.id, other.plugin_id),
      revisions: (await listRevisions(tenant.id, v1.plugin_id, { limit: 100 })).items,
      objects: await bucketKeys(h.stack.bucket),
      events: (await readEvents(h)).length,
    };
    expect(before.alpha).toMatchObject({
      unique_identifier: v2.unique_identifier,
      lock: { deployment_id: interrupted },
    });
    expect(h.stack.workflows.describeExecution(interrupted)?.status).toBe('RUNNING');

    await h.stack.stop();
    h = await start();

    // Nothing accepted is lost.
    for (const uid of packages) {
      const response = await h.call('GET', `/v1/packages/${encodeURIComponent(uid)}`, { key: OPERATOR });
      expect(response.status, uid).toBe(200);
    }
    expect(await findInstallation(tenant.id, v1.plugin_id)).toEqual(before.alpha);
    expect(await findInstallation(tenant.id, other.plugin_id)).toEqual(before.beta);
    expect((await listRevisions(tenant.id, v1.plugin_id, { limit: 100 })).items).toEqual(before.revisions);
    expect(await bucketKeys(h.stack.bucket)).toEqual(expect.arrayContaining(before.objects));
    expect((await readEvents(h)).length).toBeGreaterThanOrEqual(before.events);
    const deployments = await h.call('GET', `/v1/tenants/${tenant.id}/deployments`, { key: tenant.deployer });
    expect(deployments.body.items).toHaveLength(3);

    // The interrupted deployment's lease still protects the plugin; once it expires, the next
    // deployment takes over, settles it, and finishes.
    expect(
      (await deploy(h.call, tenant, { operation: 'upgrade', unique_identifier: late.unique_identifier }))
        .status,
    ).toBe(409);
    expect(await ageLease(h.stack, tenant.id, v1.plugin_id)).toBe(true);
    const next = await deployAndSettle(h, tenant, {
      operation: 'upgrade',
      unique_identifier: late.unique_identifier,
    });
    expect(next.status).toBe('succeeded');
    expect((await deploymentOf(h.call, tenant, interrupted)).status).toBe('failed');

    const violations = [
      ...(await checkPlugin(tenant.id, v1.plugin_id, { settled: true, allowed: [late.unique_identifier] }))
        .violations,
      ...(
        await checkPlugin(tenant.id, other.plugin_id, { settled: true, allowed: [other.unique_identifier] })
      ).violations,
      ...(await checkDeployments(h, tenant.id)),
    ];
    expect(violations).toEqual([]);
  }, 120_000);
});
