/**
 * The auto-upgrade sweep (`statemachines/sweep.asl.json`, docs/design.md#auto-upgrade-sweep), one
 * function per state:
 *
 * 1. {@link findDueTenants} — the window elapsed at `at`, the tenants indexed under its slot
 *    (GSI2 query pages, never a scan), kept when `isSweepDue`.
 * 2. {@link planTenant} (Map, per tenant, read-only) — installations, catalog, failed auto-upgrade
 *    attempts, holds and the canary policy → `planAutoUpgrades`, plus the failures of the
 *    previous run and the targets whose retries are spent.
 * 3. {@link decideWaves} (once) — canary waves and halts across the due tenants of this sweep.
 * 4. {@link upgradeTenant} (Map, per tenant) — start the deployments (`auto-upgrade`, actor
 *    `scheduler`), alert once per exhausted target, record the tenant's run, and always move the
 *    tenant to its next slot.
 * 5. {@link summarizeSweep} — the sweep's own summary, stored and returned.
 *
 * Every function takes its I/O as {@link SweepPorts}, so the rules are unit-tested with fakes and
 * the tasks wire the DynamoDB adapters ({@link sweepPorts}).
 */
import { canaryWave, shouldHalt } from '#core/auto-upgrade/canary.ts';
import {
  type CatalogVersion,
  type InstalledPlugin,
  MAX_AUTO_UPGRADE_ATTEMPTS,
  type PlannedUpgrade,
  planAutoUpgrades,
  type SkippedPlugin,
} from '#core/auto-upgrade/plan.ts';
import type { Rollout, SlotEntry, SweepSummary } from '#core/auto-upgrade/records.ts';
import type { UpgradeRunSummary } from '#core/auto-upgrade/run-summary.ts';
import { isSweepDue, sweepWindow } from '#core/auto-upgrade/schedule.ts';
import type { AutoUpgradeSettings } from '#core/auto-upgrade/settings.ts';
import type { Deployment, DeploymentStatus } from '#core/deploy/model.ts';
import { ConflictError, type Problem, toProblem, ValidationError } from '#core/errors.ts';
import type { PluginDeprecation } from '#core/marketplace/declaration.ts';
import { isTransient, TransientError } from './deploy-task.ts';

/** The actor of every deployment the sweep starts. */
export const SWEEP_ACTOR = 'scheduler';

export interface CanaryPolicy {
  percent: number;
  failure_threshold: number;
}

/** A short problem as the summaries carry it. */
export type ShortProblem = {
  type: string;
  detail: string;
};

/** A tenant as it travels between states (JSON: instants as strings). */
export interface DueTenant {
  tenant_id: string;
  settings: AutoUpgradeSettings;
  next_run_at: string | null;
  revision: number;
}

export interface WindowJson {
  start: string;
  end: string;
  slot: number;
}

export interface SweepInput {
  /** The instant to sweep "as if" (RFC 3339); `POST /v1/sweeps` and the local scheduler set it. */
  at?: string;
  /** EventBridge scheduled events carry their tick instant here. */
  time?: string;
}

export interface DueTenants {
  at: string;
  started_at: string;
  window: WindowJson;
  checked: number;
  due: number;
  tenants: DueTenant[];
}

export interface PlannedStep extends PlannedUpgrade {
  /** Started as part of the build's canary wave: its deployment id is recorded on the rollout. */
  wave?: boolean;
}

export type FailedAttempt = UpgradeRunSummary['failed'][number];

export interface TenantPlan {
  tenant: DueTenant;
  checked: number;
  canary: CanaryPolicy | null;
  upgrade: PlannedStep[];
  skipped: SkippedPlugin[];
  /** Attempts started by the tenant's previous run that have since failed or been rolled back. */
  reported_failures: FailedAttempt[];
  /** Targets that failed {@link MAX_AUTO_UPGRADE_ATTEMPTS} times: alerted once each. */
  exhausted: Array<{ plugin_id: string; from: string; to: string; attempts: number; problem?: ShortProblem }>;
  /** The tenant could not be planned (after retries); it is still recorded and re-indexed. */
  error?: ShortProblem;
}

