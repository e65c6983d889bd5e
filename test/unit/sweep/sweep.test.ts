/**
 * The sweep's rules, one state at a time, on in-memory ports (the I/O boundary of
 * functions/services/sweep.ts). The real state machine and adapters are exercised by
 * test/integration/auto-upgrade-sweep.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { ENV } from '#config/names.ts';
import { readRuntimeConfig } from '#config/runtime-config.ts';
import type { CatalogVersion } from '#core/auto-upgrade/plan.ts';
import type { Rollout, SlotEntry, SweepSummary } from '#core/auto-upgrade/records.ts';
import type { UpgradeRunSummary } from '#core/auto-upgrade/run-summary.ts';
import { defaultAutoUpgradeSettings } from '#core/auto-upgrade/settings.ts';
import type { Deployment, DeploymentStatus } from '#core/deploy/model.ts';
import { ConflictError, ValidationError } from '#core/errors.ts';
import type { TenantPolicy } from '#core/policy.ts';
import { stagePolicyDefaults, tenantCanaryPolicy } from '#services/stage.ts';
import {
  type AutoUpgradeAlert,
  type CanaryPolicy,
  countFailures,
  type DueTenant,
  decideWaves,
  effectiveHold,
  findDueTenants,
  planTenant,
  type SweepPorts,
  summarizeSweep,
  sweepInstant,
  type TenantPlan,
  upgradeTenant,
  waveOutcome,
} from '#services/sweep.ts';

const NOW = new Date('2026-03-02T10:16:30Z');
const uid = (name: string, version: string) =>
  `acme/${name}:${version}@${version.replaceAll('.', '').padEnd(64, 'a')}`;

interface Fake {
  ports: SweepPorts;
  slots: Map<number, SlotEntry[]>;
  installed: Map<
    string,
    Array<{
      plugin_id: string;
      unique_identifier: string;
      version: string;
      status: string;
      hold?: { unique_identifier: string; deployment_id?: string };
    }>
  >;
  catalog: Map<string, CatalogVersion[]>;
  deprecations: Map<string, { reason: string; alternative_plugin_id: string }>;
  failed: Map<string, Deployment[]>;
  canary: Map<string, CanaryPolicy>;
  runs: Map<string, UpgradeRunSummary[]>;
  deployments: Map<string, { tenant: string; status: DeploymentStatus }>;
  rollouts: Map<string, Rollout>;
  alerts: AutoUpgradeAlert[];
  claimed: Set<string>;
  advanced: string[];
  started: Array<{ tenant: string; to: string }>;
  sweeps: SweepSummary[];
  startError?: (tenant: string, to: string) => Error | undefined;
  failPutRun?: boolean;
}

function fake(): Fake {
  let next = 0;
  const f: Fake = {
    slots: new Map(),
    installed: new Map(),
    catalog: new Map(),
    deprecations: new Map(),
    failed: new Map(),
    canary: new Map(),
    runs: new Map(),
    deployments: new Map(),
    rollouts: new Map(),
    alerts: [],
    claimed: new Set(),
    advanced: [],
    started: [],
    sweeps: [],
    ports: undefined as unknown as SweepPorts,
  };
  f.ports = {
    clock: () => NOW,
    async querySlot(slot, cursor) {
      const all = f.slots.get(slot) ?? [];
      const offset = cursor === undefined ? 0 : Number(cursor);
      const items = all.slice(offset, offset + 2);
      return { items, next_cursor: offset + 2 < all.length ? String(offset + 2) : null };
    },
    listInstalled: async (t) => f.installed.get(t) ?? [],
    listCatalog: async (p) => f.catalog.get(p) ?? [],
    findDeprecation: async (p) => f.deprecations.get(p),
    listFailedAutoUpgrades: async (t) => f.failed.get(t) ?? [],
    canaryPolicy: async (t) => f.canary.get(t) ?? null,
    lastRun: async (t) => f.runs.get(t)?.at(-1),
    async startDeployment(tenant, request) {
      const error = f.startError?.(tenant, request.unique_identifier);
      if (error) throw error;
      next += 1;
      const id = `01DEP${String(next).padStart(4, '0')}`;
      f.started.push({ tenant, to: request.unique_identifier });
      f.deployments.set(id, { tenant, status: 'running' });
      return { deployment_id: id };
    },
    deploymentStatus: async (_t, id) => f.deployments.get(id),
    async advanceSchedule(entry) {
      f.advanced.push(entry.tenant_id);
      return true;
    },
    async putUpgradeRun(tenant, summary) {
      if (f.failPutRun) throw new Error('DynamoDB is down');
      f.runs.set(tenant, [...(f.runs.get(tenant) ?? []), summary]);
    },
    async findRollouts(ids) {
      return new Map(
        ids.flatMap((id) =>
          f.rollouts.has(id) ? [[id, structuredClone(f.rollouts.get(id) as Rollout)]] : [],
        ),
      );
    },
    async createRollout(rollout) {
      const existing = f.rollouts.get(rollout.unique_identifier);
      if (existing) return existing;
      f.rollouts.set(rollout.unique_identifier, structuredClone(rollout));
      return rollout;
    },
    async recordWaveDeployment(id, tenant, deploymentId) {
      const rollout = f.rollouts.get(id);
      if (rollout) rollout.wave_deployments[tenant] = deploymentId;
    },
    async closeWave(id, outcome) {
      const rollout = f.rollouts.get(id) as Rollout;
      if (rollout.status !== 'wave') return { rollout, changed: false };
      Object.assign(rollout, outcome);
      return { rollout: structuredClone(rollout), changed: true };
    },
    async claimUpgradeAlert(tenant, id) {
      const key = `${tenant}|${id}`;
      if (f.claimed.has(key)) return false;
      f.claimed.add(key);
      return true;
    },
    async publishAlert(alert) {
      f.alerts.push(alert);
    },
    async putSweepRun(summary) {
      f.sweeps.push(summary);
    },
  };
  return f;
}

function due(tenantId: string, overrides: Partial<DueTenant['settings']> = {}): DueTenant {
  return {
    tenant_id: tenantId,
    settings: { ...defaultAutoUpgradeSettings(tenantId), ...overrides },
    next_run_at: '2026-03-02T10:00:00.000Z',
    revision: 1,
  };
}

function failedDeployment(id: string, to: string, status: DeploymentStatus = 'rolled_back'): Deployment {
  return {
    deployment_id: id,
    tenant_id: 't',
    operation: 'auto-upgrade',
    actor: 'scheduler',
    target: { plugin_id: 'acme/tool', unique_identifier: to },
    status,
    steps: [],
    error: { type: 'urn:pluginops:problem:upstream-failed', title: 'x', status: 502, detail: 'probe failed' },
    allow_downgrade: false,
    has_config: false,
    approval_timeout_seconds: 60,
    created_at: NOW.toISOString(),
    updated_at: NOW.toISOString(),
  } as Deployment;
}

const V100 = uid('tool', '1.0.0');
const V101 = uid('tool', '1.0.1');
const V110 = uid('tool', '1.1.0');

function withTool(f: Fake, tenant: string, extra: Record<string, unknown> = {}) {
  f.installed.set(tenant, [
    { plugin_id: 'acme/tool', unique_identifier: V100, version: '1.0.0', status: 'installed', ...extra },
  ]);
  f.catalog.set('acme/tool', [
    { version: '1.1.0', unique_identifier: V110 },
    { version: '1.0.1', unique_identifier: V101 },
    { version: '1.0.0', unique_identifier: V100 },
  ]);
}

describe('sweepInstant', () => {
  it('takes at, then a scheduled event time, then now; refuses garbage', () => {
    expect(sweepInstant({ at: '2026-01-01T10:16:00Z' }, NOW).toISOString()).toBe('2026-01-01T10:16:00.000Z');
    expect(sweepInstant({ time: '2026-01-01T10:15:00Z' }, NOW).toISOString()).toBe(
      '2026-01-01T10:15:00.000Z',
    );
    expect(sweepInstant(undefined, NOW)).toBe(NOW);
    expect(() => sweepInstant({ at: 'tomorrow' }, NOW)).toThrow(ValidationError);
  });
});

describe('findDueTenants', () => {
  it('pages through the slot of the elapsed window and keeps only due tenants', async () => {
    const f = fake();
    // 10:16:30 → window 10:00–10:15, slot 40.
    const entry = (id: string, next: string): SlotEntry => ({
      tenant_id: id,
      settings: defaultAutoUpgradeSettings(id),
      next_run_at: new Date(next),
      revision: 1,
    });
    f.slots.set(40, [
      entry('a', '2026-03-02T10:00:00Z'),
      entry('b', '2026-03-02T10:14:59Z'),
      entry('c', '2026-03-03T10:00:00Z'), // tomorrow: re-indexed already
      entry('d', '2026-03-01T10:05:00Z'), // missed yesterday: catch up
      {
        ...entry('e', '2026-03-02T10:00:00Z'),
        settings: { ...defaultAutoUpgradeSettings('e'), strategy_setting: 'disabled' },
      },
    ]);
    f.slots.set(41, [entry('other', '2026-03-02T10:15:00Z')]);
    const result = await findDueTenants({ at: NOW.toISOString() }, f.ports);
    expect(result.window).toEqual({
      start: '2026-03-02T10:00:00.000Z',
      end: '2026-03-02T10:15:00.000Z',
      slot: 40,
    });
    expect(result.checked).toBe(5);
    expect(result.tenants.map((t) => t.tenant_id)).toEqual(['a', 'b', 'd']);
    expect(result.due).toBe(3);
  });
});

describe('failures and holds', () => {
  it('counts failed and rolled back auto-upgrades per target, ignoring other operations', () => {
    const manual = { ...failedDeployment('01C', V101), operation: 'upgrade' } as Deployment;
    const { counts, latest } = countFailures([
      failedDeployment('01A', V101),
      failedDeployment('01B', V101, 'failed'),
      manual,
      failedDeployment('01D', V110),
    ]);
    expect(counts.get(V101)).toBe(2);
    expect(counts.get(V110)).toBe(1);
    expect(latest.get(V101)?.deployment_id).toBe('01B');
  });

  it('lets the retry budget override a hold set by a failed auto-upgrade, until the budget is spent', () => {
    const two = countFailures([failedDeployment('01A', V101), failedDeployment('01B', V101)]);
    expect(effectiveHold({ unique_identifier: V101, deployment_id: '01B' }, two)).toBeUndefined();
    const three = countFailures([
      failedDeployment('01A', V101),
      failedDeployment('01B', V101),
      failedDeployment('01C', V101),
    ]);
    expect(effectiveHold({ unique_identifier: V101, deployment_id: '01C' }, three)).toBeDefined();
    // A manual deployment's hold always stands.
    expect(effectiveHold({ unique_identifier: V101, deployment_id: '01MANUAL' }, two)).toBeDefined();
  });
});

describe('planTenant', () => {
  it('skips a plugin the operator deprecated, with the reason in the plan', async () => {
    const f = fake();
    withTool(f, 't');
    f.deprecations.set('acme/tool', { reason: 'Use acme/tool2.', alternative_plugin_id: 'acme/tool2' });
    const plan = await planTenant({ tenant: due('t'), at: NOW.toISOString() }, f.ports);
    expect(plan.upgrade).toEqual([]);
    expect(plan.skipped).toEqual([
      expect.objectContaining({
        plugin_id: 'acme/tool',
        reason: 'deprecated',
        detail: expect.stringContaining('Use acme/tool2.'),
      }),
    ]);
  });

  it('plans by strategy and retries a failed target while attempts are left, reporting the last failure', async () => {
    const f = fake();
    withTool(f, 't', { hold: { unique_identifier: V101, deployment_id: '01A' } });
    f.failed.set('t', [failedDeployment('01A', V101)]);
    f.runs.set('t', [
      {
        run_at: 'x',
        checked: 1,
        upgraded: [{ plugin_id: 'acme/tool', from: V100, to: V101, deployment_id: '01A' }],
        skipped: [],
        failed: [],
      },
    ]);
    const plan = await planTenant({ tenant: due('t'), at: NOW.toISOString() }, f.ports);
    expect(plan.upgrade.map((step) => step.to)).toEqual([V101]);
    expect(plan.reported_failures).toEqual([
      expect.objectContaining({
        to: V101,
        deployment_id: '01A',
        attempts: 1,
        problem: { type: 'urn:pluginops:problem:upstream-failed', detail: 'probe failed' },
      }),
    ]);
    expect(plan.exhausted).toEqual([]);
  });

  it('stops after three failures and names the target for the alert', async () => {
    const f = fake();
    withTool(f, 't', { hold: { unique_identifier: V101, deployment_id: '01C' } });
    f.failed.set(
      't',
      ['01A', '01B', '01C'].map((id) => failedDeployment(id, V101)),
    );
    const plan = await planTenant({ tenant: due('t'), at: NOW.toISOString() }, f.ports);
    expect(plan.upgrade).toEqual([]);
    expect(plan.skipped).toEqual([{ plugin_id: 'acme/tool', reason: 'held', candidate: V101 }]);
    expect(plan.exhausted).toEqual([
      {
        plugin_id: 'acme/tool',
        from: V100,
        to: V101,
        attempts: 3,
        problem: { type: 'urn:pluginops:problem:upstream-failed', detail: 'probe failed' },
      },
    ]);
  });

  it('respects latest, partial and a manual hold', async () => {
    const f = fake();
    withTool(f, 'latest');
    withTool(f, 'partial');
    withTool(f, 'held', { hold: { unique_identifier: V101, deployment_id: '01MANUAL' } });
    const latest = await planTenant(
      { tenant: due('latest', { strategy_setting: 'latest' }), at: '' },
      f.ports,
    );
    expect(latest.upgrade.map((step) => step.to)).toEqual([V110]);
    const partial = await planTenant(
      { tenant: due('partial', { upgrade_mode: 'partial', include_plugins: ['acme/other'] }), at: '' },
      f.ports,
    );
    expect(partial.skipped.map((s) => s.reason)).toEqual(['not-included']);
    const held = await planTenant({ tenant: due('held'), at: '' }, f.ports);
    expect(held.skipped.map((s) => s.reason)).toEqual(['held']);
  });
});

function planFor(tenant: string, canary: CanaryPolicy | null, to = V101): TenantPlan {
  return {
    tenant: due(tenant),
    checked: 1,
    canary,
    upgrade: [{ plugin_id: 'acme/tool', from: V100, to, from_version: '1.0.0', to_version: '1.0.1' }],
    skipped: [],
    reported_failures: [],
    exhausted: [],
  };
}

const WINDOW = { start: '2026-03-02T10:00:00.000Z', end: '2026-03-02T10:15:00.000Z', slot: 40 };

describe('decideWaves', () => {
  const canary = { percent: 25, failure_threshold: 0 };

  it('starts a first wave for a new build; other canary tenants wait, tenants without canary go', async () => {
    const f = fake();
    const plans = ['c1', 'c2', 'c3', 'c4'].map((t) => planFor(t, canary)).concat(planFor('plain', null));
    const { plans: decided } = await decideWaves({ at: '', window: WINDOW, plans }, f.ports);
    const rollout = f.rollouts.get(V101) as Rollout;
    expect(rollout.status).toBe('wave');
    expect(rollout.wave_tenants).toHaveLength(1);
    const [waveTenant] = rollout.wave_tenants;
    for (const plan of decided) {
      const id = plan.tenant.tenant_id;
      if (id === waveTenant)
        expect(plan.upgrade).toEqual([expect.objectContaining({ to: V101, wave: true })]);
      else if (id === 'plain') expect(plan.upgrade).toEqual([expect.objectContaining({ to: V101 })]);
      else expect(plan.skipped.map((s) => s.reason)).toEqual(['canary-pending']);
    }
  });

  it('halts the build for everyone when the finished wave failed too often, and alerts once', async () => {
    const f = fake();
    f.rollouts.set(V101, {
      unique_identifier: V101,
      plugin_id: 'acme/tool',
      version: '1.0.1',
      status: 'wave',
      percent: 25,
      failure_threshold: 0,
      wave_tenants: ['c1'],
      wave_deployments: { c1: '01W' },
      created_at: NOW.toISOString(),
    });
    f.deployments.set('01W', { tenant: 'c1', status: 'running' });
    const still = await decideWaves({ at: '', window: WINDOW, plans: [planFor('c2', canary)] }, f.ports);
    expect(still.plans[0]?.skipped.map((s) => s.reason)).toEqual(['canary-pending']);

    f.deployments.set('01W', { tenant: 'c1', status: 'rolled_back' });
    const halted = await decideWaves(
      { at: '', window: WINDOW, plans: [planFor('c2', canary), planFor('plain', null)] },
      f.ports,
    );
    expect(halted.halted_builds).toEqual([V101]);
    expect(halted.plans.map((plan) => plan.skipped.map((s) => s.reason))).toEqual([['halted'], ['halted']]);
    expect(f.rollouts.get(V101)?.halt?.by).toContain('scheduler');
    expect(f.alerts).toEqual([
      expect.objectContaining({
        reason: 'rollout-halted',
        to: V101,
        wave_result: { attempted: 1, failed: 1 },
      }),
    ]);

    const again = await decideWaves({ at: '', window: WINDOW, plans: [planFor('c3', canary)] }, f.ports);
    expect(again.halted_builds).toEqual([]);
    expect(f.alerts).toHaveLength(1);
  });

  it('opens the build once the wave succeeded', async () => {
    const f = fake();
    f.rollouts.set(V101, {
      unique_identifier: V101,
      plugin_id: 'acme/tool',
      version: '1.0.1',
      status: 'wave',
      percent: 25,
      failure_threshold: 0,
      wave_tenants: ['c1'],
      wave_deployments: { c1: '01W' },
      created_at: NOW.toISOString(),
    });
    f.deployments.set('01W', { tenant: 'c1', status: 'succeeded' });
    const { plans } = await decideWaves({ at: '', window: WINDOW, plans: [planFor('c2', canary)] }, f.ports);
    expect(plans[0]?.upgrade.map((step) => step.to)).toEqual([V101]);
    expect(f.rollouts.get(V101)?.status).toBe('open');
  });

  it('counts a wave as done only when every deployment is final', () => {
    expect(waveOutcome(['succeeded', 'rolled_back'])).toEqual({ done: true, attempted: 2, failed: 1 });
    expect(waveOutcome(['succeeded', 'running']).done).toBe(false);
  });
});

describe('stage canary', () => {
  /** The sweep's canary port as `sweepPorts` wires it, over in-memory stored policies. */
  function withStageCanary(f: Fake, env: NodeJS.ProcessEnv, stored: Record<string, Partial<TenantPolicy>>) {
    const defaults = stagePolicyDefaults(readRuntimeConfig(env));
    f.ports.canaryPolicy = async (tenant) => tenantCanaryPolicy(stored[tenant] ?? {}, defaults);
  }

  async function sweepOf(f: Fake, tenants: string[]) {
    for (const tenant of tenants) withTool(f, tenant);
    const plans = await Promise.all(
      tenants.map((tenant) => planTenant({ tenant: due(tenant), at: NOW.toISOString() }, f.ports)),
    );
    return (await decideWaves({ at: NOW.toISOString(), window: WINDOW, plans }, f.ports)).plans;
  }

  it('applies the stage canary to tenants that set none', async () => {
    const f = fake();
    withStageCanary(
      f,
      { [ENV.canaryFirstWavePercent]: '25', [ENV.canaryHaltFailurePercent]: '10' },
      { own: { canary: { percent: 100, failure_threshold: 50 } } },
    );
    const decided = await sweepOf(f, ['t1', 't2', 't3', 't4']);
    expect(decided.every((plan) => plan.canary?.percent === 25)).toBe(true);
    const rollout = f.rollouts.get(V101) as Rollout;
    expect(rollout).toMatchObject({ status: 'wave', percent: 25, failure_threshold: 10 });
    expect(rollout.wave_tenants).toHaveLength(1);
    const waiting = decided.filter((plan) => plan.skipped.some((skip) => skip.reason === 'canary-pending'));
    expect(waiting).toHaveLength(3);
  });

  it("keeps a tenant's own canary over the stage's", async () => {
    const f = fake();
    withStageCanary(
      f,
      { [ENV.canaryFirstWavePercent]: '25', [ENV.canaryHaltFailurePercent]: '10' },
      { own: { canary: { percent: 100, failure_threshold: 50 } } },
    );
    const [plan] = await sweepOf(f, ['own']);
    expect(plan?.canary).toEqual({ percent: 100, failure_threshold: 50 });
  });

  it('upgrades everyone at once when the stage sets no canary', async () => {
    const f = fake();
    withStageCanary(f, {}, {});
    const decided = await sweepOf(f, ['t1', 't2', 't3', 't4']);
    expect(f.rollouts.size).toBe(0);
    expect(decided.map((plan) => plan.upgrade.map((step) => step.to))).toEqual([
      [V101],
      [V101],
      [V101],
      [V101],
    ]);
  });
});

