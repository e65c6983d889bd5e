/**
 * The API commands of the `pluginops` CLI against the shared local stack: each command's happy
 * path and its main failures with their exit codes (bad key → 3, bad package → 2, conflict → 4,
 * rolled back → 5 via a plugin-host fault, not found → 6), `--json` parsed, and the terminal views
 * (live deployment view, upload progress bar) under a pseudo-terminal (`script`).
 *
 * Most runs call the CLI's `main(argv, io)` in this process, with the run's own environment, stdout
 * and stderr (the code the binary runs, minus a Node start each: ~0.27 CPU-s; 64 of the 74 runs).
 * The runs marked `binary` and every terminal run start the real `bin/pluginops.js` (its bundle,
 * its process exit code); test/integration/cli-pipeline.test.ts, cli-package.test.ts and the README
 * walkthrough run only the binary.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiClient } from '#test/support/api-client.ts';
import { runCliInProcess } from '#test/support/cli-in-process.ts';
import { stackInfo } from '#test/support/local-stack.ts';
import { buildPackage } from '#test/support/package-builder.ts';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const nodeBinary = join(repoRoot, 'node_modules/.bin/node');
const cliEntry = join(repoRoot, 'bin/pluginops.js');
/** Every CLI run has a deadline; a hung CLI fails its test, not the suite. */
const RUN_DEADLINE_MS = 60_000;

const stack = stackInfo();
const call = createApiClient(stack.baseUrl);
const run = randomBytes(3).toString('hex');
const AUTHOR = `cli${run}`;
const ESC = String.fromCharCode(27);

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

interface RunOptions {
  key?: string;
  env?: Record<string, string>;
  /** Run under a pseudo-terminal (util-linux `script`); stdout and stderr arrive merged in stdout. */
  tty?: boolean;
  /** Start the real binary instead of calling `main` in this process (implied by `tty`). */
  binary?: boolean;
}

let home: string;

function cli(args: string[], options: RunOptions = {}): Promise<RunResult> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: home,
    PLUGINOPS_ENDPOINT: stack.baseUrl,
    PLUGINOPS_KEY: options.key ?? stack.bootstrapKey,
    ...options.env,
  };
  if (options.tty !== true && options.binary !== true) return runCliInProcess(args, env);
  return spawnCli(args, env, options.tty === true);
}

function spawnCli(args: string[], env: Record<string, string>, tty: boolean): Promise<RunResult> {
  const [file, argv] = tty
    ? ['script', ['-qec', [nodeBinary, cliEntry, ...args].map(shellQuote).join(' '), '/dev/null']]
    : [nodeBinary, [cliEntry, ...args]];
  return new Promise((resolvePromise, reject) => {
    execFile(
      file as string,
      argv as string[],
      { cwd: home, env, timeout: RUN_DEADLINE_MS, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 },
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

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

function json(result: RunResult): any {
  try {
    return JSON.parse(result.stdout);
  } catch {
    throw new Error(`stdout is not JSON (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
  }
}

interface Tenant {
  id: string;
  reader: string;
  deployer: string;
  admin: string;
}

let tenantCount = 0;
async function newTenant(policy: Record<string, unknown> = {}): Promise<Tenant> {
  tenantCount += 1;
  const id = `cli-${run}-${tenantCount}`;
  const created = await call('POST', '/v1/tenants', { key: stack.bootstrapKey, json: { tenant_id: id } });
  expect(created.status, created.text).toBe(201);
  // Tenant keys publish only under authors granted to their tenant (docs/security.md).
  expect((await call('PUT', `/v1/authors/${AUTHOR}/tenants/${id}`, { key: stack.bootstrapKey })).status).toBe(
    200,
  );
  const issue = async (scopes: string[]) => {
    const response = await call('POST', `/v1/tenants/${id}/keys`, {
      key: stack.bootstrapKey,
      json: { scopes },
    });
    expect(response.status, response.text).toBe(201);
    return response.body.key as string;
  };
  if (Object.keys(policy).length > 0) {
    const put = await call('PUT', `/v1/tenants/${id}/policy`, { key: stack.bootstrapKey, json: policy });
    expect(put.status, put.text).toBe(200);
  }
  return {
    id,
    reader: await issue(['read']),
    deployer: await issue(['read', 'packages:write', 'deploy:write']),
    admin: await issue(['read', 'admin', 'deploy:write']),
  };
}

let pluginCount = 0;
function newPlugin(): string {
  pluginCount += 1;
  return `p${pluginCount}`;
}

/** Builds a package and writes it under the temp home; returns its path. */
async function packageFile(
  name: string,
  version: string,
  extra: Record<string, Uint8Array> = {},
): Promise<string> {
  const bytes = await buildPackage({
    manifest: { author: AUTHOR, name, version, meta: { version } } as never,
    files: extra,
  });
  const path = join(home, `${name}-${version}.difypkg`);
  await writeFile(path, bytes);
  return path;
}

async function publish(file: string, key = stack.bootstrapKey): Promise<string> {
  const result = await cli(['publish', file, '--json'], { key });
  expect(result.code, result.stderr).toBe(0);
  return json(result).unique_identifier as string;
}

async function hostFault(fault: Record<string, unknown>): Promise<void> {
  const response = await fetch(`${stack.runtimeUrl}/admin/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(fault),
    signal: AbortSignal.timeout(5_000),
  });
  expect(response.status).toBe(201);
}

async function clearHostFaults(tenant: Tenant): Promise<void> {
  await fetch(`${stack.runtimeUrl}/admin/faults?tenant_id=${tenant.id}`, {
    method: 'DELETE',
    signal: AbortSignal.timeout(5_000),
  });
}

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'pluginops-cli-remote-'));
});

