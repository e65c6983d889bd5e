/**
 * Fault injection (issue 10, Reliability): every Task state of statemachines/deploy.asl.json ×
 * {transient throw, fatal throw, crash} × {before, after}; every DynamoDB and S3 call a deployment
 * makes, failed once (throttling, 5xx, conditional failure); probe timeouts and a host that never
 * switches. Each case runs on a fresh tenant, recovers (an expired lease is taken over by the next
 * deployment — leases are not configurable, so the test ages them, as time would), and then every
 * invariant must hold: fully old or fully new, contiguous revisions, no lease left, desired state
 * and host agree, every failure has its event.
 *
 * The counts are printed as one summary line; docs/reliability.md records the latest.
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { dynamoClient } from '#adapters/dynamo/client.ts';
import { findInstallation } from '#adapters/dynamo/installations.ts';
import { s3Client } from '#adapters/s3/blob-store.ts';
import {
  type AdapterFaultKind,
  adapterError,
  addAdapterFault,
  ageLease,
  armFaultsByTenant,
  checkDeployments,
  checkPlugin,
  clearHostFaults,
  createTenant,
  deploy,
  deployAndSettle,
  deploymentOf,
  type Harness,
  hostFault,
  type Published,
  pool,
  publish,
  settle,
  startHarness,
  type Tenant,
  waitEnded,
} from './harness.ts';

vi.hoisted(() => {
  // Hundreds of injected failures log (some at ERROR, as the API must); keep the output to the summary.
  process.env.PLUGINOPS_LOG_LEVEL = 'CRITICAL';
});

const run = randomBytes(3).toString('hex');
const AUTHOR = `rel${run}`;
const PARALLEL = 10;

let h: Harness;
let faults: ReturnType<typeof armFaultsByTenant>;
let v1: Published;
let v2: Published;
let v3: Published;

interface Outcome {
  family: 'workflow' | 'adapter' | 'host';
  label: string;
  injected: number;
  status: string;
  recovered: boolean;
  violations: string[];
}
const outcomes: Outcome[] = [];

beforeAll(async () => {
  h = await startHarness();
  faults = armFaultsByTenant(h.stack);
  v1 = await publish(h.call, AUTHOR, 'fi', '1.0.0');
  v2 = await publish(h.call, AUTHOR, 'fi', '1.1.0');
  v3 = await publish(h.call, AUTHOR, 'fi', '1.2.0');
}, 120_000);

afterAll(async () => {
  faults?.restore();
  const injected = outcomes.reduce((sum, outcome) => sum + outcome.injected, 0);
  const recovered = outcomes.filter((outcome) => outcome.injected > 0 && outcome.recovered).length;
  const broken = outcomes.reduce((sum, outcome) => sum + outcome.violations.length, 0);
  const by = (family: Outcome['family']) => outcomes.filter((outcome) => outcome.family === family).length;
  console.log(
    `reliability fault injection: ${outcomes.length} cases (workflow ${by('workflow')}, adapter ${by('adapter')}, host ${by('host')}), ` +
      `injected faults ${injected}, recovered ${recovered}, inconsistencies ${broken}`,
  );
  await h?.stack.stop();
  delete process.env.PLUGINOPS_EVENTS_FILE;
  if (h !== undefined) await rm(h.dataDir, { recursive: true, force: true });
});

let tenantCount = 0;
function tenantId(prefix: string): string {
  tenantCount += 1;
  // Fixed width: no tenant id is a substring of another (the adapter faults select by it).
  return `${prefix}${run}t${String(tenantCount).padStart(4, '0')}`;
}

/**
 * After the faulted deployment: the transactional invariants hold at once; then any lease left
 * behind is aged (the takeover path), a deployment to v3 must succeed, and everything holds.
 */