export interface TenantOutcome {
  tenant_id: string;
  upgraded: number;
  skipped: Array<{ plugin_id: string; reason: string }>;
  failed: number;
  error?: ShortProblem;
}

export interface AutoUpgradeAlert {
  tenant_id?: string;
  plugin_id: string;
  from?: string;
  to: string;
  reason: 'retries-exhausted' | 'rollout-halted';
  attempts?: number;
  wave_result?: { attempted: number; failed: number };
  problem?: ShortProblem;
}

/** Everything the sweep reads and writes. */
export interface SweepPorts {
  clock(): Date;
  querySlot(
    slot: number,
    cursor: string | undefined,
  ): Promise<{ items: SlotEntry[]; next_cursor: string | null }>;
  listInstalled(tenantId: string): Promise<Array<InstalledPlugin & { status: string; hold?: InstalledHold }>>;
  /** The versions of a plugin this tenant trusts (docs/security.md), any order. */
  listCatalog(pluginId: string, tenantId: string): Promise<CatalogVersion[]>;
  /** The operator's deprecation of a plugin, if any (the sweep never upgrades a deprecated plugin). */
  findDeprecation(
    pluginId: string,
  ): Promise<Pick<PluginDeprecation, 'reason' | 'alternative_plugin_id'> | undefined>;
  /** The tenant's auto-upgrade deployments that ended `failed` or `rolled_back`. */
  listFailedAutoUpgrades(tenantId: string): Promise<Deployment[]>;
  canaryPolicy(tenantId: string): Promise<CanaryPolicy | null>;
  lastRun(tenantId: string): Promise<UpgradeRunSummary | undefined>;
  startDeployment(
    tenantId: string,
    request: { operation: 'auto-upgrade'; unique_identifier: string; expected_current: string },
    now: Date,
  ): Promise<{ deployment_id: string }>;
  deploymentStatus(
    tenantId: string,
    deploymentId: string,
  ): Promise<{ status: DeploymentStatus; error?: Problem } | undefined>;
  advanceSchedule(entry: SlotEntry, after: Date): Promise<boolean>;
  putUpgradeRun(tenantId: string, summary: UpgradeRunSummary): Promise<void>;
  findRollouts(uniqueIdentifiers: readonly string[]): Promise<Map<string, Rollout>>;
  createRollout(rollout: Rollout): Promise<Rollout>;
  recordWaveDeployment(uniqueIdentifier: string, tenantId: string, deploymentId: string): Promise<void>;
  closeWave(
    uniqueIdentifier: string,
    outcome:
      | { status: 'open'; wave_result: { attempted: number; failed: number } }
      | { status: 'halted'; wave_result: { attempted: number; failed: number }; halt: Rollout['halt'] },
  ): Promise<{ rollout: Rollout; changed: boolean }>;
  claimUpgradeAlert(tenantId: string, uniqueIdentifier: string, now: Date): Promise<boolean>;
  publishAlert(alert: AutoUpgradeAlert, now: Date): Promise<void>;
  putSweepRun(summary: SweepSummary): Promise<void>;
}

export interface InstalledHold {
  unique_identifier: string;
  deployment_id?: string;
}

const FAILED: ReadonlySet<string> = new Set(['failed', 'rolled_back']);
const FINAL: ReadonlySet<string> = new Set(['succeeded', 'failed', 'rolled_back', 'rejected']);

function shortProblem(problem: Pick<Problem, 'type' | 'detail'> | undefined): ShortProblem | undefined {
  return problem === undefined ? undefined : { type: problem.type, detail: problem.detail };
}

function toWindowJson(window: { start: Date; end: Date; slot: number }): WindowJson {
  return { start: window.start.toISOString(), end: window.end.toISOString(), slot: window.slot };
}

function toSlotEntry(tenant: DueTenant): SlotEntry {
  return {
    tenant_id: tenant.tenant_id,
    settings: tenant.settings,
    next_run_at: tenant.next_run_at === null ? undefined : new Date(tenant.next_run_at),
    revision: tenant.revision,
  };
}

