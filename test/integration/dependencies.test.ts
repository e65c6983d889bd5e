/**
 * Dependencies end to end: the plans dry run, uninstall guarded by dependents, deployments that
 * install dependencies first and roll back together, `.difybndl` bundles, and fetching missing
 * dependencies from a (fake) GitHub.
 *
 * Like deploy.test.ts this file runs its own local stack in the test process: the plugin host's
 * faults and the GitHub API URL are set up here, before the stack starts.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { byteSourceFromBuffer } from '#core/package/byte-source.ts';
import { inspectPackage } from '#core/package/inspect.ts';
import type { LocalStack } from '#local/stack.ts';
import { createApiClient, encodeId, eventually } from '#test/support/api-client.ts';
import { buildBundle } from '#test/support/bundle-builder.ts';
import { type FakeGithub, type FakeGithubRelease, startFakeGithub } from '#test/support/fake-github.ts';
import { buildPackage } from '#test/support/package-builder.ts';
import { privateStack } from '#test/support/private-stack.ts';
import { tenantApi } from '#test/support/tenant-api.ts';

const OPERATOR = `po_${'e'.repeat(43)}`;
const run = randomBytes(3).toString('hex');
const AUTHOR = `dp${run}`;

/** Releases the fake GitHub serves; tests add theirs before the stack starts (see `githubRelease`). */
const releases: FakeGithubRelease[] = [];

let stack: LocalStack;
let github: FakeGithub;
let call: ReturnType<typeof createApiClient>;

const githubPackages = {
  leaf: () => pkg('ghleaf', '2.0.0'),
  mid: () =>
    pkg('ghmid', '1.0.0', [
      { type: 'github', repo: `acme/leaf-${run}`, release: '2.0.0', package: 'leaf.difypkg' },
    ]),
};

beforeAll(async () => {
  if (process.env.PLUGINOPS_TEST_LOGS !== '1') process.env.PLUGINOPS_LOG_LEVEL ??= 'WARN';
  releases.push(
    {
      repo: `acme/leaf-${run}`,
      tag: '2.0.0',
      assets: [{ name: 'leaf.difypkg', content: await githubPackages.leaf() }],
    },
    {
      repo: `acme/mid-${run}`,
      tag: '1.0.0',
      assets: [{ name: 'mid.difypkg', content: await githubPackages.mid() }],
    },
    {
      repo: `acme/suite-${run}`,
      tag: '1.0.0',
      assets: [
        {
          name: 'suite.difybndl',
          content: await buildBundle({
            manifest: { author: AUTHOR, name: 'suite' },
            packages: { one: await pkg('suiteone', '1.0.0'), two: await pkg('suitetwo', '1.0.0') },
          }),
        },
      ],
    },
  );
  github = await startFakeGithub({ releases });
}, 120_000);

// Registered after the fake GitHub's hook: the stack starts with its URL.
const priv = privateStack({
  bootstrapKey: OPERATOR,
  env: () => ({ PLUGINOPS_GITHUB_API_URL: github.apiUrl }),
});

beforeAll(() => {
  stack = priv.stack;
  call = createApiClient(stack.baseUrl);
});

afterAll(async () => {
  await github?.stop();
});

// ── helpers ─────────────────────────────────────────────────────────────────────────────────────

interface Tenant {
  id: string;
  deployer: string;
  reader: string;
  /** read + packages:write + deploy:write: may bring missing dependencies into the catalog. */
  publisher: string;
}

const api = tenantApi({ call: () => call, operator: OPERATOR, workflows: () => stack.workflows });

let tenantCount = 0;
async function newTenant(policy: Record<string, unknown> = {}): Promise<Tenant> {
  tenantCount += 1;
  const id = `deps-${run}-${tenantCount}`;
  const keys = await api.createTenant({
    id,
    author: AUTHOR,
    keys: {
      deployer: ['read', 'deploy:write'],
      reader: ['read'],
      publisher: ['read', 'packages:write', 'deploy:write'],
    },
    policy,
  });
  return {
    id,
    deployer: keys.deployer as string,
    reader: keys.reader as string,
    publisher: keys.publisher as string,
  };
}

function pkg(name: string, version: string, dependencies?: unknown[], extra: Record<string, unknown> = {}) {
  return buildPackage({
    manifest: {
      author: AUTHOR,
      name,
      version,
      meta: { version },
      ...(dependencies === undefined ? {} : { dependencies }),
      ...extra,
    } as never,
  });
}

function publishBytes(body: Buffer) {
  return api.publishBytes(body);
}