async function recoverAndCheck(
  tenant: Tenant,
  allowed: ReadonlyArray<string | null>,
  decision?: 'approve',
): Promise<{ recovered: boolean; violations: string[] }> {
  const pluginId = v1.plugin_id;
  const immediate = await checkPlugin(tenant.id, pluginId, { settled: false, allowed });
  const installation = await findInstallation(tenant.id, pluginId);
  const toV3 = {
    operation: installation?.status === 'installed' ? 'upgrade' : 'install',
    unique_identifier: v3.unique_identifier,
  };
  const protectedViolations: string[] = [];
  if (installation?.lock !== undefined) {
    // While the interrupted run's lease is valid the plugin stays protected: a new deployment
    // is refused at once; once the lease expires (aged here, as time would) it takes over.
    const refused = await deploy(h.call, tenant, toV3);
    if (refused.status !== 409) {
      protectedViolations.push(
        `${tenant.id}: a deployment under a valid lease answered ${refused.status}, not 409`,
      );
    }
    await ageLease(h.stack, tenant.id, pluginId);
  }
  await clearHostFaults(h, tenant.id);
  const next = await deployAndSettle(h, tenant, toV3, decision);
  const after = await checkPlugin(tenant.id, pluginId, { settled: true, allowed: [v3.unique_identifier] });
  const deployments = await checkDeployments(h, tenant.id);
  const violations = [...immediate.violations, ...protectedViolations, ...after.violations, ...deployments];
  if (next.status !== 'succeeded') violations.push(`${tenant.id}: recovery deployment ${next.status}`);
  return { recovered: next.status === 'succeeded' && violations.length === 0, violations };
}

// ── every Task state × mode × when ──────────────────────────────────────────────────────────────

type Mode = 'transient' | 'fatal' | 'crash';
const MODES: Mode[] = ['transient', 'fatal', 'crash'];
const WHENS = ['before', 'after'] as const;

/** How a deployment reaches a state off the happy path, and how it ends without the fault. */
const ROUTES: Record<
  string,
  {
    policy?: Record<string, unknown>;
    decision?: 'approve' | 'reject';
    route?: { state: string; when: 'before' | 'after' };
    baseline: string;
  }
> = {
  AwaitApproval: { policy: { approval_required: true }, decision: 'approve', baseline: 'succeeded' },
  MarkRejected: { policy: { approval_required: true }, decision: 'reject', baseline: 'rejected' },
  MarkFailed: { route: { state: 'Verify', when: 'before' }, baseline: 'failed' },
  Rollback: { route: { state: 'Probe', when: 'before' }, baseline: 'rolled_back' },
  Alert: { route: { state: 'Probe', when: 'before' }, baseline: 'rolled_back' },
};

/** The Task states of a deployment that needs no approval and succeeds, in order. */
const HAPPY_PATH = new Set(['Resolve', 'Verify', 'Acquire', 'Snapshot', 'Apply', 'Probe', 'Release']);

/** States whose Retry does not list TransientError (see docs/reliability.md). */
const NO_TRANSIENT_RETRY = new Set(['AwaitApproval']);