afterAll(async () => {
  await rm(home, { recursive: true, force: true });
});

// ── publish ─────────────────────────────────────────────────────────────────────────────────────

describe('publish', () => {
  it('uploads through a presigned URL and publishes; the same bytes again are "already published"', async () => {
    const tenant = await newTenant();
    const file = await packageFile(newPlugin(), '1.0.0');
    const first = await cli(['publish', file, '--json'], { key: tenant.deployer, binary: true });
    expect(first.code, first.stderr).toBe(0);
    const pkg = json(first);
    expect(pkg).toMatchObject({
      plugin_id: expect.stringMatching(new RegExp(`^${AUTHOR}/`)),
      version: '1.0.0',
      signature: { status: 'unsigned' },
      source: { type: 'package' },
      created: true,
    });
    const again = await cli(['publish', file, '--json', '--expect-identifier', pkg.unique_identifier], {
      key: tenant.deployer,
      binary: true,
    });
    expect(again.code, again.stderr).toBe(0);
    expect(json(again)).toMatchObject({ unique_identifier: pkg.unique_identifier, created: false });

    const human = await cli(['publish', file], { key: tenant.deployer, binary: true });
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`unique_identifier: ${pkg.unique_identifier}`);
    expect(human.stdout).toContain('published:         already');
    expect(human.stdout).not.toContain('\x1b[');
  }, 120_000);

  it('a bad package exits 2 with the problem on stdout (--json) and error[slug] on stderr', async () => {
    const file = join(home, 'garbage.difypkg');
    await writeFile(file, 'this is not a zip');
    const result = await cli(['publish', file, '--json']);
    expect(result.code).toBe(2);
    expect(json(result)).toMatchObject({ type: 'urn:pluginops:problem:invalid-package', status: 422 });
    expect(result.stderr).toMatch(/^error\[invalid-package\] Invalid package: /m);
  }, 120_000);

  it('a bad key exits 3 and the key is never printed', async () => {
    const badKey = `po_${'x'.repeat(43)}`;
    const file = await packageFile(newPlugin(), '1.0.0');
    const result = await cli(['publish', file], { key: badKey, binary: true });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('error[unauthorized]');
    expect(result.stdout + result.stderr).not.toContain(badKey);
  }, 120_000);

  it('a key without packages:write exits 3 (forbidden)', async () => {
    const tenant = await newTenant();
    const result = await cli(['publish', await packageFile(newPlugin(), '1.0.0')], { key: tenant.reader });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('error[forbidden]');
  }, 120_000);

  it('refuses bad arguments before any request (exit 2)', async () => {
    expect((await cli(['publish'], { binary: true })).code).toBe(2);
    expect((await cli(['publish', '--github', 'acme/tool'], { binary: true })).code).toBe(2);
    expect((await cli(['publish', join(home, 'missing.difypkg')])).code).toBe(2);
    const noEndpoint = await cli(['status', 'acme'], { env: { PLUGINOPS_ENDPOINT: '' } });
    expect(noEndpoint.code).toBe(2);
    expect(noEndpoint.stderr).toContain('No endpoint');
  }, 120_000);
});