async function publish(
  name: string,
  version: string,
  dependencies?: unknown[],
  extra?: Record<string, unknown>,
) {
  return publishBytes(await pkg(name, version, dependencies, extra));
}

const dep = (name: string, version: string) => ({
  type: 'marketplace',
  plugin: `${AUTHOR}/${name}`,
  version,
});

function plan(tenant: Tenant, body: Record<string, unknown>, key = tenant.reader) {
  return call('POST', `/v1/tenants/${tenant.id}/plans`, { key, json: body });
}

async function deployAndWait(tenant: Tenant, body: Record<string, unknown>, key = tenant.deployer) {
  const response = await api.deploy(tenant.id, key, body);
  expect(response.status, response.text).toBe(202);
  return api.finished(tenant.id, tenant.deployer, response.body.deployment_id);
}

async function installed(tenant: Tenant): Promise<Record<string, string>> {
  const response = await call('GET', `/v1/tenants/${tenant.id}/installations`, { key: tenant.reader });
  expect(response.status).toBe(200);
  return Object.fromEntries(
    (response.body.items as Array<{ plugin_id: string; version: string; status: string }>)
      .filter((item) => item.status === 'installed')
      .map((item) => [item.plugin_id, item.version]),
  );
}

async function revisions(tenant: Tenant, pluginId: string) {
  const response = await call('GET', `/v1/tenants/${tenant.id}/installations/${pluginId}/revisions`, {
    key: tenant.reader,
  });
  expect(response.status).toBe(200);
  return response.body.items as Array<Record<string, any>>;
}

// ── plans ───────────────────────────────────────────────────────────────────────────────────────

describe('POST /v1/tenants/{t}/plans', () => {
  it('resolves dependencies first, prefers what is installed, and runs the Verify checks', async () => {
    const tenant = await newTenant();
    const base1 = await publish('pbase', '1.0.0');
    await publish('pbase', '1.1.0');
    const http = await publish('phttp', '1.2.0', [dep('pbase', '^1.0')]);
    const app = await publish('papp', '2.0.0', [dep('phttp', '^1.2'), dep('pbase', '>=1.0.0')]);

    const fresh = await plan(tenant, { install: [`${AUTHOR}/papp@^2`] });
    expect(fresh.status, fresh.text).toBe(200);
    expect(fresh.body.order).toEqual([
      `${AUTHOR}/pbase:1.1.0@${fresh.body.order[0].split('@')[1]}`,
      http.unique_identifier,
      app.unique_identifier,
    ]);
    expect(fresh.body.steps.map((step: { plugin_id: string; action: string; to: string }) => step)).toEqual([
      expect.objectContaining({ plugin_id: `${AUTHOR}/pbase`, from: null, to: '1.1.0', action: 'install' }),
      expect.objectContaining({ plugin_id: `${AUTHOR}/phttp`, from: null, to: '1.2.0', action: 'install' }),
      expect.objectContaining({ plugin_id: `${AUTHOR}/papp`, from: null, to: '2.0.0', action: 'install' }),
    ]);
    expect(fresh.body.checks).toHaveLength(3);
    for (const check of fresh.body.checks) {
      expect(check).toMatchObject({
        ok: true,
        signature: { status: 'pass' },
        permissions: { status: 'pass' },
        platform: { status: 'pass' },
        dependencies: { status: 'pass' },
      });
    }

    // pbase 1.0.0 installed satisfies every range: it is kept, not upgraded.
    const installedBase = await deployAndWait(tenant, {
      operation: 'install',
      unique_identifier: base1.unique_identifier,
    });
    expect(installedBase.status).toBe('succeeded');
    const kept = await plan(tenant, { install: [app.unique_identifier] });
    expect(kept.status, kept.text).toBe(200);
    expect(kept.body.steps[0]).toMatchObject({ plugin_id: `${AUTHOR}/pbase`, from: '1.0.0', action: 'keep' });
    expect(kept.body.order[0]).toBe(base1.unique_identifier);
    expect(kept.body.checks.map((check: { unique_identifier: string }) => check.unique_identifier)).toEqual([
      http.unique_identifier,
      app.unique_identifier,
    ]);
  });

  it('reports a failing check without refusing the plan', async () => {
    const tenant = await newTenant({ platform_version: '1.0.0' });
    const needy = await publish('pneedy', '1.0.0', undefined, {
      meta: { version: '1.0.0', minimum_dify_version: '1.5.0' },
    });
    const response = await plan(tenant, { install: [needy.unique_identifier] });
    expect(response.status, response.text).toBe(200);
    expect(response.body.checks[0]).toMatchObject({
      ok: false,
      platform: { status: 'fail', type: 'urn:pluginops:problem:incompatible-platform-version' },
      signature: { status: 'pass' },
    });
  });

  it('answers 422 dependency-unsatisfiable with the explanation in sentences', async () => {
    const tenant = await newTenant();
    await publish('uy', '1.0.0');
    await publish('uy', '2.0.0');
    await publish('ux', '1.0.0', [dep('uy', '^1.0')]);
    await publish('uz', '1.0.0', [dep('uy', '^2.0')]);
    const response = await plan(tenant, { install: [`${AUTHOR}/ux@^1`, `${AUTHOR}/uz@^1`] });
    expect(response.status, response.text).toBe(422);
    expect(response.body.type).toBe('urn:pluginops:problem:dependency-unsatisfiable');
    expect(response.body.detail).toContain(`${AUTHOR}/ux 1.0.0 depends on ${AUTHOR}/uy ^1.0`);
    expect(response.body.detail).toContain('cannot be installed together');
    expect(response.body.explanation.length).toBeGreaterThanOrEqual(2);
  });

  it('answers 422 dependency-cycle naming the cycle', async () => {
    const tenant = await newTenant();
    await publish('ca', '1.0.0', [dep('cb', '^1')]);
    await publish('cb', '1.0.0', [dep('ca', '^1')]);
    const response = await plan(tenant, { install: [`${AUTHOR}/ca`] });
    expect(response.status, response.text).toBe(422);
    expect(response.body.type).toBe('urn:pluginops:problem:dependency-cycle');
    expect(response.body.cycle).toEqual([`${AUTHOR}/ca`, `${AUTHOR}/cb`, `${AUTHOR}/ca`]);
  });

  it('validates the install list', async () => {
    const tenant = await newTenant();
    expect((await plan(tenant, { install: [] })).status).toBe(400);
    expect((await plan(tenant, { install: ['not a plugin'] })).status).toBe(400);
    expect((await plan(tenant, { install: [`${AUTHOR}/x@not-a-range!`] })).status).toBe(400);
  });
});