describe('fault injection', () => {
  it('every Task state × {transient, fatal, crash} × {before, after} ends fully old or fully new and recovers', async () => {
    const states = [...(h.stack.workflows.machines.get('deploy')?.tasks.keys() ?? [])];
    expect(states).toEqual(expect.arrayContaining(['Resolve', 'Apply', 'Probe', 'Rollback', 'MarkFailed']));
    const cases = states.flatMap((state, s) =>
      MODES.flatMap((mode, m) =>
        WHENS.map((when, w) => ({ state, mode, when, upgrade: (s + m + w) % 2 === 0 })),
      ),
    );

    const results = await pool(cases, PARALLEL, async ({ state, mode, when, upgrade }) => {
      const label = `${state} ${mode} ${when} (${upgrade ? 'upgrade' : 'install'})`;
      const scenario = ROUTES[state] ?? { baseline: 'succeeded' };
      const tenant = await createTenant(h.call, tenantId('wf'), scenario.policy ?? {});
      if (upgrade) {
        const installed = await deployAndSettle(
          h,
          tenant,
          { operation: 'install', unique_identifier: v1.unique_identifier },
          scenario.policy === undefined ? undefined : 'approve',
        );
        if (installed.status !== 'succeeded') throw new Error(`${label}: setup install ${installed.status}`);
      }
      faults.arm(tenant.id, [
        ...(scenario.route === undefined ? [] : [{ ...scenario.route, mode: 'throw' as const }]),
        {
          state,
          when,
          mode: mode === 'crash' ? 'abort' : 'throw',
          ...(mode === 'transient' ? { errorName: 'TransientError' } : {}),
        },
      ]);
      const started = await deploy(h.call, tenant, {
        operation: upgrade ? 'upgrade' : 'install',
        unique_identifier: v2.unique_identifier,
      });
      if (started.status !== 202) throw new Error(`${label}: start ${started.status} ${started.text}`);
      const deployment = await settle(h, tenant, started.body.deployment_id, scenario.decision);
      const fired = faults.disarm(tenant.id).at(-1) ?? 0;
      const recovery = await recoverAndCheck(
        tenant,
        [upgrade ? v1.unique_identifier : null, v2.unique_identifier],
        scenario.policy === undefined ? undefined : 'approve',
      );
      const { recovered } = recovery;
      const violations = recovery.violations.map((violation) => `${label}: ${violation}`);
      if (mode === 'crash' && when === 'after' && HAPPY_PATH.has(state)) {
        // A run that crashed after Release had finished; any earlier one is closed as failed by
        // the deployment that took its lease over.
        const abandoned = (await deploymentOf(h.call, tenant, started.body.deployment_id)).status;
        const closed = state === 'Release' ? 'succeeded' : 'failed';
        if (abandoned !== closed)
          violations.push(`${label}: the crashed run ended ${abandoned}, not ${closed}`);
      }
      const expected = mode === 'transient' && !NO_TRANSIENT_RETRY.has(state) ? scenario.baseline : undefined;
      if (expected !== undefined && deployment.status !== expected) {
        violations.push(`${label}: a retried transient error ended ${deployment.status}, not ${expected}`);
      }
      const outcome: Outcome = {
        family: 'workflow',
        label,
        injected: fired,
        status: deployment.status,
        recovered,
        violations,
      };
      outcomes.push(outcome);
      return outcome;
    });

    const unreached = results
      .filter((result) => result.injected === 0)
      .map((result) => `${result.label}: ${result.status}`);
    expect(unreached, 'every fault must hit its state').toEqual([]);
    expect(results.flatMap((result) => result.violations)).toEqual([]);
    expect(results.every((result) => result.recovered)).toBe(true);
  }, 150_000);
});

// ── every adapter call ──────────────────────────────────────────────────────────────────────────

/**
 * The error of a conditional write that lost a race. Injected only on the lease- and
 * revision-guarded writes (their conditions name `#lock`), where another deployment can really
 * win: on a status transition a failed condition means "already final", and injecting one there
 * would describe a state that cannot happen.
 */
function conditionalError(command: string): Error {
  return command === 'TransactWriteItemsCommand'
    ? new TransactionCanceledException({
        message: 'injected conditional failure (reliability suite)',
        $metadata: {},
        CancellationReasons: [{ Code: 'ConditionalCheckFailed' }, { Code: 'None' }],
      })
    : new ConditionalCheckFailedException({
        message: 'injected conditional failure (reliability suite)',
        $metadata: {},
      });
}

/** A call without its ids: enough to tell two runs' calls apart. */
function shapeOf(input: string): string {
  const parsed = JSON.parse(input) as Record<string, unknown>;
  const s3Prefix = typeof parsed.Key === 'string' ? parsed.Key.split('/')[0] : undefined;
  return [s3Prefix, parsed.UpdateExpression, parsed.ConditionExpression, parsed.KeyConditionExpression]
    .filter((part) => part !== undefined)
    .join(' | ');
}

