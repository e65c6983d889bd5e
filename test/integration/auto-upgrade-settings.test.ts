/**
 * Auto-upgrade settings through the local gateway on DynamoDB Local: defaults, PUT/GET, validation
 * naming fields, warnings for unknown include entries, tenant isolation, the sweep's slot index
 * (written while enabled, gone when disabled — read straight from DynamoDB Local) and run history.
 */
import { randomBytes } from 'node:crypto';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keys as dynamoKeys } from '#adapters/dynamo/keys.ts';
import { nextRunAt, slotOf } from '#core/auto-upgrade/schedule.ts';
import { type AutoUpgradeSettings, defaultUpgradeTimeOfDay } from '#core/auto-upgrade/settings.ts';
import { createApiClient } from '#test/support/api-client.ts';
import { dynamoClient, LOCAL_CREDENTIALS, stackInfo } from '#test/support/local-stack.ts';
import { buildPackage } from '#test/support/package-builder.ts';

const stack = stackInfo();
const call = createApiClient(stack.baseUrl);
const operator = stack.bootstrapKey;
const run = randomBytes(3).toString('hex');
const acme = `au-acme-${run}`;
const globex = `au-globex-${run}`;
const author = `auauthor${run}`;
const keys = { admin: '', read: '', writer: '', globexAdmin: '' };
const ddb = DynamoDBDocumentClient.from(dynamoClient());
const path = (tenant: string, suffix = '') => `/v1/tenants/${tenant}/auto-upgrade${suffix}`;

async function issue(tenant: string, scopes: string[]): Promise<string> {
  const response = await call('POST', `/v1/tenants/${tenant}/keys`, { key: operator, json: { scopes } });
  expect(response.status).toBe(201);
  return response.body.key as string;
}

async function settingsItem(tenant: string): Promise<Record<string, unknown> | undefined> {
  const { Item } = await ddb.send(
    new GetCommand({ TableName: stack.mainTable, Key: dynamoKeys.autoUpgrade(tenant) }),
  );
  return Item;
}

async function tenantsInSlot(slot: number): Promise<string[]> {
  const partition = dynamoKeys.autoUpgradeSlotPartition(slot);
  const tenants: string[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await ddb.send(
      new QueryCommand({
        TableName: stack.mainTable,
        IndexName: partition.index,
        KeyConditionExpression: 'GSI2PK = :pk',
        ExpressionAttributeValues: { ':pk': partition.GSI2PK },
        ExclusiveStartKey: start,
      }),
    );
    for (const item of page.Items ?? []) tenants.push(item.GSI2SK as string);
    start = page.LastEvaluatedKey;
  } while (start !== undefined);
  return tenants;
}

/** The next run the server must have computed for `settings` saved between `before` and `after`. */
function expectedNextRuns(settings: AutoUpgradeSettings, before: Date, after: Date): string[] {
  return [nextRunAt(settings, before), nextRunAt(settings, after)].map((d) => d?.toISOString() ?? 'none');
}

beforeAll(async () => {
  for (const tenant of [acme, globex]) {
    const created = await call('POST', '/v1/tenants', { key: operator, json: { tenant_id: tenant } });
    expect(created.status).toBe(201);
  }
  keys.admin = await issue(acme, ['admin']);
  keys.read = await issue(acme, ['read']);
  keys.writer = await issue(acme, ['read', 'packages:write']);
  // Tenant keys publish only under authors granted to their tenant (docs/security.md).
  expect((await call('PUT', `/v1/authors/${author}/tenants/${acme}`, { key: operator })).status).toBe(200);
  keys.globexAdmin = await issue(globex, ['admin']);
});

afterAll(() => {
  ddb.destroy();
});

describe('GET /v1/tenants/{t}/auto-upgrade', () => {
  it('returns the defaults before anything is saved: fix_only, all, UTC, hashed time', async () => {
    const before = new Date();
    const response = await call('GET', path(acme), { key: keys.read });
    expect(response.status).toBe(200);
    const defaults: AutoUpgradeSettings = {
      strategy_setting: 'fix_only',
      upgrade_time_of_day: defaultUpgradeTimeOfDay(acme),
      timezone: 'UTC',
      upgrade_mode: 'all',
      include_plugins: [],
      exclude_plugins: [],
      allow_prerelease: false,
    };
    expect(response.body).toMatchObject({ ...defaults, is_default: true, updated_at: null });
    expect(expectedNextRuns(defaults, before, new Date())).toContain(response.body.next_run_at);
  });
});

