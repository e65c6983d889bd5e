/**
 * The CI/CD pipeline of examples/github-actions/plugin-release.yml, run as the same sequence of
 * real `bin/pluginops.js` calls: pack → sign → publish to staging → deploy to a staging tenant
 * with --wait → post-deploy verification (status --expect) → on failure the deployment rolls back
 * (exit 5) or the job rolls back explicitly → promote the exact build to prod (prod pulls it by
 * identifier from staging's marketplace) → checklist → prod install waits for approval → approve.
 *
 * Two stages for real: "staging" is the shared local stack; "prod" is a second local stack started
 * here whose PLUGINOPS_MARKETPLACE_URL points at staging's /v1/marketplace (with a staging read
 * key), as docs/decisions/002-marketplace-protocol.md prescribes. The CLI reaches both through a
 * profiles file (keys via key_env, as a CI runner keeps them in its secret store).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalStack, startLocalStack } from '#local/stack.ts';
import { createApiClient } from '#test/support/api-client.ts';
import { type FakeGithub, startFakeGithub } from '#test/support/fake-github.ts';
import { sharedEngineOptions, stackInfo } from '#test/support/local-stack.ts';
import { buildPackage, packageFiles } from '#test/support/package-builder.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const nodeBinary = join(repoRoot, 'node_modules/.bin/node');
const cliEntry = join(repoRoot, 'bin/pluginops.js');
const RUN_DEADLINE_MS = 90_000;

const staging = stackInfo();
const stagingCall = createApiClient(staging.baseUrl);
const run = randomBytes(3).toString('hex');
const AUTHOR = `pipe${run}`;
const PLUGIN = `${AUTHOR}/tool`;
const STAGING_TENANT = `pipe-stg-${run}`;
const PROD_TENANT = `pipe-prod-${run}`;
const SIGNER = `release-${run}`;

let prod: LocalStack;
let prodCall: ReturnType<typeof createApiClient>;
let github: FakeGithub;
let work: string;
let prodDataDir: string;
let profilesFile: string;
/** Keys the CI runner would hold as secrets (STAGING_KEY, PROD_KEY, PROD_APPROVER_KEY). */
const secrets: Record<string, string> = {};

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: Record<string, string> = {}): Promise<RunResult> {
  return new Promise((resolvePromise, reject) => {
    execFile(
      nodeBinary,
      [cliEntry, ...args],
      {
        cwd: work,
        timeout: RUN_DEADLINE_MS,
        killSignal: 'SIGKILL',
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: work,
          CI: 'true',
          PLUGINOPS_PROFILES_FILE: profilesFile,
          ...secrets,
          ...env,
        },
      },
      (error, stdout, stderr) => {
        if (error !== null && typeof error.code !== 'number') {
          reject(new Error(`pluginops ${args.join(' ')} did not finish: ${error.message}\n${stderr}`));
          return;
        }
        resolvePromise({ code: error === null ? 0 : (error.code as number), stdout, stderr });
      },
    );
  });
}

function json(result: RunResult): any {
  try {
    return JSON.parse(result.stdout);
  } catch {
    throw new Error(`stdout is not JSON (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
  }
}

function ok(result: RunResult): RunResult {
  expect(result.code, `${result.stdout}\n${result.stderr}`).toBe(0);
  return result;
}

async function createTenant(
  call: ReturnType<typeof createApiClient>,
  operatorKey: string,
  tenantId: string,
  policy: Record<string, unknown>,
): Promise<{ deployer: string; approver: string }> {
  expect(
    (await call('POST', '/v1/tenants', { key: operatorKey, json: { tenant_id: tenantId } })).status,
  ).toBe(201);
  // Tenant keys publish only under authors granted to their tenant (docs/security.md).
  expect((await call('PUT', `/v1/authors/${AUTHOR}/tenants/${tenantId}`, { key: operatorKey })).status).toBe(
    200,
  );
  const put = await call('PUT', `/v1/tenants/${tenantId}/policy`, { key: operatorKey, json: policy });
  expect(put.status, put.text).toBe(200);
  const issue = async (scopes: string[]) => {
    const response = await call('POST', `/v1/tenants/${tenantId}/keys`, {
      key: operatorKey,
      json: { scopes },
    });
    expect(response.status, response.text).toBe(201);
    return response.body.key as string;
  };
  return {
    deployer: await issue(['read', 'packages:write', 'deploy:write']),
    approver: await issue(['read', 'admin']),
  };
}

async function writePluginDir(dir: string, version: string): Promise<void> {
  const files = packageFiles({
    manifest: { author: AUTHOR, name: 'tool', version, meta: { version } } as never,
  });
  for (const [name, content] of files) {
    await mkdir(dirname(join(dir, name)), { recursive: true });
    await writeFile(join(dir, name), content);
  }
}

async function hostFault(fault: Record<string, unknown>): Promise<void> {
  const response = await fetch(`${staging.runtimeUrl}/admin/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(fault),
    signal: AbortSignal.timeout(5_000),
  });
  expect(response.status).toBe(201);
}