const CONDITIONAL_WRITES = new Set(['UpdateItemCommand', 'PutItemCommand', 'TransactWriteItemsCommand']);

interface AdapterCase {
  service: 'dynamodb' | 's3';
  kind: AdapterFaultKind;
  /** Fail the nth call of that service that concerns the case's tenant (1-based). */
  nth: number;
  /** `rollback`: the upgrade's probe fails, so the Rollback path's calls are counted too. */
  scenario: 'success' | 'rollback';
}

/**
 * An upgrade v1 → v2 of a fresh tenant with the nth tenant call of one client failed. Returns
 * the calls seen, so a calibration run (nth 0) tells how many there are and what each is.
 */
async function adapterCase(c: AdapterCase): Promise<Outcome & { trace: string[] }> {
  const label = `${c.service} ${c.kind} call #${c.nth} (${c.scenario})`;
  const tenant = await createTenant(h.call, tenantId('ad'));
  const installed = await deployAndSettle(h, tenant, {
    operation: 'install',
    unique_identifier: v1.unique_identifier,
  });
  if (installed.status !== 'succeeded') throw new Error(`${label}: setup install ${installed.status}`);
  const trace: string[] = [];
  let injected = 0;
  const client = c.service === 'dynamodb' ? dynamoClient() : await s3Client();
  const remove = addAdapterFault(client, `reliability-${tenant.id}`, (command, input) => {
    if (!input.includes(tenant.id)) return undefined;
    if (c.kind === 'conditional' && !(CONDITIONAL_WRITES.has(command) && input.includes('#lock')))
      return undefined;
    trace.push(`${command} ${shapeOf(input)}`);
    if (trace.length !== c.nth) return undefined;
    injected += 1;
    return c.kind === 'conditional' ? conditionalError(command) : adapterError(c.kind, c.service);
  });
  let status = 'not started';
  const violations: string[] = [];
  try {
    if (c.scenario === 'rollback') faults.arm(tenant.id, [{ state: 'Probe', when: 'before', mode: 'throw' }]);
    const body = { operation: 'upgrade', unique_identifier: v2.unique_identifier };
    let started = await deploy(h.call, tenant, body);
    if (started.status >= 500) started = await deploy(h.call, tenant, body); // the caller retries
    if (started.status === 202) {
      await waitEnded(h, tenant, started.body.deployment_id);
      remove();
      status = (await deploymentOf(h.call, tenant, started.body.deployment_id)).status;
    } else {
      status = `HTTP ${started.status}`;
      if (c.kind !== 'conditional') violations.push(`${label}: start answered ${started.status} twice`);
    }
  } finally {
    remove();
    faults.disarm(tenant.id);
  }
  const baseline = c.scenario === 'success' ? 'succeeded' : 'rolled_back';
  if (c.nth > 0 && injected > 0 && c.kind !== 'conditional' && status !== baseline) {
    violations.push(`${label}: one transient ${c.service} failure ended the deployment ${status}`);
  }
  const recovery = await recoverAndCheck(tenant, [v1.unique_identifier, v2.unique_identifier]);
  violations.push(...recovery.violations.map((violation) => `${label}: ${violation}`));
  const outcome: Outcome & { trace: string[] } = {
    family: 'adapter',
    label,
    injected,
    status,
    recovered: recovery.recovered && violations.length === 0,
    violations,
    trace,
  };
  if (c.nth > 0) outcomes.push(outcome);
  return outcome;
}