describe('PUT /v1/tenants/{t}/auto-upgrade', () => {
  const berlin = {
    strategy_setting: 'latest',
    upgrade_time_of_day: 9_000,
    timezone: 'Europe/Berlin',
    upgrade_mode: 'exclude',
    exclude_plugins: ['someone/flaky'],
  } as const;

  it('saves settings, fills omitted fields, and GET returns them', async () => {
    const before = new Date();
    const put = await call('PUT', path(acme), { key: keys.admin, json: berlin });
    const after = new Date();
    expect(put.status).toBe(200);
    const full: AutoUpgradeSettings = {
      ...berlin,
      exclude_plugins: [...berlin.exclude_plugins],
      include_plugins: [],
      allow_prerelease: false,
    };
    expect(put.body).toMatchObject({ ...full, is_default: false, warnings: [] });
    expect(expectedNextRuns(full, before, after)).toContain(put.body.next_run_at);

    const get = await call('GET', path(acme), { key: keys.read });
    expect(get.status).toBe(200);
    const { warnings: _warnings, ...saved } = put.body;
    expect(get.body).toEqual({ ...saved, next_run_at: get.body.next_run_at });
  });

  it('is idempotent: the same body again, or a replayed Idempotency-Key, gives the same settings', async () => {
    const first = await call('PUT', path(acme), { key: keys.admin, json: berlin });
    const second = await call('PUT', path(acme), { key: keys.admin, json: berlin });
    const strip = (body: Record<string, unknown>) => ({ ...body, updated_at: null, next_run_at: null });
    expect(strip(second.body)).toEqual(strip(first.body));

    const headers = { 'idempotency-key': `au-${run}-1` };
    const original = await call('PUT', path(acme), { key: keys.admin, json: berlin, headers });
    const replay = await call('PUT', path(acme), { key: keys.admin, json: berlin, headers });
    expect(replay.status).toBe(200);
    expect(replay.body).toEqual(original.body);
  });

  it('needs the admin scope', async () => {
    const response = await call('PUT', path(acme), { key: keys.read, json: berlin });
    expect(response.status).toBe(403);
  });

  it.each([
    [{ timezone: 'Mars/Phobos' }, 'body.timezone'],
    [{ timezone: '+05:00' }, 'body.timezone'],
    [{ upgrade_time_of_day: 86_400 }, 'body.upgrade_time_of_day'],
    [{ strategy_setting: 'always' }, 'body.strategy_setting'],
    [{ include_plugins: ['Not/A Plugin'] }, 'body.include_plugins.0'],
  ])('rejects %j with a validation problem naming %s', async (body, field) => {
    const response = await call('PUT', path(acme), { key: keys.admin, json: body });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    expect(response.body.type).toBe('urn:pluginops:problem:validation-failed');
    expect(response.body.errors.map((e: { path: string }) => e.path)).toContain(field);
  });

  it('accepts include_plugins the tenant lacks, with warnings per entry', async () => {
    const bytes = await buildPackage({
      manifest: { author, name: 'known', version: '0.0.1', meta: { version: '0.0.1' } } as never,
    });
    const published = await call('POST', '/v1/packages:raw', {
      key: keys.writer,
      body: bytes,
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(published.status).toBe(201);
    const response = await call('PUT', path(acme), {
      key: keys.admin,
      json: { upgrade_mode: 'partial', include_plugins: [`${author}/known`, `${author}/unknown`] },
    });
    expect(response.status).toBe(200);
    expect(response.body.include_plugins).toEqual([`${author}/known`, `${author}/unknown`]);
    expect(response.body.warnings).toEqual([
      { path: 'include_plugins.0', message: `${author}/known is not installed on this tenant.` },
      { path: 'include_plugins.1', message: `${author}/unknown is not in the catalog.` },
    ]);
  });
});

describe('tenant isolation', () => {
  it("answers 404 for another tenant's settings and runs", async () => {
    const before = await settingsItem(globex);
    for (const [method, suffix] of [
      ['GET', ''],
      ['PUT', ''],
      ['GET', '/runs'],
    ] as const) {
      const response = await call(method, path(globex, suffix), {
        key: keys.admin,
        ...(method === 'PUT' ? { json: { strategy_setting: 'disabled' } } : {}),
      });
      expect(response.status).toBe(404);
      expect(response.body.type).toBe('urn:pluginops:problem:not-found');
    }
    // Nothing was written for the other tenant (it keeps what its creation indexed).
    expect(await settingsItem(globex)).toEqual(before);
  });
});

describe('sweep index (GSI2)', () => {
  it('indexes an enabled tenant under the slot of its next run and drops it when disabled', async () => {
    const enabled = await call('PUT', path(globex), {
      key: keys.globexAdmin,
      json: { strategy_setting: 'fix_only', timezone: 'Asia/Kathmandu', upgrade_time_of_day: 6 * 3600 },
    });
    expect(enabled.status).toBe(200);
    const slot = slotOf(new Date(enabled.body.next_run_at));
    expect(slot).toBe(1); // 06:00 +05:45 = 00:15 UTC
    const item = await settingsItem(globex);
    expect(item).toMatchObject({
      GSI2PK: `UPGRADE_SLOT#${slot}`,
      GSI2SK: globex,
      slot,
      next_run_at: enabled.body.next_run_at,
    });
    expect(await tenantsInSlot(slot)).toContain(globex);

    const disabled = await call('PUT', path(globex), {
      key: keys.globexAdmin,
      json: { strategy_setting: 'disabled' },
    });
    expect(disabled.status).toBe(200);
    expect(disabled.body.next_run_at).toBeNull();
    const after = await settingsItem(globex);
    expect(after?.settings).toMatchObject({ strategy_setting: 'disabled' });
    expect(after).not.toHaveProperty('GSI2PK');
    expect(after).not.toHaveProperty('GSI2SK');
    expect(after).not.toHaveProperty('next_run_at');
    expect(await tenantsInSlot(slot)).not.toContain(globex);
  });
});

describe('GET /v1/tenants/{t}/auto-upgrade/runs', () => {
  it('starts empty', async () => {
    const response = await call('GET', path(globex, '/runs'), { key: keys.globexAdmin });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ items: [], next_cursor: null });
  });

  it('lists run summaries newest first, paginated with an opaque cursor', async () => {
    const times = ['2026-05-01T10:15:02.000Z', '2026-05-02T10:15:01.000Z', '2026-05-03T10:15:04.000Z'];
    for (const runAt of times) {
      await ddb.send(
        new PutCommand({
          TableName: stack.mainTable,
          Item: {
            ...dynamoKeys.upgradeRun(acme, runAt),
            type: 'upgrade_run',
            tenant_id: acme,
            summary: {
              run_at: runAt,
              checked: 1,
              upgraded: [],
              skipped: [{ plugin_id: 'a/b', reason: 'up-to-date' }],
              failed: [],
            },
          },
        }),
      );
    }
    const first = await call('GET', `${path(acme, '/runs')}?limit=2`, { key: keys.read });
    expect(first.status).toBe(200);
    expect(first.body.items.map((r: { run_at: string }) => r.run_at)).toEqual([times[2], times[1]]);
    expect(first.body.items[0].skipped).toEqual([{ plugin_id: 'a/b', reason: 'up-to-date' }]);
    expect(typeof first.body.next_cursor).toBe('string');

    const second = await call(
      'GET',
      `${path(acme, '/runs')}?limit=2&cursor=${encodeURIComponent(first.body.next_cursor)}`,
      {
        key: keys.read,
      },
    );
    expect(second.body.items.map((r: { run_at: string }) => r.run_at)).toEqual([times[0]]);

    // A cursor is bound to its list: replaying it against another tenant is bad input.
    const replayed = await call(
      'GET',
      `${path(globex, '/runs')}?cursor=${encodeURIComponent(first.body.next_cursor)}`,
      {
        key: keys.globexAdmin,
      },
    );
    expect(replayed.status).toBe(400);
  });
});

