/**
 * Supply-chain attacks from issue 14 against the shared local stack (docs/security.md): a tenant
 * pushing a build into another tenant (catalog hijack through listing, install, plan and the
 * auto-upgrade sweep), publishing under someone else's or a vendor's author, an `invalid`
 * signature, and squatting the genuine build's identifier with a copy — in both orders.
 */
import { randomBytes } from 'node:crypto';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { keys as dynamoKeys } from '#adapters/dynamo/keys.ts';
import { slotOf, WINDOW_MS } from '#core/auto-upgrade/schedule.ts';
import { byteSourceFromBuffer } from '#core/package/byte-source.ts';
import { generateSigningKeyPair, type SigningKeyPair, signPackage } from '#core/package/sign.ts';
import { createApiClient, encodeId, eventually } from '#test/support/api-client.ts';
import { runCliInProcess } from '#test/support/cli-in-process.ts';
import { dynamoClient } from '#test/support/local-stack.ts';
import { buildPackage } from '#test/support/package-builder.ts';
import { privateStack } from '#test/support/private-stack.ts';
import { PROBLEM } from './support.ts';

// Sweeps upgrade every due tenant of a stage: a stack of its own keeps them off other files' tenants.
const stack = privateStack();
const call = createApiClient(() => stack.baseUrl);
const operator = stack.bootstrapKey;
const run = randomBytes(3).toString('hex');
const attacker = `att-${run}`;
const victim = `vic-${run}`;
const AUTHOR = `sc${run}`;
const FINAL = new Set(['succeeded', 'failed', 'rolled_back', 'rejected']);
const keys = { attacker: '', victim: '' };
let trusted: SigningKeyPair;
let untrusted: SigningKeyPair;

function pkg(name: string, version: string, author = AUTHOR) {
  return buildPackage({ manifest: { author, name, version, meta: { version } } as never });
}

function sign(bytes: Buffer, pair: SigningKeyPair) {
  return signPackage(byteSourceFromBuffer(bytes), {
    privateKeyPem: pair.privateKeyPem,
    now: new Date('2026-01-01T00:00:00Z'),
  });
}

function publishRaw(bytes: Buffer, key: string) {
  return call('POST', '/v1/packages:raw', {
    key,
    body: bytes,
    headers: { 'content-type': 'application/octet-stream' },
  });
}

async function issue(tenant: string, scopes: string[]): Promise<string> {
  const response = await call('POST', `/v1/tenants/${tenant}/keys`, { key: operator, json: { scopes } });
  expect(response.status, response.text).toBe(201);
  return response.body.key as string;
}

async function trustSigner(keyId: string, pair: SigningKeyPair): Promise<void> {
  const response = await call('POST', '/v1/signers', {
    key: operator,
    json: { key_id: keyId, public_key_pem: pair.publicKeyPem },
  });
  expect(response.status, response.text).toBe(201);
}

async function finished(tenant: string, deploymentId: string) {
  return eventually(async () => {
    const response = await call('GET', `/v1/tenants/${tenant}/deployments/${deploymentId}`, {
      key: operator,
    });
    return FINAL.has(response.body.status) ? response.body : undefined;
  }, 60_000);
}

beforeAll(async () => {
  for (const tenant of [attacker, victim]) {
    const created = await call('POST', '/v1/tenants', { key: operator, json: { tenant_id: tenant } });
    expect(created.status).toBe(201);
  }
  keys.attacker = await issue(attacker, ['read', 'packages:write', 'deploy:write']);
  keys.victim = await issue(victim, ['read', 'packages:write', 'deploy:write']);
  const granted = await call('PUT', `/v1/authors/${AUTHOR}/tenants/${attacker}`, { key: operator });
  expect(granted.status, granted.text).toBe(200);
  [trusted, untrusted] = await Promise.all([generateSigningKeyPair(2048), generateSigningKeyPair(2048)]);
  await trustSigner(`trusted-${run}`, trusted);
}, 60_000);