/** The instant a sweep runs as: `at`, else the scheduled event's `time`, else now. */
export function sweepInstant(input: SweepInput | undefined, now: Date): Date {
  const text = input?.at ?? input?.time;
  if (text === undefined) return now;
  const instant = new Date(text);
  if (Number.isNaN(instant.getTime())) {
    throw new ValidationError(`"${text}" is not an RFC 3339 instant.`, [
      { path: 'at', message: 'not a date' },
    ]);
  }
  return instant;
}

/** Step 1: the due tenants of the window elapsed at the sweep instant. */
export async function findDueTenants(input: SweepInput | undefined, ports: SweepPorts): Promise<DueTenants> {
  const startedAt = ports.clock();
  const at = sweepInstant(input, startedAt);
  const window = sweepWindow(at);
  const tenants: DueTenant[] = [];
  let checked = 0;
  let cursor: string | undefined;
  do {
    const page = await ports.querySlot(window.slot, cursor);
    checked += page.items.length;
    for (const entry of page.items) {
      if (!isSweepDue(entry, window)) continue;
      tenants.push({
        tenant_id: entry.tenant_id,
        settings: entry.settings,
        next_run_at: entry.next_run_at?.toISOString() ?? null,
        revision: entry.revision,
      });
    }
    cursor = page.next_cursor ?? undefined;
  } while (cursor !== undefined);
  return {
    at: at.toISOString(),
    started_at: startedAt.toISOString(),
    window: toWindowJson(window),
    checked,
    due: tenants.length,
    tenants,
  };
}

/** Failed auto-upgrade attempts per target, and the newest failed deployment of each. */
export function countFailures(failed: readonly Deployment[]): {
  counts: Map<string, number>;
  latest: Map<string, Deployment>;
  byId: Map<string, Deployment>;
} {
  const counts = new Map<string, number>();
  const latest = new Map<string, Deployment>();
  const byId = new Map<string, Deployment>();
  for (const deployment of failed) {
    const target = deployment.target.unique_identifier;
    if (deployment.operation !== 'auto-upgrade' || !FAILED.has(deployment.status) || target === undefined)
      continue;
    byId.set(deployment.deployment_id, deployment);
    counts.set(target, (counts.get(target) ?? 0) + 1);
    const newest = latest.get(target);
    // ULIDs sort by creation time.
    if (newest === undefined || newest.deployment_id < deployment.deployment_id)
      latest.set(target, deployment);
  }
  return { counts, latest, byId };
}

/**
 * The hold the planner must respect. A rollback holds the build that failed; when that build
 * failed as an auto-upgrade and still has retries left, the retry budget decides instead
 * (retried on later sweeps up to N times, docs/design.md#auto-upgrade-sweep). Holds from other
 * deployments (a manual upgrade that rolled back) always stand, and so does every hold once the
 * budget is spent.
 */
export function effectiveHold(
  hold: InstalledHold | undefined,
  failures: { counts: ReadonlyMap<string, number>; byId: ReadonlyMap<string, Deployment> },
): InstalledHold | undefined {
  if (hold === undefined) return undefined;
  const fromAutoUpgrade = hold.deployment_id !== undefined && failures.byId.has(hold.deployment_id);
  const attempts = failures.counts.get(hold.unique_identifier) ?? 0;
  return fromAutoUpgrade && attempts < MAX_AUTO_UPGRADE_ATTEMPTS ? undefined : hold;
}