describe('sweep-side adapter on DynamoDB Local', () => {
  const ENV = {
    PLUGINOPS_TABLE: stack.mainTable,
    AWS_ENDPOINT_URL_DYNAMODB: stack.dynamodbEndpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
  };
  const saved: Record<string, string | undefined> = {};
  const fresh = `au-fresh-${run}`;

  beforeAll(async () => {
    for (const [name, value] of Object.entries(ENV)) {
      saved[name] = process.env[name];
      process.env[name] = value;
    }
    (await import('#config/runtime-config.ts')).resetConfigCache();
    const created = await call('POST', '/v1/tenants', { key: operator, json: { tenant_id: fresh } });
    expect(created.status).toBe(201);
  });

  afterAll(async () => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    (await import('#config/runtime-config.ts')).resetConfigCache();
  });

  it('indexes a new tenant with its defaults at creation, once, and never over its own settings', async () => {
    const adapter = await import('#adapters/dynamo/auto-upgrade.ts');
    const now = new Date('2026-05-01T00:00:00Z');
    // POST /v1/tenants already indexed it; doing it again changes nothing.
    expect(await adapter.ensureDefaultAutoUpgradeSettings(fresh, now)).toBe(false);
    const slot = defaultUpgradeTimeOfDay(fresh) / 900; // UTC default: the slot is the quarter-hour
    expect(await tenantsInSlot(slot)).toContain(fresh);
    const get = await call('GET', path(fresh), { key: operator });
    expect(get.body).toMatchObject({ is_default: true, strategy_setting: 'fix_only', updated_at: null });

    const put = await call('PUT', path(fresh), { key: operator, json: { timezone: 'Asia/Shanghai' } });
    expect(put.body.is_default).toBe(false);
    expect(await adapter.ensureDefaultAutoUpgradeSettings(fresh, now)).toBe(false);
    expect((await adapter.findAutoUpgradeSettings(fresh))?.settings.timezone).toBe('Asia/Shanghai');
  });

  it('queries a slot page by page and re-indexes after a run, unless settings changed meanwhile', async () => {
    const adapter = await import('#adapters/dynamo/auto-upgrade.ts');
    const settings: AutoUpgradeSettings = {
      strategy_setting: 'fix_only',
      upgrade_time_of_day: 2.5 * 3600,
      timezone: 'Europe/Berlin',
      upgrade_mode: 'all',
      include_plugins: [],
      exclude_plugins: [],
      allow_prerelease: false,
    };
    // Saved the day before the 2026 spring-forward: 02:30 does not exist on 29 March → 01:00 UTC, slot 4.
    const stored = await adapter.putAutoUpgradeSettings(fresh, settings, new Date('2026-03-28T12:00:00Z'));
    expect(stored).toMatchObject({ slot: 4, next_run_at: '2026-03-29T01:00:00.000Z' });

    const found: string[] = [];
    let cursor: string | undefined;
    let entry: Awaited<ReturnType<typeof adapter.querySlot>>['items'][number] | undefined;
    do {
      const page = await adapter.querySlot(4, cursor, 1);
      for (const item of page.items) {
        found.push(item.tenant_id);
        if (item.tenant_id === fresh) entry = item;
      }
      cursor = page.next_cursor ?? undefined;
    } while (cursor !== undefined);
    expect(found).toContain(fresh);
    expect(entry?.next_run_at).toEqual(new Date('2026-03-29T01:00:00Z'));

    // The sweep of [01:00, 01:15) ran the tenant; the next run is 02:30 CEST on the 30th = 00:30 UTC.
    expect(await adapter.advanceAutoUpgradeSchedule(entry!, new Date('2026-03-29T01:15:00Z'))).toBe(true);
    expect(await adapter.findAutoUpgradeSettings(fresh)).toMatchObject({
      slot: 2,
      next_run_at: '2026-03-30T00:30:00.000Z',
    });
    expect(await tenantsInSlot(4)).not.toContain(fresh);
    expect(await tenantsInSlot(2)).toContain(fresh);

    // A save between the sweep's read and its re-index wins.
    await adapter.putAutoUpgradeSettings(
      fresh,
      { ...settings, timezone: 'UTC' },
      new Date('2026-03-29T01:16:00Z'),
    );
    expect(await adapter.advanceAutoUpgradeSchedule(entry!, new Date('2026-03-29T01:15:00Z'))).toBe(false);
    expect((await adapter.findAutoUpgradeSettings(fresh))?.slot).toBe(10); // 02:30 UTC
  });

  it('stores run summaries and lists them newest first', async () => {
    const adapter = await import('#adapters/dynamo/auto-upgrade.ts');
    const summary = (runAt: string) => ({ run_at: runAt, checked: 0, upgraded: [], skipped: [], failed: [] });
    await adapter.putUpgradeRun(fresh, summary('2026-03-29T01:15:03.000Z'));
    await adapter.putUpgradeRun(fresh, summary('2026-03-30T00:45:02.000Z'));
    await adapter.putUpgradeRun(fresh, summary('2026-03-30T00:45:02.000Z')); // a retried write: no duplicate
    const page = await adapter.listUpgradeRuns(fresh, 10, undefined);
    expect(page.items.map((item) => item.run_at)).toEqual([
      '2026-03-30T00:45:02.000Z',
      '2026-03-29T01:15:03.000Z',
    ]);
  });
});