describe('publishers own their names', () => {
  it('refuses a tenant key under an author not granted to its tenant, and records the publisher otherwise', async () => {
    const foreign = await publishRaw(await pkg('openai', '1.0.5', `other${run}`), keys.attacker);
    expect(foreign.status, foreign.text).toBe(403);
    expect(foreign.body.type).toBe(`${PROBLEM}author-not-granted`);

    const own = await publishRaw(await pkg('own', '1.0.0'), keys.attacker);
    expect(own.status, own.text).toBe(201);
    expect(own.body.publisher).toMatchObject({
      kind: 'tenant',
      tenant_id: attacker,
      key_id: expect.stringMatching(/^key_/),
      source: 'package',
      published_at: expect.any(String),
    });
    const byOperator = await publishRaw(await pkg('opbuild', '1.0.0'), operator);
    expect(byOperator.body.publisher).toMatchObject({ kind: 'operator', tenant_id: null });

    const grants = await call('GET', `/v1/authors/${AUTHOR}`, { key: operator });
    expect(grants.body).toMatchObject({ author: AUTHOR, reserved: false, signers: [], tenants: [attacker] });
    expect((await call('GET', `/v1/authors/${AUTHOR}`, { key: keys.attacker })).status).toBe(403);
  });

  it('refuses langgenius without a bound signer, even from the operator', async () => {
    const response = await publishRaw(await pkg(`openai${run}`, '1.0.5', 'langgenius'), operator);
    expect(response.status, response.text).toBe(403);
    expect(response.body.type).toBe(`${PROBLEM}author-reserved`);
  });

  it('a bound author needs a signature by its bound signer, whoever publishes', async () => {
    const vendor = `vendor${run}`;
    const other = `other-${run}`;
    await trustSigner(other, untrusted);
    const bound = await call('PUT', `/v1/authors/${vendor}/signers`, {
      key: operator,
      json: { signers: [`trusted-${run}`] },
    });
    expect(bound.status, bound.text).toBe(200);
    const unknown = await call('PUT', `/v1/authors/${vendor}/signers`, {
      key: operator,
      json: { signers: ['nope'] },
    });
    expect(unknown.status).toBe(400);

    const bytes = await pkg('tavily', '1.0.0', vendor);
    const unsigned = await publishRaw(bytes, operator);
    expect(unsigned.status, unsigned.text).toBe(422);
    expect(unsigned.body.type).toBe(`${PROBLEM}author-signature-required`);
    const byOther = await publishRaw(await sign(bytes, untrusted), operator);
    expect(byOther.body.type).toBe(`${PROBLEM}author-signature-required`);
    const genuine = await publishRaw(await sign(bytes, trusted), operator);
    expect(genuine.status, genuine.text).toBe(201);
    expect(genuine.body.signature).toMatchObject({ status: 'verified', key_id: `trusted-${run}` });
  });

  it('refuses an invalid signature under every policy, operator included', async () => {
    // A key no operator ever registered: the signature cannot verify, so it is `invalid`.
    const stranger = await generateSigningKeyPair(2048);
    const forged = await sign(await pkg('forged', '1.0.0'), stranger);
    for (const key of [operator, keys.attacker]) {
      const response = await publishRaw(forged, key);
      expect(response.status, response.text).toBe(422);
      expect(response.body.type).toBe(`${PROBLEM}signature-invalid`);
    }
  });
});

describe('the authors CLI', () => {
  it('grants, shows and revokes an author; a revoked tenant cannot publish under it any more', async () => {
    const author = `cliauth${run}`;
    const env = { PLUGINOPS_ENDPOINT: stack.baseUrl, PLUGINOPS_KEY: operator, HOME: '/nonexistent' };
    const granted = await runCliInProcess(['authors', 'grant', author, victim, '--json'], env);
    expect(granted.code).toBe(0);
    expect(JSON.parse(granted.stdout)).toMatchObject({ author, tenant_id: victim });
    expect((await publishRaw(await pkg('viacli', '1.0.0', author), keys.victim)).status).toBe(201);
    const shown = await runCliInProcess(['authors', 'show', author, '--json'], env);
    expect(shown.code).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({ author, tenants: [victim], signers: [] });
    expect((await runCliInProcess(['authors', 'revoke', author, victim, '--json'], env)).code).toBe(0);
    const refused = await publishRaw(await pkg('viacli', '1.0.1', author), keys.victim);
    expect(refused.body.type).toBe(`${PROBLEM}author-not-granted`);
  });
});