// ── deploy lifecycle ────────────────────────────────────────────────────────────────────────────

describe('deploy, status, history, rollback, uninstall', () => {
  it('follows each deployment to its end and the history records it', async () => {
    const tenant = await newTenant();
    const name = newPlugin();
    const pluginId = `${AUTHOR}/${name}`;
    const v1 = await publish(await packageFile(name, '1.0.0'));
    const v2 = await publish(await packageFile(name, '1.1.0'));

    const install = await cli(['deploy', tenant.id, 'install', v1, '--wait', '--timeout', '45', '--json'], {
      key: tenant.deployer,
    });
    expect(install.code, install.stderr).toBe(0);
    const installed = json(install);
    expect(installed).toMatchObject({ status: 'succeeded', operation: 'install', tenant_id: tenant.id });
    expect(installed.steps.map((step: { name: string }) => step.name)).toEqual(
      expect.arrayContaining(['Verify', 'Snapshot', 'Apply', 'Probe']),
    );
    // With --json the plain progress lines go to stderr, stdout holds only the document.
    expect(install.stderr).toContain('status: succeeded');

    // Plain lines (no TTY): one per change, no escape sequences.
    const upgrade = await cli(['deploy', tenant.id, 'upgrade', v2, '--wait', '--timeout', '45'], {
      key: tenant.deployer,
    });
    expect(upgrade.code, upgrade.stderr).toBe(0);
    expect(upgrade.stdout).toMatch(/^step Apply: succeeded \(\d+(ms|\.\ds)\)$/m);
    expect(upgrade.stdout.trim().split('\n').at(-1)).toBe('status: succeeded');
    expect(upgrade.stdout).not.toContain('\x1b[');

    const status = await cli(['status', tenant.id, '--json', '--expect', v2], { key: tenant.reader });
    expect(status.code, status.stderr).toBe(0);
    expect(json(status)).toMatchObject({
      tenant_id: tenant.id,
      items: [{ plugin_id: pluginId, unique_identifier: v2, revision: 2, status: 'installed' }],
      expectations: [{ unique_identifier: v2, ok: true }],
    });
    const wrong = await cli(['status', tenant.id, '--expect', v1], { key: tenant.reader });
    expect(wrong.code).toBe(5);
    expect(wrong.stdout).toMatch(/^FAIL /m);

    const table = await cli(['status', tenant.id], { key: tenant.reader });
    expect(table.stdout).toMatch(/^PLUGIN\s+VERSION\s+REV\s+STATUS/);
    expect(table.stdout).toMatch(new RegExp(`^${pluginId}\\s+1\\.1\\.0\\s+2\\s+installed`, 'm'));

    const rollback = await cli(
      [
        'deploy',
        tenant.id,
        'rollback',
        pluginId,
        '--to-revision',
        '1',
        '--wait',
        '--timeout',
        '45',
        '--json',
      ],
      { key: tenant.deployer },
    );
    expect(rollback.code, rollback.stderr).toBe(0);
    expect(json(rollback)).toMatchObject({ status: 'succeeded', operation: 'rollback' });

    const history = await cli(['history', tenant.id, pluginId, '--json'], { key: tenant.reader });
    expect(history.code, history.stderr).toBe(0);
    expect(
      json(history).items.map((revision: any) => [
        revision.revision,
        revision.operation,
        revision.unique_identifier,
      ]),
    ).toEqual([
      [3, 'rollback', v1],
      [2, 'upgrade', v2],
      [1, 'install', v1],
    ]);
    const historyTable = await cli(['history', tenant.id, pluginId], { key: tenant.reader });
    expect(historyTable.stdout).toMatch(/^REV\s+OPERATION\s+VERSION\s+OUTCOME/);

    const shown = await cli(['status', tenant.id, installed.deployment_id, '--json'], { key: tenant.reader });
    expect(json(shown)).toMatchObject({ deployment_id: installed.deployment_id, status: 'succeeded' });

    const uninstall = await cli(['deploy', tenant.id, 'uninstall', pluginId, '--wait', '--json'], {
      key: tenant.deployer,
    });
    expect(uninstall.code, uninstall.stderr).toBe(0);
    expect(json(uninstall).status).toBe('succeeded');
  }, 120_000);

  it('a failed probe rolls back: exit 5, the hold shows in status, hold clear removes it', async () => {
    const tenant = await newTenant();
    const name = newPlugin();
    const pluginId = `${AUTHOR}/${name}`;
    const v1 = await publish(await packageFile(name, '1.0.0'));
    const v2 = await publish(await packageFile(name, '1.1.0'));
    expect((await cli(['deploy', tenant.id, 'install', v1, '--wait'], { key: tenant.deployer })).code).toBe(
      0,
    );
    await hostFault({ tenant_id: tenant.id, unique_identifier: v2, mode: 'fail' });
    try {
      const upgrade = await cli(['deploy', tenant.id, 'upgrade', v2, '--wait', '--timeout', '50', '--json'], {
        key: tenant.deployer,
      });
      expect(upgrade.code, upgrade.stderr).toBe(5);
      const deployment = json(upgrade);
      expect(deployment.status).toBe('rolled_back');
      expect(upgrade.stderr).toMatch(/^error\[deployment-rolled-back\] Deployment \S+ rolled back: /m);

      const shown = await cli(['status', tenant.id, deployment.deployment_id], { key: tenant.reader });
      expect(shown.code).toBe(5);
      expect(shown.stdout).toContain('rolled back');
      expect(shown.stdout).toMatch(/✗ Probe/);

      const status = await cli(['status', tenant.id, '--json'], { key: tenant.reader });
      expect(json(status).items[0]).toMatchObject({ unique_identifier: v1, hold: { unique_identifier: v2 } });
      const cleared = await cli(['hold', 'clear', tenant.id, pluginId, '--json'], { key: tenant.deployer });
      expect(cleared.code, cleared.stderr).toBe(0);
      expect(
        json(await cli(['status', tenant.id, '--json'], { key: tenant.reader })).items[0].hold,
      ).toBeUndefined();
    } finally {
      await clearHostFaults(tenant);
    }
  }, 120_000);

  it('bad targets are refused locally (exit 2); unknown things are 404 (exit 6)', async () => {
    const tenant = await newTenant();
    expect((await cli(['deploy', tenant.id, 'install', 'acme/x'], { key: tenant.deployer })).code).toBe(2);
    expect((await cli(['deploy', tenant.id, 'frobnicate', 'acme/x'], { key: tenant.deployer })).code).toBe(2);
    const missing = `${AUTHOR}/nothing:1.0.0@${'0'.repeat(64)}`;
    const result = await cli(['deploy', tenant.id, 'install', missing, '--json'], { key: tenant.deployer });
    expect(result.code).toBe(6);
    expect(json(result)).toMatchObject({ status: 404 });
    const unknown = await cli(['status', tenant.id, '01ARZ3NDEKTSV4RRFFQ69G5FAV'], { key: tenant.reader });
    expect(unknown.code).toBe(6);
    expect((await cli(['history', `nobody-${run}`, `${AUTHOR}/x`])).code).toBe(6);
  }, 120_000);
});