// ── uninstall guarded by dependents ─────────────────────────────────────────────────────────────

describe('uninstall with dependents', () => {
  it('answers 409 naming the dependents, and force: true overrides', async () => {
    const tenant = await newTenant();
    const lib = await publish('ulib', '1.0.0');
    const b = await publish('ub', '1.2.0', [dep('ulib', '^1')]);
    const c = await publish('uc', '0.3.0', [{ type: 'package', unique_identifier: lib.unique_identifier }]);
    for (const item of [lib, b, c]) {
      const done = await deployAndWait(tenant, {
        operation: 'install',
        unique_identifier: item.unique_identifier,
      });
      expect(done.status).toBe('succeeded');
    }
    const refused = await call('POST', `/v1/tenants/${tenant.id}/deployments`, {
      key: tenant.deployer,
      json: { operation: 'uninstall', plugin_id: lib.plugin_id },
    });
    expect(refused.status, refused.text).toBe(409);
    expect(refused.body.type).toBe('urn:pluginops:problem:conflict');
    expect(refused.body.detail).toBe(
      `${AUTHOR}/ub 1.2.0 and ${AUTHOR}/uc 0.3.0 depend on ${AUTHOR}/ulib; uninstall them first or set force: true.`,
    );
    expect(refused.body.dependents.map((d: { plugin_id: string }) => d.plugin_id)).toEqual([
      b.plugin_id,
      c.plugin_id,
    ]);
    expect((await installed(tenant))[lib.plugin_id]).toBe('1.0.0');

    const badForce = await call('POST', `/v1/tenants/${tenant.id}/deployments`, {
      key: tenant.deployer,
      json: { operation: 'install', unique_identifier: lib.unique_identifier, force: true },
    });
    expect(badForce.status).toBe(400);

    // A leaf has no dependents: no force needed.
    expect((await deployAndWait(tenant, { operation: 'uninstall', plugin_id: c.plugin_id })).status).toBe(
      'succeeded',
    );
    const forced = await deployAndWait(tenant, {
      operation: 'uninstall',
      plugin_id: lib.plugin_id,
      force: true,
    });
    expect(forced.status).toBe('succeeded');
    expect(forced.force).toBe(true);
    expect(await installed(tenant)).toEqual({ [b.plugin_id]: '1.2.0' });
  });
});

// ── deployments with dependencies ───────────────────────────────────────────────────────────────