describe('what a tenant trusts', () => {
  it("never lists, plans or installs another tenant's private build until the operator promotes it", async () => {
    const name = 'hijack';
    const pluginId = `${AUTHOR}/${name}`;
    const evil = await publishRaw(await pkg(name, '1.0.5'), keys.attacker);
    expect(evil.status, evil.text).toBe(201);
    const uid = evil.body.unique_identifier as string;

    expect((await call('GET', `/v1/packages/${encodeId(uid)}`, { key: keys.attacker })).status).toBe(200);
    expect((await call('GET', `/v1/packages/${encodeId(uid)}`, { key: keys.victim })).status).toBe(404);
    const versions = await call('GET', `/v1/plugins/${pluginId}/versions`, { key: keys.victim });
    expect(versions.body.items).toEqual([]);
    const search = await call('GET', `/v1/plugins?author=${AUTHOR}&q=${name}`, { key: keys.victim });
    expect(search.body.items).toEqual([]);
    const plan = await call('POST', `/v1/tenants/${victim}/plans`, {
      key: keys.victim,
      json: { install: [`${pluginId}@^1`] },
    });
    expect(plan.status, plan.text).toBe(422);
    expect(plan.body.type).toBe(`${PROBLEM}dependency-unsatisfiable`);
    const install = await call('POST', `/v1/tenants/${victim}/deployments`, {
      key: keys.victim,
      json: { operation: 'install', unique_identifier: uid },
    });
    expect(install.status, install.text).toBe(404);
    const download = await call(
      'GET',
      `/v1/marketplace/api/v1/plugins/download?unique_identifier=${encodeId(uid)}`,
      {
        key: keys.victim,
      },
    );
    expect(download.status).toBe(404);

    expect((await call('POST', `/v1/packages/${encodeId(uid)}/promote`, { key: keys.attacker })).status).toBe(
      403,
    );
    const promoted = await call('POST', `/v1/packages/${encodeId(uid)}/promote`, { key: operator });
    expect(promoted.status, promoted.text).toBe(200);
    expect(promoted.body.promoted).toMatchObject({ key_id: expect.any(String) });
    expect((await call('GET', `/v1/packages/${encodeId(uid)}`, { key: keys.victim })).status).toBe(200);
    const search2 = await call('GET', `/v1/plugins?author=${AUTHOR}&q=${name}`, { key: keys.victim });
    expect(search2.body.items).toEqual([{ plugin_id: pluginId, latest_version: '1.0.5', versions_count: 1 }]);
  });

  it('the auto-upgrade sweep never moves a tenant to another tenant’s build', async () => {
    const ddb = DynamoDBDocumentClient.from(dynamoClient(stack));
    let slotStart: Date | undefined;
    const base = Math.ceil(Date.now() / WINDOW_MS) * WINDOW_MS + 30 * 3_600_000;
    for (let step = 0; slotStart === undefined && step < 64; step += 1) {
      const candidate = new Date(base + step * WINDOW_MS * 5);
      const { Count } = await ddb.send(
        new QueryCommand({
          TableName: stack.mainTable,
          IndexName: 'GSI2',
          KeyConditionExpression: 'GSI2PK = :pk',
          ExpressionAttributeValues: {
            ':pk': dynamoKeys.autoUpgradeSlotIndex(slotOf(candidate), 'x').GSI2PK,
          },
          Select: 'COUNT',
        }),
      );
      if (Count === 0) slotStart = candidate;
    }
    if (slotStart === undefined) throw new Error('no free sweep slot');
    const name = 'auto';
    const v100 = await publishRaw(await pkg(name, '1.0.0'), operator);
    expect(v100.status, v100.text).toBe(201);
    const installed = await call('POST', `/v1/tenants/${victim}/deployments`, {
      key: operator,
      json: { operation: 'install', unique_identifier: v100.body.unique_identifier },
    });
    expect(installed.status, installed.text).toBe(202);
    expect((await finished(victim, installed.body.deployment_id)).status).toBe('succeeded');
    const secondsOfDay = (slotStart.getTime() % 86_400_000) / 1000;
    const settings = await call('PUT', `/v1/tenants/${victim}/auto-upgrade`, {
      key: operator,
      json: { strategy_setting: 'latest', timezone: 'UTC', upgrade_time_of_day: secondsOfDay },
    });
    expect(settings.status, settings.text).toBe(200);

    const evil = await publishRaw(await pkg(name, '1.0.5'), keys.attacker);
    expect(evil.status, evil.text).toBe(201);
    const sweep = await call('POST', '/v1/sweeps', {
      key: operator,
      json: { at: new Date(slotStart.getTime() + WINDOW_MS).toISOString() },
      timeoutMs: 40_000,
    });
    expect(sweep.status, sweep.text).toBe(200);
    const runs = await call('GET', `/v1/tenants/${victim}/auto-upgrade/runs`, { key: operator });
    expect(runs.body.items).toHaveLength(1);
    expect(runs.body.items[0].upgraded).toEqual([]);
    const list = await call('GET', `/v1/tenants/${victim}/installations`, { key: operator });
    const entry = (list.body.items as Array<Record<string, unknown>>).find(
      (item) => item.plugin_id === `${AUTHOR}/${name}`,
    );
    expect(entry?.unique_identifier).toBe(v100.body.unique_identifier);
  }, 120_000);
});