// ── approval and conflicts ──────────────────────────────────────────────────────────────────────

describe('approve, reject and conflicts', () => {
  it('a held plugin is a conflict (exit 4); reject, then approve of a decided deployment is exit 4', async () => {
    const tenant = await newTenant({ approval_required: true });
    const name = newPlugin();
    const v1 = await publish(await packageFile(name, '1.0.0'));

    const started = await cli(['deploy', tenant.id, 'install', v1, '--json'], { key: tenant.deployer });
    expect(started.code, started.stderr).toBe(0);
    const { deployment_id: deploymentId } = json(started);
    // --wait on a deployment awaiting approval keeps waiting; a short bound exits 7.
    const waited = await cli(['status', tenant.id, deploymentId, '--wait', '--timeout', '2'], {
      key: tenant.reader,
    });
    expect(waited.code).toBe(7);
    expect(waited.stdout).toContain('status: awaiting_approval (approve with: pluginops approve');

    const second = await cli(['deploy', tenant.id, 'install', v1, '--json'], { key: tenant.deployer });
    expect(second.code).toBe(4);
    expect(json(second)).toMatchObject({ type: 'urn:pluginops:problem:conflict', status: 409 });

    const forbidden = await cli(['reject', tenant.id, deploymentId], { key: tenant.reader });
    expect(forbidden.code).toBe(3);
    const rejected = await cli(['reject', tenant.id, deploymentId, '--comment', 'not today', '--json'], {
      key: tenant.admin,
    });
    expect(rejected.code, rejected.stderr).toBe(0);
    expect(json(rejected)).toMatchObject({ approval: { decision: 'rejected', comment: 'not today' } });
    const late = await cli(['approve', tenant.id, deploymentId], { key: tenant.admin });
    expect(late.code).toBe(4);
    expect(late.stderr).toContain('error[conflict]');
    const final = await cli(['status', tenant.id, deploymentId, '--wait', '--timeout', '30', '--json'], {
      key: tenant.reader,
    });
    expect(final.code).toBe(5);
    expect(json(final).status).toBe('rejected');
  }, 120_000);

  it('approve lets a waiting deployment go on', async () => {
    const tenant = await newTenant({ approval_required: true });
    const v1 = await publish(await packageFile(newPlugin(), '1.0.0'));
    const started = json(await cli(['deploy', tenant.id, 'install', v1, '--json'], { key: tenant.deployer }));
    const waiting = await cli(['status', tenant.id, started.deployment_id, '--wait', '--timeout', '1'], {
      key: tenant.reader,
    });
    expect(waiting.code).toBe(7);
    const approved = await cli(['approve', tenant.id, started.deployment_id, '--comment', 'ship it'], {
      key: tenant.admin,
    });
    expect(approved.code, approved.stderr).toBe(0);
    expect(approved.stdout).toMatch(/^decision:\s+approved$/m);
    const done = await cli(
      ['status', tenant.id, started.deployment_id, '--wait', '--timeout', '45', '--json'],
      {
        key: tenant.reader,
      },
    );
    expect(done.code, done.stderr).toBe(0);
    expect(json(done).status).toBe('succeeded');
  }, 120_000);

  it('--expected-current that does not match is a conflict (exit 4)', async () => {
    const tenant = await newTenant();
    const name = newPlugin();
    const v1 = await publish(await packageFile(name, '1.0.0'));
    const v2 = await publish(await packageFile(name, '1.1.0'));
    const result = await cli(['deploy', tenant.id, 'install', v2, '--expected-current', v1], {
      key: tenant.deployer,
    });
    expect(result.code).toBe(4);
  }, 120_000);
});

