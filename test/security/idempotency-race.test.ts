/**
 * Issue 14, "Idempotency race": ten concurrent `POST …/deployments` with one Idempotency-Key must
 * run the deployment once; the others are refused with `idempotency-in-progress` (or, once the
 * first has finished, get its stored answer) — never a second deployment, never a plain
 * `conflict`. A later replay returns the same deployment id.
 */
import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { createApiClient, eventually } from '#test/support/api-client.ts';
import { stackInfo } from '#test/support/local-stack.ts';
import { buildPackage } from '#test/support/package-builder.ts';
import { PROBLEM } from './support.ts';

const stack = stackInfo();
const call = createApiClient(stack.baseUrl);
const operator = stack.bootstrapKey;
const run = randomBytes(3).toString('hex');
const tenant = `idem-${run}`;
const FINAL = new Set(['succeeded', 'failed', 'rolled_back', 'rejected']);
let deployer = '';

beforeAll(async () => {
  expect((await call('POST', '/v1/tenants', { key: operator, json: { tenant_id: tenant } })).status).toBe(
    201,
  );
  const issued = await call('POST', `/v1/tenants/${tenant}/keys`, {
    key: operator,
    json: { scopes: ['read', 'deploy:write'] },
  });
  deployer = issued.body.key as string;
});

async function publish(name: string): Promise<string> {
  const response = await call('POST', '/v1/packages:raw', {
    key: operator,
    body: await buildPackage({ manifest: { author: `idem${run}`, name, version: '1.0.0' } as never }),
    headers: { 'content-type': 'application/octet-stream' },
  });
  expect(response.status, response.text).toBe(201);
  return response.body.unique_identifier as string;
}

describe('Idempotency-Key under concurrency', () => {
  it('ten concurrent requests start one deployment; replays return it for the key lifetime', async () => {
    for (let trial = 0; trial < 3; trial += 1) {
      const uid = await publish(`race${trial}`);
      const key = `race-${run}-${trial}`;
      const send = () =>
        call('POST', `/v1/tenants/${tenant}/deployments`, {
          key: deployer,
          json: { operation: 'install', unique_identifier: uid },
          headers: { 'idempotency-key': key },
        });
      const answers = await Promise.all(Array.from({ length: 10 }, send));
      const accepted = answers.filter((answer) => answer.status === 202);
      const refused = answers.filter((answer) => answer.status !== 202);
      expect(accepted.length, JSON.stringify(answers.map((a) => a.body))).toBeGreaterThanOrEqual(1);
      for (const answer of refused) {
        expect(answer.status, answer.text).toBe(409);
        expect(answer.body.type).toBe(`${PROBLEM}idempotency-in-progress`);
      }
      const ids = new Set(accepted.map((answer) => answer.body.deployment_id as string));
      expect(ids.size).toBe(1);
      const [deploymentId] = [...ids];

      const listed = await call('GET', `/v1/tenants/${tenant}/deployments`, { key: operator });
      const forUid = (listed.body.items as Array<Record<string, any>>).filter(
        (item) => item.target?.unique_identifier === uid,
      );
      expect(forUid.map((item) => item.deployment_id)).toEqual([deploymentId]);

      await eventually(async () => {
        const got = await call('GET', `/v1/tenants/${tenant}/deployments/${deploymentId}`, { key: operator });
        return FINAL.has(got.body.status) ? true : undefined;
      }, 60_000);
      const replay = await send();
      expect(replay.status, replay.text).toBe(202);
      expect(replay.body.deployment_id).toBe(deploymentId);
    }
  }, 180_000);
});