async function hostFault(fault: Record<string, unknown>): Promise<void> {
  const response = await fetch(`${stack.runtimeUrl}/admin/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(fault),
  });
  expect(response.status).toBe(201);
}

describe('deploying a plugin with dependencies', () => {
  it('installs dependencies first, one revision per plugin under the same deployment', async () => {
    const tenant = await newTenant();
    const core = await publish('dcore', '1.0.0');
    const http = await publish('dhttp', '1.3.0', [dep('dcore', '^1')]);
    const app = await publish('dapp', '1.0.0', [dep('dhttp', '~1.3'), dep('dcore', '1.x')]);
    const deployment = await deployAndWait(tenant, {
      operation: 'install',
      unique_identifier: app.unique_identifier,
    });
    expect(deployment.status, JSON.stringify(deployment.error)).toBe('succeeded');
    expect(deployment.plan.order).toEqual([core.plugin_id, http.plugin_id, app.plugin_id]);
    expect(deployment.plan.steps.map((step: { action: string }) => step.action)).toEqual([
      'install',
      'install',
      'install',
    ]);
    expect(await installed(tenant)).toEqual({
      [core.plugin_id]: '1.0.0',
      [http.plugin_id]: '1.3.0',
      [app.plugin_id]: '1.0.0',
    });
    for (const pluginId of [core.plugin_id, http.plugin_id, app.plugin_id]) {
      const [revision, ...older] = await revisions(tenant, pluginId);
      expect(older).toEqual([]);
      expect(revision).toMatchObject({
        revision: 1,
        operation: 'install',
        deployment_id: deployment.deployment_id,
        outcome: 'succeeded',
      });
    }
    const applied = await revisions(tenant, core.plugin_id);
    const appRevision = await revisions(tenant, app.plugin_id);
    expect(Date.parse(applied[0]?.created_at)).toBeLessThanOrEqual(Date.parse(appRevision[0]?.created_at));

    // Upgrading the app to a build that needs a newer dependency upgrades that dependency too.
    await publish('dhttp', '1.4.0', [dep('dcore', '^1')]);
    const app2 = await publish('dapp', '1.1.0', [dep('dhttp', '^1.4')]);
    const upgrade = await deployAndWait(tenant, {
      operation: 'upgrade',
      unique_identifier: app2.unique_identifier,
    });
    expect(upgrade.status, JSON.stringify(upgrade.error)).toBe('succeeded');
    expect(
      upgrade.plan.steps.map((step: { plugin_id: string; action: string }) => [step.plugin_id, step.action]),
    ).toEqual([
      [core.plugin_id, 'keep'],
      [http.plugin_id, 'upgrade'],
      [app.plugin_id, 'upgrade'],
    ]);
    expect((await revisions(tenant, http.plugin_id))[0]).toMatchObject({
      revision: 2,
      operation: 'upgrade',
      deployment_id: upgrade.deployment_id,
    });
    expect(await revisions(tenant, core.plugin_id)).toHaveLength(1);
  });

  it('fails before Apply when no plan exists, changing nothing', async () => {
    const tenant = await newTenant();
    const app = await publish('nolib', '1.0.0', [dep('nosuch', '^1')]);
    // A key that cannot fetch is told at once; one that can is accepted, and Resolve finds nothing.
    const refused = await call('POST', `/v1/tenants/${tenant.id}/deployments`, {
      key: tenant.deployer,
      json: { operation: 'install', unique_identifier: app.unique_identifier },
    });
    expect(refused.status, refused.text).toBe(422);
    expect(refused.body.type).toBe('urn:pluginops:problem:dependency-unsatisfiable');
    const deployment = await deployAndWait(
      tenant,
      { operation: 'install', unique_identifier: app.unique_identifier },
      tenant.publisher,
    );
    expect(deployment.status).toBe('failed');
    expect(deployment.error.type).toBe('urn:pluginops:problem:dependency-unsatisfiable');
    expect(deployment.error.detail).toContain('not in the catalog');
    expect(await installed(tenant)).toEqual({});
  });

  it('rolls every plugin of the deployment back together when the dependent fails its probe', async () => {
    const tenant = await newTenant();
    const base1 = await publish('rbase', '1.0.0');
    const base2 = await publish('rbase', '2.0.0');
    const lib = await publish('rlib', '1.0.0', [dep('rbase', '^2')]);
    const app = await publish('rapp', '1.0.0', [dep('rlib', '^1')]);
    expect(
      (await deployAndWait(tenant, { operation: 'install', unique_identifier: base1.unique_identifier }))
        .status,
    ).toBe('succeeded');

    await hostFault({ tenant_id: tenant.id, unique_identifier: app.unique_identifier, mode: 'fail' });
    const deployment = await deployAndWait(tenant, {
      operation: 'install',
      unique_identifier: app.unique_identifier,
    });
    expect(deployment.status).toBe('rolled_back');
    expect(deployment.plan.order).toEqual([base1.plugin_id, lib.plugin_id, app.plugin_id]);
    expect(deployment.plan.steps[0]).toMatchObject({
      action: 'upgrade',
      to: { unique_identifier: base2.unique_identifier },
    });
    // rbase is back at 1.0.0, the new plugins are gone.
    expect(await installed(tenant)).toEqual({ [base1.plugin_id]: '1.0.0' });
    const baseHistory = await revisions(tenant, base1.plugin_id);
    expect(
      baseHistory.map(({ revision, operation, unique_identifier, deployment_id, outcome }) => ({
        revision,
        operation,
        unique_identifier,
        deployment_id,
        outcome,
      })),
    ).toEqual([
      {
        revision: 3,
        operation: 'rollback',
        unique_identifier: base1.unique_identifier,
        deployment_id: deployment.deployment_id,
        outcome: 'restored',
      },
      {
        revision: 2,
        operation: 'upgrade',
        unique_identifier: base2.unique_identifier,
        deployment_id: deployment.deployment_id,
        outcome: 'failed',
      },
      expect.objectContaining({
        revision: 1,
        operation: 'install',
        unique_identifier: base1.unique_identifier,
      }),
    ]);
    for (const pluginId of [lib.plugin_id, app.plugin_id]) {
      const history = await revisions(tenant, pluginId);
      expect(history.map((r) => [r.revision, r.operation, r.unique_identifier, r.deployment_id])).toEqual([
        [2, 'rollback', null, deployment.deployment_id],
        [
          1,
          'install',
          pluginId === app.plugin_id ? app.unique_identifier : lib.unique_identifier,
          deployment.deployment_id,
        ],
      ]);
    }
    // The hold is on the build that was asked for, and every lease is free again.
    const listed = await call('GET', `/v1/tenants/${tenant.id}/installations`, { key: tenant.reader });
    const items = listed.body.items as Array<Record<string, any>>;
    expect(items.find((item) => item.plugin_id === app.plugin_id)?.hold?.unique_identifier).toBe(
      app.unique_identifier,
    );
    expect(items.find((item) => item.plugin_id === base1.plugin_id)?.hold).toBeUndefined();
    expect(items.every((item) => item.deployment_id === undefined)).toBe(true);
  });
});

// ── bundles ─────────────────────────────────────────────────────────────────────────────────────

describe('.difybndl bundles', () => {
  async function inCatalog(uniqueIdentifier: string): Promise<number> {
    return (await call('GET', `/v1/packages/${encodeId(uniqueIdentifier)}`, { key: OPERATOR })).status;
  }

  it('publishes every embedded package and answers {bundle, packages}', async () => {
    const one = await pkg('bone', '1.0.0');
    const two = await pkg('btwo', '2.0.0', [dep('bone', '^1')]);
    const bytes = await buildBundle({
      manifest: {
        author: AUTHOR,
        name: 'starter',
        version: '1.2.0',
        dependencies: [
          { type: 'package', value: { path: 'aaa' } },
          { type: 'package', value: { path: 'bbb' } },
          { type: 'marketplace', value: { marketplace_pattern: `${AUTHOR}/other:^1.0.0` } },
        ],
      },
      packages: { aaa: one, bbb: two },
    });
    const response = await call('POST', '/v1/packages:raw', {
      key: OPERATOR,
      body: bytes,
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(response.status, response.text).toBe(201);
    expect(response.body.bundle).toMatchObject({ author: AUTHOR, name: 'starter', version: '1.2.0' });
    const uids = response.body.packages.map((item: { unique_identifier: string }) => item.unique_identifier);
    expect(response.body.packages.map((item: { plugin_id: string }) => item.plugin_id)).toEqual([
      `${AUTHOR}/bone`,
      `${AUTHOR}/btwo`,
    ]);
    expect(response.body.packages[0].source).toMatchObject({
      type: 'package',
      bundle: `${AUTHOR}/starter:1.2.0`,
    });
    expect(response.body.bundle.dependencies).toEqual([
      { type: 'package', unique_identifier: uids[0], path: 'aaa' },
      { type: 'package', unique_identifier: uids[1], path: 'bbb' },
      { type: 'marketplace', plugin: `${AUTHOR}/other`, version: '^1.0.0' },
    ]);
    for (const uid of uids) expect(await inCatalog(uid)).toBe(200);

    const again = await call('POST', '/v1/packages:raw', {
      key: OPERATOR,
      body: bytes,
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(again.status).toBe(200);

    // The bundle's packages are ordinary catalog entries: a tenant installs them with their deps.
    const tenant = await newTenant();
    const deployment = await deployAndWait(tenant, { operation: 'install', unique_identifier: uids[1] });
    expect(deployment.status).toBe('succeeded');
    expect(deployment.plan.order).toEqual([`${AUTHOR}/bone`, `${AUTHOR}/btwo`]);
  });

  it('publishes nothing when one embedded package is invalid', async () => {
    const good = await pkg('bgood', '1.0.0');
    const bad = await buildPackage({
      manifest: { author: AUTHOR, name: 'bbad', version: '1.0.0', meta: { version: '1.0.0' } } as never,
      files: { 'main.py': null, 'provider/demo.yaml': null },
    });
    const goodUid = (await inspectPackage(byteSourceFromBuffer(good), { keyring: [] })).uniqueIdentifier;
    const response = await call('POST', '/v1/packages:raw', {
      key: OPERATOR,
      body: await buildBundle({ manifest: { author: AUTHOR, name: 'broken' }, packages: { good, bad } }),
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(response.status, response.text).toBe(422);
    expect(response.body.detail).toMatch(/^_assets\/bad: /);
    expect(response.body.detail).toContain('Nothing from the bundle was published.');
    expect(response.body.bundle_path).toBe('_assets/bad');
    expect(await inCatalog(goodUid)).toBe(404);
  });

  it('is detected on every publish path: a GitHub release asset named .difybndl', async () => {
    const response = await call('POST', '/v1/packages', {
      key: OPERATOR,
      json: { source: 'github', repo: `acme/suite-${run}`, release: '1.0.0', asset: 'suite.difybndl' },
    });
    expect(response.status, response.text).toBe(201);
    expect(response.body.bundle.name).toBe('suite');
    expect(response.body.packages.map((item: { plugin_id: string }) => item.plugin_id)).toEqual([
      `${AUTHOR}/suiteone`,
      `${AUTHOR}/suitetwo`,
    ]);
    expect(response.body.packages[0].source).toMatchObject({ type: 'github', asset: 'suite.difybndl' });
  });
});

// ── fetch missing ───────────────────────────────────────────────────────────────────────────────

describe('fetching missing dependencies', () => {
  const mid = { type: 'github', repo: `acme/mid-${run}`, release: '1.0.0', package: 'mid.difypkg' };

  it('a read key plans without writing: the missing dependency is explained, the catalog unchanged', async () => {
    const app = await publish('ghread', '1.0.0', [mid]);
    const tenant = await newTenant();
    const before = await call('GET', `/v1/plugins/${AUTHOR}/ghmid/versions`, { key: OPERATOR });
    const response = await plan(tenant, { install: [app.unique_identifier] });
    expect(response.status, response.text).toBe(422);
    expect(response.body.type).toBe('urn:pluginops:problem:dependency-unsatisfiable');
    const forbidden = await plan(tenant, { install: [app.unique_identifier], fetch_missing: true });
    expect(forbidden.status, forbidden.text).toBe(403);
    const after = await call('GET', `/v1/plugins/${AUTHOR}/ghmid/versions`, { key: OPERATOR });
    expect(after.status).toBe(before.status);
    expect(after.body.items ?? []).toEqual(before.body.items ?? []);
  });

  it('a deployment by a key without packages:write does not fetch: it fails before Apply', async () => {
    const app = await publish('ghnofetch', '1.0.0', [
      { type: 'github', repo: `acme/mid-${run}`, release: '1.0.0', package: 'mid.difypkg' },
    ]);
    const tenant = await newTenant();
    const response = await call('POST', `/v1/tenants/${tenant.id}/deployments`, {
      key: tenant.deployer,
      json: { operation: 'install', unique_identifier: app.unique_identifier },
    });
    expect(response.status, response.text).toBe(422);
    expect(response.body.type).toBe('urn:pluginops:problem:dependency-unsatisfiable');
    expect(await installed(tenant)).toEqual({});
  });

  it('plans fetch github dependencies recursively through the publish path', async () => {
    const app = await publish('ghapp', '1.0.0', [mid]);
    const tenant = await newTenant();
    const response = await plan(
      tenant,
      { install: [app.unique_identifier], fetch_missing: true },
      tenant.publisher,
    );
    expect(response.status, response.text).toBe(200);
    expect(response.body.steps.map((step: { plugin_id: string }) => step.plugin_id)).toEqual([
      `${AUTHOR}/ghleaf`,
      `${AUTHOR}/ghmid`,
      `${AUTHOR}/ghapp`,
    ]);
    expect(response.body.fetched.map((item: { from: string }) => item.from)).toEqual([
      `GitHub acme/mid-${run}@1.0.0/mid.difypkg`,
      `GitHub acme/leaf-${run}@2.0.0/leaf.difypkg`,
    ]);
    expect(response.body.checks.every((check: { ok: boolean }) => check.ok)).toBe(true);
    const leaf = await call('GET', `/v1/plugins/${AUTHOR}/ghleaf/versions`, { key: OPERATOR });
    expect(leaf.body.items[0].source).toMatchObject({ type: 'github', repo: `acme/leaf-${run}` });
  });

  it('a deployment fetches what is missing in Resolve and installs it first', async () => {
    const app = await publish('ghapp2', '1.0.0', [mid]);
    const tenant = await newTenant();
    const deployment = await deployAndWait(
      tenant,
      { operation: 'install', unique_identifier: app.unique_identifier },
      tenant.publisher,
    );
    expect(deployment.status, JSON.stringify(deployment.error)).toBe('succeeded');
    expect(deployment.plan.order).toEqual([`${AUTHOR}/ghleaf`, `${AUTHOR}/ghmid`, `${AUTHOR}/ghapp2`]);
    expect(await installed(tenant)).toEqual({
      [`${AUTHOR}/ghleaf`]: '2.0.0',
      [`${AUTHOR}/ghmid`]: '1.0.0',
      [`${AUTHOR}/ghapp2`]: '1.0.0',
    });
  });

  it('explains a GitHub dependency the source does not have', async () => {
    const app = await publish('ghlost', '1.0.0', [
      { type: 'github', repo: `acme/nowhere-${run}`, release: '9.9.9', package: 'gone.difypkg' },
    ]);
    const tenant = await newTenant();
    const response = await plan(tenant, { install: [app.unique_identifier] });
    expect(response.status, response.text).toBe(422);
    expect(response.body.type).toBe('urn:pluginops:problem:dependency-unsatisfiable');
    expect(response.body.detail).toContain(`github:acme/nowhere-${run}@9.9.9/gone.difypkg`);
    expect(response.body.detail).toContain('not in the catalog');
  });
});

// ── one frozen plan ─────────────────────────────────────────────────────────────────────────────

describe('one frozen plan', () => {
  async function startAwaitingApproval(tenant: Tenant, body: Record<string, unknown>) {
    const response = await call('POST', `/v1/tenants/${tenant.id}/deployments`, {
      key: tenant.deployer,
      json: body,
    });
    expect(response.status, response.text).toBe(202);
    const id = response.body.deployment_id as string;
    await awaitStatus(tenant, id, 'awaiting_approval');
    return id;
  }

  async function awaitStatus(tenant: Tenant, id: string, status: string) {
    await eventually(async () => {
      const body = (await call('GET', `/v1/tenants/${tenant.id}/deployments/${id}`, { key: OPERATOR })).body;
      return body.status === status ? true : undefined;
    }, 20_000);
  }

  async function decide(tenant: Tenant, id: string, verdict: 'approve' | 'reject') {
    const response = await call('POST', `/v1/tenants/${tenant.id}/deployments/${id}/${verdict}`, {
      key: OPERATOR,
      json: {},
    });
    expect(response.status, response.text).toBe(200);
  }

  async function finished(tenant: Tenant, id: string) {
    await stack.workflows.waitForExecution(id, 30_000);
    return (await call('GET', `/v1/tenants/${tenant.id}/deployments/${id}`, { key: OPERATOR })).body;
  }

  it('a dependency published between Resolve and Acquire is not installed: the verified plan is', async () => {
    const tenant = await newTenant({ approval_required: true, platform_version: '1.9.0' });
    const lib1 = await publish('frlib', '1.0.0');
    const app = await publish('frapp', '1.0.0', [dep('frlib', '^1.0')]);
    const id = await startAwaitingApproval(tenant, {
      operation: 'install',
      unique_identifier: app.unique_identifier,
    });
    // Verify judged frlib 1.0.0; a newer frlib that Verify would refuse arrives while approval waits.
    await publish('frlib', '1.5.0', undefined, { meta: { version: '1.5.0', minimum_dify_version: '9.0.0' } });
    await decide(tenant, id, 'approve');
    const done = await finished(tenant, id);
    expect(done.status, JSON.stringify(done.error)).toBe('succeeded');
    expect(
      done.plan.steps.map((step: { to: { unique_identifier: string } }) => step.to.unique_identifier),
    ).toEqual([lib1.unique_identifier, app.unique_identifier]);
    expect(await installed(tenant)).toEqual({ [`${AUTHOR}/frlib`]: '1.0.0', [`${AUTHOR}/frapp`]: '1.0.0' });
  });

  it('when what the plan relied on moved, the run plans and verifies again — never installs unverified', async () => {
    const tenant = await newTenant({ approval_required: true, platform_version: '1.9.0' });
    const lib1 = await publish('fmlib', '1.0.0');
    const app = await publish('fmapp', '1.0.0', [dep('fmlib', '^1.0')]);
    // fmlib 1.0.0 is installed: the plan keeps it.
    const first = await startAwaitingApproval(tenant, {
      operation: 'install',
      unique_identifier: lib1.unique_identifier,
    });
    await decide(tenant, first, 'approve');
    expect((await finished(tenant, first)).status).toBe('succeeded');
    const id = await startAwaitingApproval(tenant, {
      operation: 'install',
      unique_identifier: app.unique_identifier,
    });
    const waiting = (await call('GET', `/v1/tenants/${tenant.id}/deployments/${id}`, { key: OPERATOR })).body;
    expect(waiting.plan.steps[0]).toMatchObject({ plugin_id: `${AUTHOR}/fmlib`, action: 'keep' });
    expect(waiting.plan.basis).toEqual({ [`${AUTHOR}/fmapp`]: 0, [`${AUTHOR}/fmlib`]: 1 });
    // While the deployment waits, fmlib is uninstalled and a build Verify refuses is published.
    const removal = await startAwaitingApproval(tenant, {
      operation: 'uninstall',
      plugin_id: `${AUTHOR}/fmlib`,
    });
    await decide(tenant, removal, 'approve');
    expect((await finished(tenant, removal)).status).toBe('succeeded');
    await publish('fmlib', '1.5.0', undefined, { meta: { version: '1.5.0', minimum_dify_version: '9.0.0' } });
    await decide(tenant, id, 'approve');
    // Acquire finds the basis moved: back to Resolve, which now plans fmlib 1.5.0, and Verify refuses it.
    const done = await finished(tenant, id);
    expect(done.status).toBe('failed');
    expect(done.error.type).toBe('urn:pluginops:problem:incompatible-platform-version');
    expect(done.plan.steps[0]).toMatchObject({ plugin_id: `${AUTHOR}/fmlib`, action: 'install' });
    expect(done.steps.map((step: { name: string }) => step.name)).toEqual(
      expect.arrayContaining(['Resolve', 'Verify', 'Acquire']),
    );
    expect(await installed(tenant)).toEqual({});
  });

  it('deploys by plugin and range: the 202 answer lists every step, Resolve records the build it chose', async () => {
    const tenant = await newTenant();
    await publish('rgbase', '1.0.0');
    const base11 = await publish('rgbase', '1.1.0');
    await publish('rgapp', '1.0.0', [dep('rgbase', '^1.0')]);
    const app12 = await publish('rgapp', '1.2.0', [dep('rgbase', '^1.0')]);
    await publish('rgapp', '2.0.0', [dep('rgbase', '^1.0')]);
    const response = await call('POST', `/v1/tenants/${tenant.id}/deployments`, {
      key: tenant.deployer,
      json: { operation: 'install', plugin_id: `${AUTHOR}/rgapp`, version: '^1.0' },
    });
    expect(response.status, response.text).toBe(202);
    expect(response.body.plan.order).toEqual([`${AUTHOR}/rgbase`, `${AUTHOR}/rgapp`]);
    expect(
      response.body.plan.steps.map(
        (step: { to: { unique_identifier: string } }) => step.to.unique_identifier,
      ),
    ).toEqual([base11.unique_identifier, app12.unique_identifier]);
    const done = await finished(tenant, response.body.deployment_id);
    expect(done.status, JSON.stringify(done.error)).toBe('succeeded');
    expect(done.target.unique_identifier).toBe(app12.unique_identifier);
    expect(await installed(tenant)).toEqual({ [`${AUTHOR}/rgbase`]: '1.1.0', [`${AUTHOR}/rgapp`]: '1.2.0' });
    const bad = await call('POST', `/v1/tenants/${tenant.id}/deployments`, {
      key: tenant.deployer,
      json: { operation: 'upgrade', plugin_id: `${AUTHOR}/rgapp`, version: 'not a range' },
    });
    expect(bad.status, bad.text).toBe(400);
    expect(bad.body.type).toBe('urn:pluginops:problem:validation-failed');
  });
});