describe('no squatting', () => {
  it('the genuine signed build replaces an unsigned copy published first', async () => {
    const bytes = await pkg('tavily', '2.0.0');
    const copy = await publishRaw(bytes, keys.attacker);
    expect(copy.status, copy.text).toBe(201);
    expect(copy.body.signature.status).toBe('unsigned');

    const genuineBytes = await sign(bytes, trusted);
    const genuine = await publishRaw(genuineBytes, operator);
    expect(genuine.status, genuine.text).toBe(201);
    expect(genuine.body.unique_identifier).toBe(copy.body.unique_identifier);
    expect(genuine.body.sha256).not.toBe(copy.body.sha256);
    expect(genuine.body.signature).toMatchObject({ status: 'verified', key_id: `trusted-${run}` });
    expect(genuine.body.publisher).toMatchObject({ kind: 'operator' });
    expect(genuine.body.superseded).toEqual([
      expect.objectContaining({ sha256: copy.body.sha256, signature_status: 'unsigned' }),
    ]);
    // Everyone now gets the genuine build; re-sending the copy changes nothing.
    const seen = await call('GET', `/v1/packages/${encodeId(genuine.body.unique_identifier)}`, {
      key: keys.victim,
    });
    expect(seen.body.sha256).toBe(genuine.body.sha256);
    const again = await publishRaw(bytes, keys.attacker);
    expect(again.status).toBe(200);
    expect(again.body.sha256).toBe(genuine.body.sha256);
  });

  it('a copy published after the genuine build is refused and changes nothing', async () => {
    const bytes = await pkg('tavily', '3.0.0');
    const genuine = await publishRaw(await sign(bytes, trusted), operator);
    expect(genuine.status, genuine.text).toBe(201);
    const copy = await publishRaw(bytes, keys.attacker);
    expect(copy.status, copy.text).toBe(409);
    expect(copy.body.type).toBe(`${PROBLEM}conflict`);
    const seen = await call('GET', `/v1/packages/${encodeId(genuine.body.unique_identifier)}`, {
      key: keys.victim,
    });
    expect(seen.body.sha256).toBe(genuine.body.sha256);
  });
});

describe('single-use uploads', () => {
  it('an upload id publishes once; bytes PUT after the publish change nothing', async () => {
    const build = (version: string) =>
      buildPackage({
        manifest: { author: AUTHOR, name: 'upl', version, meta: { version } } as never,
        compress: false,
      });
    const [first, second] = await Promise.all([build('1.0.1'), build('1.0.2')]);
    expect(second.length).toBe(first.length);
    const upload = await call('POST', '/v1/uploads', {
      key: keys.attacker,
      json: { filename: 'upl.difypkg', size: first.length },
    });
    expect(upload.status, upload.text).toBe(201);
    const put = (bytes: Buffer) =>
      fetch(upload.body.url, {
        method: 'PUT',
        headers: upload.body.headers,
        body: bytes,
        signal: AbortSignal.timeout(10_000),
      });
    expect((await put(first)).status).toBe(200);
    const publish = () =>
      call('POST', '/v1/packages', {
        key: keys.attacker,
        json: { source: 'package', upload_id: upload.body.upload_id },
      });
    const published = await publish();
    expect(published.status, published.text).toBe(201);

    expect((await put(second)).status).toBe(200);
    const again = await publish();
    expect(again.status, again.text).toBe(409);
    expect(again.body).toMatchObject({
      type: `${PROBLEM}upload-already-used`,
      unique_identifier: published.body.unique_identifier,
    });
    const versions = await call('GET', `/v1/plugins/${AUTHOR}/upl/versions`, { key: keys.attacker });
    expect(versions.body.items.map((item: { version: string }) => item.version)).toEqual(['1.0.1']);
    const stored = await call('GET', `/v1/packages/${encodeId(published.body.unique_identifier)}`, {
      key: keys.attacker,
    });
    expect(stored.body.sha256).toBe(published.body.sha256);
  });

  it('a failed publish leaves the upload usable for the corrected bytes', async () => {
    const bytes = await pkg('retry', '1.0.0');
    const upload = await call('POST', '/v1/uploads', {
      key: keys.attacker,
      json: { filename: 'retry.difypkg', size: bytes.length },
    });
    const body = { source: 'package', upload_id: upload.body.upload_id };
    const early = await call('POST', '/v1/packages', { key: keys.attacker, json: body });
    expect(early.status, early.text).toBeGreaterThanOrEqual(400);
    const put = await fetch(upload.body.url, { method: 'PUT', headers: upload.body.headers, body: bytes });
    expect(put.status).toBe(200);
    const published = await call('POST', '/v1/packages', { key: keys.attacker, json: body });
    expect(published.status, published.text).toBe(201);
  });
});