// ── plan, checklist, auto-upgrade ───────────────────────────────────────────────────────────────

describe('plan and checklist', () => {
  it('plans an install, and the checklist fails an unsigned package (exit 5) with every item in --json', async () => {
    const tenant = await newTenant();
    const name = newPlugin();
    const v1 = await publish(await packageFile(name, '1.0.0'));
    const plan = await cli(['plan', tenant.id, v1, '--json'], { key: tenant.reader });
    expect([0, 6], plan.stderr).toContain(plan.code);
    if (plan.code === 6) {
      // A stage without the plan API says so plainly.
      expect(plan.stderr).toContain('error[plans-unavailable]');
    } else {
      expect(json(plan).plan.steps[0]).toMatchObject({ plugin_id: `${AUTHOR}/${name}`, action: 'install' });
    }

    const checklist = await cli(
      ['plan', tenant.id, `${AUTHOR}/${name}@^1`, '--checklist', '--json', '--staging-tenant', tenant.id],
      {
        key: tenant.reader,
      },
    );
    expect(checklist.code, checklist.stderr).toBe(5);
    const document = json(checklist);
    expect(document.passed).toBe(false);
    const items = Object.fromEntries(
      document.checklist[0].items.map((item: any) => [item.id, [item.status, item.automatic]]),
    );
    expect(document.checklist[0].unique_identifier).toBe(v1);
    expect(items).toEqual({
      trusted_source: ['pass', true],
      // The tenant does not require signatures: "pass: not required", as the server's plan says.
      signature_verified: ['pass', true],
      dependencies_complete: ['pass', true],
      permissions_reasonable: ['pass', true],
      tested_in_staging: ['fail', true],
      performance_acceptable: ['manual', false],
      config_backed_up: ['pass', true],
      team_notified: ['manual', false],
    });
    expect(checklist.stderr).toContain('error[checklist-failed]');
  }, 120_000);

  it('the checklist judges exactly the build the server plan chose, not the newest match', async () => {
    const tenant = await newTenant();
    const app = newPlugin();
    const lib = newPlugin();
    const v120 = await publish(await packageFile(app, '1.2.0'));
    const v130 = await publish(await packageFile(app, '1.3.0'));
    // lib needs app ~1.2.0, so a plan of both must choose app 1.2.0 although ^1.2 admits 1.3.0.
    const libBytes = await buildPackage({
      manifest: {
        author: AUTHOR,
        name: lib,
        version: '1.0.0',
        meta: { version: '1.0.0' },
        dependencies: [{ type: 'marketplace', plugin: `${AUTHOR}/${app}`, version: '~1.2.0' }],
      } as never,
    });
    const libFile = join(home, `${lib}-1.0.0.difypkg`);
    await writeFile(libFile, libBytes);
    const libUid = await publish(libFile);

    const result = await cli(['plan', tenant.id, `${AUTHOR}/${app}@^1.2`, libUid, '--checklist', '--json'], {
      key: tenant.reader,
    });
    const document = json(result);
    const chosen = document.plan.steps.find((step: any) => step.plugin_id === `${AUTHOR}/${app}`);
    expect(chosen.unique_identifier).toBe(v120);
    expect(document.checklist.map((entry: any) => entry.unique_identifier)).toEqual([v120, libUid]);
    expect(document.checklist[0].unique_identifier).not.toBe(v130);
    const signature = document.checklist[0].items.find((item: any) => item.id === 'signature_verified');
    expect(signature).toMatchObject({ status: 'pass', detail: 'not required (package is unsigned)' });
    const planSignature = document.plan.checks.find(
      (check: any) => check.unique_identifier === v120,
    ).signature;
    expect(planSignature.status).toBe('pass');
  }, 120_000);

  it('a permission beyond the ceiling fails the checklist', async () => {
    const tenant = await newTenant({ permission_ceiling: { tool: { enabled: true } } });
    const v1 = await publish(await packageFile(newPlugin(), '1.0.0'));
    const result = await cli(['plan', tenant.id, v1, '--checklist'], { key: tenant.reader });
    expect(result.code).toBe(5);
    expect(result.stdout).toMatch(
      /\[!\] fail\s+auto\s+permissions_reasonable\s+确认权限请求合理 — beyond the tenant's ceiling: model/,
    );
  }, 120_000);
});