describe('upgradeTenant', () => {
  it('starts deployments, skips a busy plugin, records failures, and advances the schedule', async () => {
    const f = fake();
    const plan = planFor('t', null);
    plan.upgrade.push({
      plugin_id: 'acme/busy',
      from: 'x',
      to: 'acme/busy:2.0.0@b',
      from_version: '1.0.0',
      to_version: '2.0.0',
    });
    plan.upgrade.push({
      plugin_id: 'acme/gone',
      from: 'y',
      to: 'acme/gone:2.0.0@c',
      from_version: '1.0.0',
      to_version: '2.0.0',
    });
    f.startError = (_t, to) =>
      to.startsWith('acme/busy')
        ? new ConflictError('acme/busy is being changed by deployment 01X')
        : to.startsWith('acme/gone')
          ? new ValidationError('package vanished')
          : undefined;
    const outcome = await upgradeTenant({ plan, at: '2026-03-02T10:15:00.000Z', window: WINDOW }, f.ports);
    expect(outcome).toEqual({
      tenant_id: 't',
      upgraded: 1,
      skipped: [{ plugin_id: 'acme/busy', reason: 'busy' }],
      failed: 1,
    });
    const run = f.runs.get('t')?.[0];
    expect(run?.upgraded[0]).toEqual(
      expect.objectContaining({ to: V101, deployment_id: expect.any(String) }),
    );
    expect(run?.skipped[0]?.detail).toContain('01X');
    expect(run?.failed[0]?.problem?.detail).toBe('package vanished');
    expect(f.advanced).toEqual(['t']);
  });

  it('records the wave deployment on the rollout', async () => {
    const f = fake();
    f.rollouts.set(V101, { unique_identifier: V101, wave_deployments: {} } as unknown as Rollout);
    const plan = planFor('t', { percent: 5, failure_threshold: 0 });
    plan.upgrade = plan.upgrade.map((step) => ({ ...step, wave: true }));
    await upgradeTenant({ plan, at: '', window: WINDOW }, f.ports);
    expect(f.rollouts.get(V101)?.wave_deployments.t).toMatch(/^01DEP/);
  });

  it('alerts once per exhausted target', async () => {
    const f = fake();
    const plan = {
      ...planFor('t', null),
      upgrade: [],
      exhausted: [{ plugin_id: 'acme/tool', from: V100, to: V101, attempts: 3 }],
    };
    await upgradeTenant({ plan, at: '', window: WINDOW }, f.ports);
    await upgradeTenant({ plan, at: '', window: WINDOW }, f.ports);
    expect(f.alerts).toEqual([
      {
        tenant_id: 't',
        plugin_id: 'acme/tool',
        from: V100,
        to: V101,
        reason: 'retries-exhausted',
        attempts: 3,
      },
    ]);
  });

  it('advances the schedule even when recording the run fails', async () => {
    const f = fake();
    f.failPutRun = true;
    await expect(
      upgradeTenant({ plan: planFor('t', null), at: '', window: WINDOW }, f.ports),
    ).rejects.toThrow('down');
    expect(f.advanced).toEqual(['t']);
  });
});

describe('summarizeSweep', () => {
  it('adds up the tenants and stores the summary', async () => {
    const f = fake();
    const summary = await summarizeSweep(
      {
        at: '2026-03-02T10:15:00.000Z',
        started_at: NOW.toISOString(),
        window: WINDOW,
        checked: 5,
        due: 3,
        halted_builds: [V110],
        outcomes: [
          { tenant_id: 'a', upgraded: 2, skipped: [{ plugin_id: 'x', reason: 'up-to-date' }], failed: 0 },
          {
            tenant_id: 'b',
            upgraded: 0,
            skipped: [
              { plugin_id: 'x', reason: 'halted' },
              { plugin_id: 'y', reason: 'halted' },
            ],
            failed: 1,
          },
        ],
      },
      f.ports,
    );
    expect(summary).toEqual(
      expect.objectContaining({
        checked: 5,
        due: 3,
        upgraded: 2,
        skipped: 3,
        failed: 1,
        halted: 1,
        skipped_by_reason: { 'up-to-date': 1, halted: 2 },
      }),
    );
    expect(f.sweeps).toEqual([summary]);
  });
});