describe('adapter faults', () => {
  it('one failed DynamoDB or S3 call, anywhere in an upgrade or its rollback, is absorbed or recovered', async () => {
    // Calibrate: the calls of a clean upgrade and of one that rolls back, per client and kind.
    const kinds = [
      { service: 'dynamodb', kind: 'throttle' },
      { service: 's3', kind: 'throttle' },
      { service: 'dynamodb', kind: 'conditional' },
    ] as const;
    const traces = await Promise.all(
      kinds.map(async (k) => ({
        ...k,
        success: (await adapterCase({ ...k, nth: 0, scenario: 'success' })).trace,
        rollback: (await adapterCase({ ...k, nth: 0, scenario: 'rollback' })).trace,
      })),
    );
    const cases: AdapterCase[] = [];
    for (const { service, kind, success, rollback } of traces) {
      const alternate = (nth: number): AdapterFaultKind =>
        kind === 'conditional' ? kind : nth % 2 === 1 ? 'throttle' : 'server-error';
      for (let nth = 1; nth <= success.length; nth++) {
        cases.push({ service, kind: alternate(nth), nth, scenario: 'success' });
      }
      // The rollback run makes the same calls up to the failed probe; fault only where it differs.
      const diverges = success.findIndex((call, index) => rollback[index] !== call);
      for (let nth = (diverges === -1 ? success.length : diverges) + 1; nth <= rollback.length; nth++) {
        cases.push({ service, kind: alternate(nth), nth, scenario: 'rollback' });
      }
    }
    const results = await pool(cases, PARALLEL, adapterCase);
    expect(results.length).toBeGreaterThan(20);
    expect(results.filter((result) => result.injected === 0).map((result) => result.label)).toEqual([]);
    expect(results.flatMap((result) => result.violations)).toEqual([]);
  }, 150_000);
});

// ── the plugin host ─────────────────────────────────────────────────────────────────────────────

describe('probe timeouts and a host that does not switch', () => {
  it('each rolls back to fully old, and the next deployment succeeds', async () => {
    const scenarios = [
      {
        label: 'probe timeout on the new build',
        fault: (t: Tenant) => ({ tenant_id: t.id, unique_identifier: v2.unique_identifier, mode: 'timeout' }),
      },
      { label: 'probe timeout on every build', fault: (t: Tenant) => ({ tenant_id: t.id, mode: 'timeout' }) },
      {
        label: 'host keeps the old build',
        fault: (t: Tenant) => ({ tenant_id: t.id, unique_identifier: v2.unique_identifier, mode: 'stale' }),
      },
      {
        label: 'new build fails on the host',
        fault: (t: Tenant) => ({ tenant_id: t.id, unique_identifier: v2.unique_identifier, mode: 'fail' }),
      },
    ];
    const results = await pool(scenarios, PARALLEL, async ({ label, fault }) => {
      const tenant = await createTenant(h.call, tenantId('ho'));
      await deployAndSettle(h, tenant, { operation: 'install', unique_identifier: v1.unique_identifier });
      await hostFault(h, fault(tenant));
      const upgrade = await deployAndSettle(h, tenant, {
        operation: 'upgrade',
        unique_identifier: v2.unique_identifier,
      });
      const violations: string[] = [];
      if (upgrade.status !== 'rolled_back') violations.push(`${label}: ended ${upgrade.status}`);
      const installed = await findInstallation(tenant.id, v1.plugin_id);
      if (installed?.unique_identifier !== v1.unique_identifier) {
        violations.push(`${label}: not fully old after rollback (${installed?.unique_identifier})`);
      }
      if (installed?.hold?.unique_identifier !== v2.unique_identifier) violations.push(`${label}: no hold`);
      const recovery = await recoverAndCheck(tenant, [v1.unique_identifier]);
      violations.push(...recovery.violations);
      const outcome: Outcome = {
        family: 'host',
        label,
        injected: 1,
        status: upgrade.status,
        recovered: recovery.recovered,
        violations,
      };
      outcomes.push(outcome);
      return outcome;
    });
    expect(results.flatMap((result) => result.violations)).toEqual([]);
  }, 60_000);
});