describe('auto-upgrade', () => {
  it('set changes only the given fields; get reads them back; bad input is exit 2', async () => {
    const tenant = await newTenant();
    const before = json(await cli(['auto-upgrade', 'get', tenant.id, '--json'], { key: tenant.reader }));
    expect(before).toMatchObject({ strategy_setting: 'fix_only', is_default: true });
    const set = await cli(
      ['auto-upgrade', 'set', tenant.id, '--time', '03:30', '--timezone', 'Europe/Berlin', '--json'],
      { key: tenant.admin },
    );
    expect(set.code, set.stderr).toBe(0);
    expect(json(set)).toMatchObject({
      strategy_setting: 'fix_only',
      upgrade_time_of_day: 12_600,
      timezone: 'Europe/Berlin',
      upgrade_mode: 'all',
    });
    const partial = await cli(
      ['auto-upgrade', 'set', tenant.id, '--strategy', 'latest', '--mode', 'partial', '--include', 'a/b,c/d'],
      { key: tenant.admin },
    );
    expect(partial.code, partial.stderr).toBe(0);
    expect(partial.stdout).toMatch(/^time:\s+03:30 Europe\/Berlin$/m);
    expect(
      json(await cli(['auto-upgrade', 'get', tenant.id, '--json'], { key: tenant.reader })),
    ).toMatchObject({
      strategy_setting: 'latest',
      upgrade_mode: 'partial',
      include_plugins: ['a/b', 'c/d'],
      upgrade_time_of_day: 12_600,
    });
    expect(
      (await cli(['auto-upgrade', 'set', tenant.id, '--time', '25:00'], { key: tenant.admin })).code,
    ).toBe(2);
    const zone = await cli(['auto-upgrade', 'set', tenant.id, '--timezone', 'Mars/Olympus'], {
      key: tenant.admin,
    });
    expect(zone.code).toBe(2);
    expect(zone.stderr).toContain('error[validation-failed]');
    expect(
      (await cli(['auto-upgrade', 'set', tenant.id, '--strategy', 'latest'], { key: tenant.reader })).code,
    ).toBe(3);
    const runs = await cli(['auto-upgrade', 'runs', tenant.id, '--json'], { key: tenant.reader });
    expect(runs.code, runs.stderr).toBe(0);
    expect(json(runs)).toMatchObject({ tenant_id: tenant.id, items: [] });
  }, 120_000);
});