beforeAll(async () => {
  if (process.env.PLUGINOPS_TEST_LOGS !== '1') process.env.PLUGINOPS_LOG_LEVEL ??= 'WARN';
  work = await mkdtemp(join(tmpdir(), 'pluginops-cli-pipeline-'));

  // Staging (shared stack): the release tenant; prod pulls from staging with a staging read key.
  const stagingKeys = await createTenant(stagingCall, staging.bootstrapKey, STAGING_TENANT, {});
  const marketplaceReader = await stagingCall('POST', `/v1/tenants/${STAGING_TENANT}/keys`, {
    key: staging.bootstrapKey,
    json: { scopes: ['read'], description: 'prod marketplace pull' },
  });
  expect(marketplaceReader.status).toBe(201);

  github = await startFakeGithub({
    releases: [
      {
        repo: `acme/extra-${run}`,
        tag: 'v2.0.0',
        assets: [
          {
            name: 'extra.difypkg',
            content: await buildPackage({
              manifest: { author: AUTHOR, name: 'extra', version: '2.0.0' } as never,
            }),
          },
        ],
      },
    ],
  });
  process.env.PLUGINOPS_MARKETPLACE_URL = `${staging.baseUrl}/v1/marketplace`;
  process.env.PLUGINOPS_MARKETPLACE_TOKEN = marketplaceReader.body.key;
  process.env.PLUGINOPS_GITHUB_API_URL = github.apiUrl;
  prodDataDir = await mkdtemp(join(tmpdir(), 'pluginops-prod-'));
  prod = await startLocalStack({
    dataDir: prodDataDir,
    ...sharedEngineOptions('prod'),
    port: 0,
    s3Port: 0,
    quiet: true,
  });
  prodCall = createApiClient(prod.baseUrl);
  const prodKeys = await createTenant(prodCall, prod.bootstrapKey, PROD_TENANT, {
    approval_required: true,
    require_signature: true,
    trusted_signers: [SIGNER],
  });

  secrets.STAGING_KEY = stagingKeys.deployer;
  secrets.PROD_KEY = prodKeys.deployer;
  secrets.PROD_APPROVER_KEY = prodKeys.approver;
  profilesFile = join(work, 'profiles.json');
  await writeFile(
    profilesFile,
    JSON.stringify({
      default_profile: 'staging',
      profiles: {
        staging: { endpoint: staging.baseUrl, key_env: 'STAGING_KEY' },
        prod: { endpoint: `${prod.baseUrl}/v1/`, key_env: 'PROD_KEY' },
        'prod-approver': { endpoint: prod.baseUrl, key_env: 'PROD_APPROVER_KEY' },
      },
    }),
    { mode: 0o600 },
  );
}, 120_000);

afterAll(async () => {
  await prod?.stop();
  await github?.stop();
  delete process.env.PLUGINOPS_MARKETPLACE_URL;
  delete process.env.PLUGINOPS_MARKETPLACE_TOKEN;
  delete process.env.PLUGINOPS_GITHUB_API_URL;
  if (prodDataDir) await rm(prodDataDir, { recursive: true, force: true });
  if (work) await rm(work, { recursive: true, force: true });
});