/** Step 2 (per tenant, read-only, safe to retry). */
export async function planTenant(
  input: { tenant: DueTenant; at: string },
  ports: SweepPorts,
): Promise<TenantPlan> {
  const { tenant } = input;
  const tenantId = tenant.tenant_id;
  const [installations, failedDeployments, canary, lastRun] = await Promise.all([
    ports.listInstalled(tenantId),
    ports.listFailedAutoUpgrades(tenantId),
    ports.canaryPolicy(tenantId),
    ports.lastRun(tenantId),
  ]);
  const installed = installations.filter((entry) => entry.status === 'installed' && entry.version !== null);
  const failures = countFailures(failedDeployments);
  const catalog = new Map<string, CatalogVersion[]>();
  const pluginIds = [...new Set(installed.map((entry) => entry.plugin_id))];
  const [versions, deprecated] = await Promise.all([
    Promise.all(pluginIds.map((pluginId) => ports.listCatalog(pluginId, tenantId))),
    Promise.all(pluginIds.map((pluginId) => ports.findDeprecation(pluginId))),
  ]);
  const deprecations = new Map<string, Pick<PluginDeprecation, 'reason' | 'alternative_plugin_id'>>();
  pluginIds.forEach((pluginId, index) => {
    catalog.set(pluginId, versions[index] ?? []);
    const deprecation = deprecated[index];
    if (deprecation !== undefined) deprecations.set(pluginId, deprecation);
  });

  const plan = planAutoUpgrades({
    settings: tenant.settings,
    installed: installed.map((entry) => ({
      plugin_id: entry.plugin_id,
      unique_identifier: entry.unique_identifier,
      version: entry.version,
      hold: effectiveHold(entry.hold ?? undefined, failures),
    })),
    catalog,
    deprecations,
    failures: failures.counts,
  });

  const exhausted: TenantPlan['exhausted'] = [];
  for (const skip of plan.skipped) {
    const target = skip.candidate;
    if (target === undefined || (skip.reason !== 'retries-exhausted' && skip.reason !== 'held')) continue;
    const attempts = failures.counts.get(target) ?? 0;
    if (attempts < MAX_AUTO_UPGRADE_ATTEMPTS) continue;
    const from = installed.find((entry) => entry.plugin_id === skip.plugin_id)?.unique_identifier ?? '';
    const problem = shortProblem(failures.latest.get(target)?.error);
    exhausted.push({
      plugin_id: skip.plugin_id,
      from,
      to: target,
      attempts,
      ...(problem ? { problem } : {}),
    });
  }

  const reported: FailedAttempt[] = [];
  for (const upgraded of lastRun?.upgraded ?? []) {
    const deployment =
      upgraded.deployment_id === undefined ? undefined : failures.byId.get(upgraded.deployment_id);
    if (deployment === undefined) continue;
    const problem = shortProblem(deployment.error);
    reported.push({
      plugin_id: upgraded.plugin_id,
      from: upgraded.from,
      to: upgraded.to,
      deployment_id: deployment.deployment_id,
      attempts: failures.counts.get(upgraded.to) ?? 1,
      ...(problem ? { problem } : {}),
    });
  }

  return {
    tenant,
    checked: installed.length,
    canary,
    upgrade: plan.upgrade,
    skipped: plan.skipped,
    reported_failures: reported,
    exhausted,
  };
}

/** How a wave's deployments ended so far. */
export function waveOutcome(statuses: ReadonlyArray<DeploymentStatus | undefined>): {
  done: boolean;
  attempted: number;
  failed: number;
} {
  const known = statuses.filter((status): status is DeploymentStatus => status !== undefined);
  return {
    done: known.every((status) => FINAL.has(status)),
    attempted: known.length,
    failed: known.filter((status) => FAILED.has(status)).length,
  };
}

/**
 * Step 3 (once per sweep): canary waves and halts.
 * - A build in a `halted` rollout is skipped for every tenant (`halted`) until an operator resumes.
 * - A build in its `wave`: the wave's deployments are read; once all finished the wave closes —
 *   `halted` (+ alert) when `shouldHalt`, else `open`. While it is open, canary tenants outside the
 *   wave wait (`canary-pending`) until their next run.
 * - A build without a rollout that canary-policy tenants of this sweep need: its first wave is the
 *   `canaryWave` share of those tenants (smallest percent and threshold among them); the rest wait.
 * Tenants without a canary policy never wait, but do respect a halt.
 */