// ── terminal rendering ──────────────────────────────────────────────────────────────────────────

describe('under a pseudo-terminal', () => {
  it('draws the live deployment view in place, and no escape codes when CI=true', async () => {
    const tenant = await newTenant();
    const v1 = await publish(await packageFile(newPlugin(), '1.0.0'));
    const live = await cli(['deploy', tenant.id, 'install', v1, '--wait', '--timeout', '45'], {
      key: tenant.deployer,
      tty: true,
      env: { TERM: 'xterm' },
    });
    expect(live.code, live.stdout).toBe(0);
    // Redraws move the cursor up over the previous frame and clear it.
    expect(live.stdout).toMatch(new RegExp(`${ESC}\\[\\d+A\r${ESC}\\[J`));
    expect(live.stdout).toContain('\x1b[32m✓\x1b[39m Probe');
    expect(live.stdout).toContain(`${ESC}[32msucceeded${ESC}[39m`);

    const v2 = await publish(await packageFile(newPlugin(), '1.0.0'));
    const ci = await cli(['deploy', tenant.id, 'install', v2, '--wait', '--timeout', '45'], {
      key: tenant.deployer,
      tty: true,
      env: { TERM: 'xterm', CI: 'true' },
    });
    expect(ci.code, ci.stdout).toBe(0);
    expect(ci.stdout).not.toContain('\x1b[');
    expect(ci.stdout).toContain('status: succeeded');
  }, 120_000);

  it('shows an upload progress bar for a large package on a terminal only', async () => {
    const big = await packageFile(newPlugin(), '1.0.0', { 'assets/blob.bin': randomBytes(1536 * 1024) });
    const tty = await cli(['publish', big], { tty: true, env: { TERM: 'xterm' } });
    expect(tty.code, tty.stdout).toBe(0);
    expect(tty.stdout).toMatch(/\ruploading \[█{24}\] 100% {2}1\.\d MiB \/ 1\.\d MiB/);
    const piped = await cli(['publish', big]);
    expect(piped.code).toBe(0);
    expect(piped.stdout).not.toContain('uploading');
  }, 120_000);
});