describe('release pipeline', () => {
  let v1: string;

  it('build → sign → publish to staging → deploy with --wait → verify → promote → approve in prod', async () => {
    // build + pack (the workflow's "build" job)
    await writePluginDir(join(work, 'plugin-v1'), '1.0.0');
    const packed = ok(
      await cli(['pack', join(work, 'plugin-v1'), '-o', join(work, 'tool.difypkg'), '--json']),
    );
    expect(json(packed).unique_identifier).toMatch(new RegExp(`^${PLUGIN}:1\\.0\\.0@`));

    // sign with the release key (a CI secret); its public half is trusted on both stages
    ok(await cli(['keygen', '--out-dir', work, '--name', SIGNER, '--bits', '2048']));
    const publicKey = await readFile(join(work, `${SIGNER}.public.pem`), 'utf8');
    for (const [call, key] of [
      [stagingCall, staging.bootstrapKey],
      [prodCall, prod.bootstrapKey],
    ] as const) {
      const trusted = await call('POST', '/v1/signers', {
        key,
        json: { key_id: SIGNER, public_key_pem: publicKey },
      });
      expect(trusted.status, trusted.text).toBe(201);
    }
    const signed = json(
      ok(
        await cli([
          'sign',
          join(work, 'tool.difypkg'),
          '--key',
          join(work, `${SIGNER}.private.pem`),
          '-o',
          join(work, 'tool.signed.difypkg'),
          '--json',
        ]),
      ),
    );
    v1 = signed.unique_identifier;

    // publish to staging (default profile), checking the stage computed the same identifier
    const published = json(
      ok(await cli(['publish', join(work, 'tool.signed.difypkg'), '--expect-identifier', v1, '--json'])),
    );
    expect(published).toMatchObject({
      unique_identifier: v1,
      signature: { status: 'verified', key_id: SIGNER },
    });

    // deploy to the staging tenant and wait; then the post-deploy verification
    const deployed = await cli([
      'deploy',
      STAGING_TENANT,
      'install',
      v1,
      '--wait',
      '--timeout',
      '60',
      '--profile',
      'staging',
    ]);
    ok(deployed);
    expect(deployed.stdout).toContain('status: succeeded');
    ok(await cli(['status', STAGING_TENANT, '--expect', v1, '--profile', 'staging']));

    // promote: prod pulls the exact bytes from staging's marketplace by identifier
    const promoted = json(ok(await cli(['promote', v1, '--from', 'staging', '--to', 'prod', '--json'])));
    expect(promoted).toMatchObject({
      unique_identifier: v1,
      pulled: true,
      created: true,
      package: { unique_identifier: v1, source: { type: 'marketplace' }, signature: { status: 'verified' } },
    });
    expect(promoted.to.endpoint).toBe(prod.baseUrl);

    // the checklist on prod: tested on the staging tenant, signed by a trusted signer, …
    const checklist = json(
      ok(
        await cli([
          'plan',
          PROD_TENANT,
          v1,
          '--checklist',
          '--profile',
          'prod',
          '--staging-profile',
          'staging',
          '--staging-tenant',
          STAGING_TENANT,
          '--json',
        ]),
      ),
    );
    expect(checklist.passed).toBe(true);
    const statuses = Object.fromEntries(
      checklist.checklist[0].items.map((item: any) => [item.id, item.status]),
    );
    expect(statuses).toMatchObject({
      trusted_source: 'pass',
      signature_verified: 'pass',
      tested_in_staging: 'pass',
      config_backed_up: 'pass',
      performance_acceptable: 'manual',
    });

    // prod install: promote again (nothing to pull) with --deploy; prod's policy wants approval
    const started = json(
      ok(await cli(['promote', v1, '--from', 'staging', '--to', 'prod', '--deploy', PROD_TENANT, '--json'])),
    );
    expect(started).toMatchObject({ pulled: false, deployment: { tenant_id: PROD_TENANT } });
    const deploymentId = started.deployment.deployment_id as string;
    const waiting = await cli([
      'status',
      PROD_TENANT,
      deploymentId,
      '--wait',
      '--timeout',
      '3',
      '--profile',
      'prod',
    ]);
    expect(waiting.code).toBe(7);
    expect(waiting.stdout).toContain('awaiting_approval');
    // a deploy key cannot approve; the approver (GitHub environment reviewer's secret) can
    expect((await cli(['approve', PROD_TENANT, deploymentId, '--profile', 'prod'])).code).toBe(3);
    ok(
      await cli([
        'approve',
        PROD_TENANT,
        deploymentId,
        '--comment',
        `pipeline ${run}`,
        '--profile',
        'prod-approver',
      ]),
    );
    const finished = json(
      ok(
        await cli([
          'status',
          PROD_TENANT,
          deploymentId,
          '--wait',
          '--timeout',
          '60',
          '--json',
          '--profile',
          'prod',
        ]),
      ),
    );
    expect(finished).toMatchObject({ status: 'succeeded', approval: { decision: 'approved' } });
    ok(await cli(['status', PROD_TENANT, '--expect', v1, '--profile', 'prod']));
  }, 240_000);

  it('a release whose probe fails on staging exits 5 and staging keeps the previous build', async () => {
    expect(v1).toBeDefined();
    await writePluginDir(join(work, 'plugin-v2'), '1.1.0');
    const v2 = json(
      ok(await cli(['pack', join(work, 'plugin-v2'), '-o', join(work, 'tool-2.difypkg'), '--json'])),
    ).unique_identifier as string;
    ok(await cli(['publish', join(work, 'tool-2.difypkg'), '--profile', 'staging']));
    await hostFault({ tenant_id: STAGING_TENANT, unique_identifier: v2, mode: 'fail' });
    try {
      const failed = await cli([
        'deploy',
        STAGING_TENANT,
        'upgrade',
        v2,
        '--wait',
        '--timeout',
        '60',
        '--json',
      ]);
      expect(failed.code, failed.stderr).toBe(5);
      expect(json(failed).status).toBe('rolled_back');
      // the workflow's post-deploy check still sees the old build, held version named
      ok(await cli(['status', STAGING_TENANT, '--expect', v1]));
      expect((await cli(['status', STAGING_TENANT, '--expect', v2])).code).toBe(5);
    } finally {
      await fetch(`${staging.runtimeUrl}/admin/faults?tenant_id=${STAGING_TENANT}`, {
        method: 'DELETE',
        signal: AbortSignal.timeout(5_000),
      });
    }
    // hold cleared, v2 deploys; then a failing post-deploy check → the job rolls back explicitly
    ok(await cli(['hold', 'clear', STAGING_TENANT, PLUGIN]));
    ok(await cli(['deploy', STAGING_TENANT, 'upgrade', v2, '--wait', '--timeout', '60']));
    ok(await cli(['deploy', STAGING_TENANT, 'rollback', PLUGIN, '--wait', '--timeout', '60']));
    ok(await cli(['status', STAGING_TENANT, '--expect', v1]));
    const history = json(ok(await cli(['history', STAGING_TENANT, PLUGIN, '--json'])));
    expect(history.items.map((revision: any) => revision.operation)).toEqual([
      'rollback',
      'upgrade',
      'rollback',
      'upgrade',
      'install',
    ]);
  }, 240_000);

  it('publishes from a GitHub release and from the marketplace on prod', async () => {
    const githubArgs = [
      'publish',
      '--github',
      `acme/extra-${run}`,
      '--release',
      'v2.0.0',
      '--asset',
      'extra.difypkg',
    ];
    // The prod tenant's policy wants signatures; its key cannot publish the unsigned asset.
    const refused = await cli([...githubArgs, '--profile', 'prod', '--json']);
    expect(refused.code).toBe(2);
    expect(json(refused)).toMatchObject({ type: 'urn:pluginops:problem:signature-required' });
    // The prod operator can (flags beat the default profile: --endpoint here, the key from the env).
    const fromGithub = json(
      ok(
        await cli([...githubArgs, '--endpoint', prod.baseUrl, '--json'], {
          PLUGINOPS_KEY: prod.bootstrapKey,
        }),
      ),
    );
    expect(fromGithub).toMatchObject({
      plugin_id: `${AUTHOR}/extra`,
      source: { type: 'github' },
      created: true,
    });
    const again = json(ok(await cli(['publish', '--marketplace', v1, '--profile', 'prod', '--json'])));
    expect(again).toMatchObject({ unique_identifier: v1, created: false });
    const unknown = await cli([
      'publish',
      '--marketplace',
      `${AUTHOR}/none:1.0.0@${'a'.repeat(64)}`,
      '--profile',
      'prod',
    ]);
    expect(unknown.code).toBe(6);
  }, 60_000);

  it('profiles: unknown names are bad input; a group-readable file is used with a warning; keys never print', async () => {
    const unknown = await cli(['status', PROD_TENANT, '--profile', 'qa']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('Profile "qa" is not in');
    await chmod(profilesFile, 0o644);
    try {
      const result = await cli(['status', PROD_TENANT, '--profile', 'prod']);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toMatch(/warning: .*profiles\.json has mode 0644 .*chmod 600/);
      for (const key of Object.values(secrets)) expect(result.stdout + result.stderr).not.toContain(key);
    } finally {
      await chmod(profilesFile, 0o600);
    }
    // an explicit --endpoint/--key beats the profile; the env key is not sent to another profile's stage
    const wrongKey = await cli([
      'status',
      PROD_TENANT,
      '--profile',
      'prod',
      '--key',
      secrets.STAGING_KEY as string,
    ]);
    expect(wrongKey.code).toBe(3);
  });
});