export async function decideWaves(
  input: { at: string; window: WindowJson; plans: TenantPlan[] },
  ports: SweepPorts,
): Promise<{ plans: TenantPlan[]; halted_builds: string[] }> {
  const now = ports.clock();
  const targets = new Map<string, PlannedUpgrade>();
  for (const plan of input.plans) for (const step of plan.upgrade) targets.set(step.to, step);
  const rollouts =
    targets.size === 0 ? new Map<string, Rollout>() : await ports.findRollouts([...targets.keys()]);
  const haltedBuilds: string[] = [];

  for (const [uid, rollout] of rollouts) {
    if (rollout.status !== 'wave') continue;
    const members = Object.entries(rollout.wave_deployments ?? {});
    const results = await Promise.all(members.map(([tenantId, id]) => ports.deploymentStatus(tenantId, id)));
    const outcome = waveOutcome(results.map((result) => result?.status));
    if (!outcome.done || outcome.attempted === 0) continue;
    const waveResult = { attempted: outcome.attempted, failed: outcome.failed };
    const halt = shouldHalt(waveResult, rollout.failure_threshold);
    const lastProblem = shortProblem(results.find((result) => result && FAILED.has(result.status))?.error);
    const closed = await ports.closeWave(
      uid,
      halt
        ? {
            status: 'halted',
            wave_result: waveResult,
            halt: {
              at: now.toISOString(),
              by: `${SWEEP_ACTOR} (sweep of ${input.window.start})`,
              reason: `${outcome.failed} of ${outcome.attempted} canary deployments failed (threshold ${rollout.failure_threshold}%).${lastProblem ? ` Last problem: ${lastProblem.detail}` : ''}`,
            },
          }
        : { status: 'open', wave_result: waveResult },
    );
    rollouts.set(uid, closed.rollout);
    if (closed.changed && closed.rollout.status === 'halted') {
      haltedBuilds.push(uid);
      await ports.publishAlert(
        {
          plugin_id: rollout.plugin_id,
          to: uid,
          reason: 'rollout-halted',
          wave_result: waveResult,
          ...(lastProblem ? { problem: lastProblem } : {}),
        },
        now,
      );
    }
  }

  for (const [uid, step] of targets) {
    if (rollouts.has(uid)) continue;
    const canaryPlans = input.plans.filter(
      (plan) => plan.canary !== null && plan.upgrade.some((candidate) => candidate.to === uid),
    );
    if (canaryPlans.length === 0) continue;
    const percent = Math.min(...canaryPlans.map((plan) => plan.canary?.percent ?? 100));
    const threshold = Math.min(...canaryPlans.map((plan) => plan.canary?.failure_threshold ?? 100));
    const wave = canaryWave(
      canaryPlans.map((plan) => plan.tenant.tenant_id),
      { percent },
      uid,
    );
    const created = await ports.createRollout({
      unique_identifier: uid,
      plugin_id: step.plugin_id,
      version: step.to_version,
      status: 'wave',
      percent,
      failure_threshold: threshold,
      wave_tenants: wave.first,
      wave_deployments: {},
      created_at: now.toISOString(),
    });
    rollouts.set(uid, created);
  }

  const plans = input.plans.map((plan): TenantPlan => {
    const upgrade: PlannedStep[] = [];
    const skipped = [...plan.skipped];
    for (const step of plan.upgrade) {
      const rollout = rollouts.get(step.to);
      if (rollout?.status === 'halted') {
        skipped.push({
          plugin_id: step.plugin_id,
          reason: 'halted',
          candidate: step.to,
          ...(rollout.halt ? { detail: rollout.halt.reason } : {}),
        });
      } else if (rollout?.status === 'wave' && plan.canary !== null) {
        if (rollout.wave_tenants.includes(plan.tenant.tenant_id)) upgrade.push({ ...step, wave: true });
        else
          skipped.push({
            plugin_id: step.plugin_id,
            reason: 'canary-pending',
            candidate: step.to,
            detail: `Waiting for the canary wave of ${step.to} (${rollout.wave_tenants.length} tenant(s)).`,
          });
      } else {
        upgrade.push(step);
      }
    }
    return { ...plan, upgrade, skipped };
  });
  return { plans, halted_builds: haltedBuilds };
}

/**
 * Step 4 (per tenant): start the planned deployments, alert on spent retries, record the run and
 * re-index the tenant. The schedule always advances — also when planning failed or a write here
 * fails — so one bad tenant never runs every 15 minutes.
 */
export async function upgradeTenant(
  input: { plan: TenantPlan; at: string; window: WindowJson },
  ports: SweepPorts,
): Promise<TenantOutcome> {
  const { plan } = input;
  const tenantId = plan.tenant.tenant_id;
  const now = ports.clock();
  const upgraded: UpgradeRunSummary['upgraded'] = [];
  const skipped: UpgradeRunSummary['skipped'] = plan.skipped.map((entry) => ({ ...entry }));
  const failed: FailedAttempt[] = [...plan.reported_failures];
  try {
    for (const step of plan.upgrade) {
      try {
        const deployment = await ports.startDeployment(
          tenantId,
          { operation: 'auto-upgrade', unique_identifier: step.to, expected_current: step.from },
          now,
        );
        upgraded.push({
          plugin_id: step.plugin_id,
          from: step.from,
          to: step.to,
          deployment_id: deployment.deployment_id,
        });
        if (step.wave === true) await ports.recordWaveDeployment(step.to, tenantId, deployment.deployment_id);
      } catch (error) {
        if (error instanceof ConflictError) {
          skipped.push({
            plugin_id: step.plugin_id,
            reason: 'busy',
            candidate: step.to,
            detail: error.message,
          });
        } else {
          const problem = toProblem(error);
          failed.push({
            plugin_id: step.plugin_id,
            from: step.from,
            to: step.to,
            problem: { type: problem.type, detail: problem.detail },
          });
        }
      }
    }
    for (const target of plan.exhausted) {
      if (!(await ports.claimUpgradeAlert(tenantId, target.to, now))) continue;
      await ports.publishAlert(
        {
          tenant_id: tenantId,
          plugin_id: target.plugin_id,
          from: target.from,
          to: target.to,
          reason: 'retries-exhausted',
          attempts: target.attempts,
          ...(target.problem ? { problem: target.problem } : {}),
        },
        now,
      );
    }
    await ports.putUpgradeRun(tenantId, {
      run_at: input.at,
      window_start: input.window.start,
      checked: plan.checked,
      upgraded,
      skipped,
      failed,
      ...(plan.error ? { error: plan.error } : {}),
    });
  } finally {
    await ports.advanceSchedule(toSlotEntry(plan.tenant), new Date(input.window.end));
  }
  return {
    tenant_id: tenantId,
    upgraded: upgraded.length,
    skipped: skipped.map((entry) => ({ plugin_id: entry.plugin_id, reason: entry.reason })),
    failed: failed.length + (plan.error ? 1 : 0),
    ...(plan.error ? { error: plan.error } : {}),
  };
}

/** Step 5: the sweep's summary, stored under `SWEEP / RUN#<run_at>` and returned. */
export async function summarizeSweep(
  input: Pick<DueTenants, 'at' | 'started_at' | 'window' | 'checked' | 'due'> & {
    outcomes: TenantOutcome[];
    halted_builds: string[];
  },
  ports: SweepPorts,
): Promise<SweepSummary> {
  const skippedByReason: Record<string, number> = {};
  let skipped = 0;
  for (const outcome of input.outcomes) {
    for (const entry of outcome.skipped) {
      skipped += 1;
      skippedByReason[entry.reason] = (skippedByReason[entry.reason] ?? 0) + 1;
    }
  }
  const summary: SweepSummary = {
    run_at: input.at,
    window: input.window,
    checked: input.checked,
    due: input.due,
    upgraded: input.outcomes.reduce((sum, outcome) => sum + outcome.upgraded, 0),
    skipped,
    skipped_by_reason: skippedByReason,
    failed: input.outcomes.reduce((sum, outcome) => sum + outcome.failed, 0),
    halted: input.halted_builds.length,
    halted_builds: input.halted_builds,
    started_at: input.started_at,
    finished_at: ports.clock().toISOString(),
  };
  await ports.putSweepRun(summary);
  return summary;
}

/**
 * The shape of every sweep task: I/O errors that are worth retrying (throttling, 5xx, network)
 * leave as `TransientError`, which the ASL retries with backoff and jitter; anything else fails
 * the state, and the state machine's Catch decides.
 */
export function sweepTask<I, O>(impl: (input: I, ports: SweepPorts) => Promise<O>, ports: () => SweepPorts) {
  return async (input: I): Promise<O> => {
    try {
      return await impl(input, ports());
    } catch (error) {
      if (isTransient(error)) {
        throw new TransientError(`sweep: ${(error as Error).message ?? String(error)}`, { cause: error });
      }
      throw error;
    }
  };
}
