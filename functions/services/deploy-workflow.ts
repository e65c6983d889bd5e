/**
 * The deploy workflow's steps (statemachines/deploy.asl.json; docs/design.md "Deploy workflow").
 * Each step is idempotent: a retry, a redelivery or a duplicate start finds its own earlier writes
 * and changes nothing twice. Every step works through {@link DeployPorts} only.
 *
 * One frozen plan: Resolve alone plans (fetching missing dependencies only for a requester with
 * `packages:write`) and freezes the plan with its basis — the revisions of every plugin it changes
 * or relies on. The plan travels in the state, so Verify judges exactly the builds Apply applies.
 * Acquire does not plan again: under the lease it confirms the basis; if anything moved, the run
 * goes back through Resolve and Verify (the `PlanHolds` Choice), never on with unverified steps.
 *
 * Events go out through the outbox: each is stored in the same transaction as the change it
 * announces (adapters/events.ts delivers them from the table's stream).
 *
 * A runtime that can be changed behind pluginops' back (a Dify plugin daemon: `runtime.list`) is
 * compared with the record at Snapshot; drift fails the run before anything changes, or with the
 * policy's `on_drift: adopt` is recorded as `adopted` revisions and the run goes on re-planned.
 */
import type { PackageRecord } from '#core/catalog.ts';
import type { Deployment, DeploymentPlan, DeploymentStatus, PlanStep } from '#core/deploy/model.ts';
import { FINAL_STATUSES } from '#core/deploy/model.ts';
import {
  basisChanges,
  desiredStateGeneration,
  LEASE_SECONDS,
  leaseExpiry,
  MAX_REPLANS,
  RESERVATION_GRACE_SECONDS,
} from '#core/deploy/plan.ts';
import type { DeployPorts, StoredInstallation } from '#core/deploy/ports.ts';
import { assertVerified } from '#core/deploy/verify.ts';
import { ConflictError, NotFoundError, type Problem, ProblemError, toProblem } from '#core/errors.ts';
import { type DomainEvent, domainEvent, type EventType } from '#core/events.ts';
import type { TenantPolicy } from '#core/policy.ts';
import { describeDrift, detectDrift, type RecordedPlugin } from '#core/runtime-drift.ts';
import { logger } from '#shared/logger.ts';
import { isDependencyStep } from './deploy-plan.ts';
import { type DeployState, ProbeFailedError, type StepContext, TransientError } from './deploy-task.ts';

const OPEN: readonly DeploymentStatus[] = ['pending', 'running', 'awaiting_approval'];

/** The plugin a deployment is about (set by the API for every operation). */
function pluginOf(deployment: Pick<Deployment, 'deployment_id' | 'target' | 'plan'>): string {
  const pluginId = deployment.target.plugin_id ?? deployment.plan?.steps[0]?.plugin_id;
  if (pluginId === undefined) throw new Error(`deployment ${deployment.deployment_id} names no plugin`);
  return pluginId;
}

/** The step of the plugin the deployment is about (its dependencies come before it in the plan). */
function targetStep(deployment: Pick<Deployment, 'target' | 'plan'>): PlanStep | undefined {
  const steps = deployment.plan?.steps ?? [];
  return steps.find((step) => step.plugin_id === deployment.target.plugin_id) ?? steps[0];
}

function deploymentEvent(
  type: EventType,
  deployment: Pick<Deployment, 'deployment_id' | 'tenant_id' | 'operation' | 'target' | 'plan'>,
  now: Date,
  extra: Record<string, unknown> = {},
  key: string = deployment.deployment_id,
): DomainEvent {
  const step = targetStep(deployment);
  return domainEvent(
    type,
    key,
    {
      tenant_id: deployment.tenant_id,
      deployment_id: deployment.deployment_id,
      operation: deployment.operation,
      plugin_id: pluginOf(deployment),
      ...(step === undefined
        ? {}
        : {
            from_unique_identifier: step.from.unique_identifier,
            to_unique_identifier: step.to.unique_identifier,
          }),
      ...extra,
    },
    now,
  );
}

function installationChanged(
  tenantId: string,
  deploymentId: string,
  pluginId: string,
  revision: number,
  uniqueIdentifier: string | null,
  previous: string | null,
  now: Date,
  extra: Record<string, unknown> = {},
): DomainEvent {
  return domainEvent(
    'Installation Changed',
    `${deploymentId}/${pluginId}/${revision}`,
    {
      tenant_id: tenantId,
      plugin_id: pluginId,
      deployment_id: deploymentId,
      revision,
      unique_identifier: uniqueIdentifier,
      previous_unique_identifier: previous,
      ...extra,
    },
    now,
  );
}

function requirePlan(
  plan: DeploymentPlan | undefined,
  deploymentId: string,
): DeploymentPlan & { steps: [PlanStep, ...PlanStep[]] } {
  if (plan === undefined || plan.steps.length === 0)
    throw new Error(`deployment ${deploymentId} has no plan`);
  return plan as DeploymentPlan & { steps: [PlanStep, ...PlanStep[]] };
}

function probeProblem(detail: string): Problem {
  return new ProblemError('probe-failed', detail).toProblem();
}

/** The deployment's fixed facts, which no step changes: Resolve puts them in the state. */
export type DeploymentFacts = Pick<
  Deployment,
  | 'deployment_id'
  | 'tenant_id'
  | 'operation'
  | 'target'
  | 'actor'
  | 'allow_downgrade'
  | 'has_config'
  | 'config_digest'
  | 'approval_timeout_seconds'
>;

function factsOf(deployment: Deployment): DeploymentFacts {
  return {
    deployment_id: deployment.deployment_id,
    tenant_id: deployment.tenant_id,
    operation: deployment.operation,
    target: deployment.target,
    actor: deployment.actor,
    allow_downgrade: deployment.allow_downgrade,
    has_config: deployment.has_config,
    ...(deployment.config_digest === undefined ? {} : { config_digest: deployment.config_digest }),
    approval_timeout_seconds: deployment.approval_timeout_seconds,
  };
}

export interface DeploySteps {
  resolve(input: DeployState, context: StepContext): Promise<DeployState>;
  verify(input: DeployState, context: StepContext): Promise<DeployState>;
  awaitApproval(input: DeployState & { task_token: string }, context: StepContext): Promise<void>;
  acquire(input: DeployState, context: StepContext): Promise<DeployState>;
  snapshot(input: DeployState, context: StepContext): Promise<DeployState>;
  apply(input: DeployState, context: StepContext): Promise<DeployState>;
  probe(input: DeployState, context: StepContext): Promise<DeployState>;
  release(input: DeployState, context: StepContext): Promise<DeployState>;
  rollback(input: DeployState, context: StepContext): Promise<DeployState & { rolled_back: boolean }>;
  alert(input: DeployState, context: StepContext): Promise<DeployState>;
  markFailed(
    input: DeployState & { outcome?: 'failed' | 'rejected' },
    context: StepContext,
  ): Promise<DeployState>;
}

export function backupKey(tenantId: string, deploymentId: string): string {
  return `backups/${tenantId}/${deploymentId}.json`;
}

/** Bound on re-syncs under concurrent commits; the task's own Retry takes over after that. */
const MAX_SYNC_ATTEMPTS = 5;

export function deploySteps(ports: DeployPorts): DeploySteps {
  const { deployments, installations } = ports;

  /** The facts the state carries (read from the deployment when a run started before they did). */
  async function facts(input: DeployState): Promise<DeploymentFacts> {
    return (
      (input.facts as DeploymentFacts | undefined) ??
      factsOf(await getDeployment(input.tenant_id, input.deployment_id))
    );
  }

  async function getDeployment(tenantId: string, deploymentId: string): Promise<Deployment> {
    const deployment = await deployments.find(tenantId, deploymentId);
    if (deployment === undefined) throw new NotFoundError(`Deployment ${deploymentId} does not exist.`);
    return deployment;
  }

  /**
   * Makes the runtime run what the installation records say (`pluginIds`: the plugins the caller
   * changed, for a per-plugin runtime). Leases are per plugin but the runtime
   * state is per tenant, so two deployments of different plugins may sync at once: a document is
   * never replaced by an older generation, and after writing the installations are read again — if
   * another deployment committed meanwhile, sync again (its own sync may have read before ours).
   */
  async function syncRuntime(tenantId: string, now: Date, pluginIds: readonly string[]): Promise<void> {
    let installed = await installations.listInstalled(tenantId);
    for (let attempt = 0; attempt < MAX_SYNC_ATTEMPTS; attempt += 1) {
      const generation = desiredStateGeneration(installed.map((item) => item.revision));
      if ((await ports.runtime.sync(tenantId, installed, now, pluginIds)) === 'newer-present') return;
      const after = await installations.listInstalled(tenantId);
      if (desiredStateGeneration(after.map((item) => item.revision)) === generation) return;
      installed = after;
    }
    throw new TransientError(
      `The desired state of ${tenantId} kept changing while it was written; retrying.`,
    );
  }

  // ── Resolve ─────────────────────────────────────────────────────────────────────────────────

  async function resolve(input: DeployState, context: StepContext): Promise<DeployState> {
    const { tenant_id: tenantId, deployment_id: deploymentId } = input;
    const { now } = context;
    const replans = input.replans ?? 0;
    if (replans > MAX_REPLANS) {
      throw new ConflictError(
        `What is installed kept changing while this deployment waited for its lease (re-planned ${MAX_REPLANS} times); try again.`,
      );
    }
    // The API starts the run with the deployment it stored; a re-plan reads it again.
    const given = replans === 0 ? (input.deployment as Deployment | undefined) : undefined;
    const deployment =
      given?.deployment_id === deploymentId ? given : await getDeployment(tenantId, deploymentId);
    // A runtime may refuse the tenant up front (a Dify daemon needs the tenant's dify_tenant_id).
    await ports.runtime.assertTarget?.(tenantId);
    const current = await installations.listInstalled(tenantId);
    // The API made this plan moments ago with the same planner (never fetching); while what it
    // relied on is unchanged it is the plan, otherwise (or when there is none) plan again.
    const preview = deployment.plan;
    const planned =
      replans === 0 && preview?.basis !== undefined && basisChanges(preview.basis, current).length === 0
        ? { steps: preview.steps, order: preview.order, basis: preview.basis, fetched: [] }
        : await ports.planner.plan(deployment, {
            fetchMissing: deployment.may_fetch === true,
            installations: current,
            now,
          });
    // Checked again here: a dependent may have been installed since the API accepted the request.
    if (deployment.operation === 'uninstall' && deployment.force !== true) {
      await ports.planner.assertNoDependents(tenantId, pluginOf(deployment));
    }
    const plan: DeploymentPlan = { ...planned, frozen_at: now.toISOString() };
    const policy = await ports.verifier.tenantPolicy(tenantId);
    const timeline = context.timeline();
    // A request by range names the build it got from here on (a re-plan keeps that build).
    const chosen = targetStep({ target: deployment.target, plan })?.to.unique_identifier ?? undefined;
    const target =
      deployment.target.unique_identifier === undefined &&
      chosen !== undefined &&
      deployment.operation !== 'rollback'
        ? { target: { ...deployment.target, unique_identifier: chosen } }
        : {};
    const started = { ...deployment, plan };
    const first = await deployments.update(
      tenantId,
      deploymentId,
      { status: 'running', plan, steps: timeline, ...target },
      now,
      ['pending'],
      [deploymentEvent('Deployment Started', started, now)],
    );
    if (!first) {
      // A retry, or a run sent back by Acquire: the deployment already runs.
      const stored = await deployments.update(
        tenantId,
        deploymentId,
        { plan, steps: timeline, ...target },
        now,
        OPEN,
      );
      if (!stored) throw new ConflictError(`Deployment ${deploymentId} has already ended.`);
    }
    return {
      deployment_id: deploymentId,
      tenant_id: tenantId,
      approval: { required: policy.approval_required, timeout_seconds: deployment.approval_timeout_seconds },
      plan,
      replans,
      facts: factsOf({ ...deployment, ...target }),
      policy,
      installed: current.map((item) => ({
        plugin_id: item.plugin_id,
        unique_identifier: item.unique_identifier,
        version: item.version,
        status: item.status,
      })),
    };
  }

  // ── Verify ──────────────────────────────────────────────────────────────────────────────────

  /** Steps whose target package must pass the rules (nothing is verified for keep/uninstall). */
  function verifiable(step: PlanStep): step is PlanStep & { to: { unique_identifier: string } } {
    return step.to.unique_identifier !== null && step.action !== 'keep' && step.action !== 'uninstall';
  }

  async function verify(input: DeployState, _context: StepContext): Promise<DeployState> {
    const plan = requirePlan(input.plan, input.deployment_id);
    const deployment = await facts(input);
    const policy =
      (input.policy as TenantPolicy | undefined) ?? (await ports.verifier.tenantPolicy(input.tenant_id));
    const keyring = await ports.verifier.keyring();
    const records = new Map<string, PackageRecord>();
    for (const step of plan.steps) {
      if (step.to.unique_identifier === null) continue;
      const record = await ports.verifier.findPackage(step.to.unique_identifier);
      if (record === undefined)
        throw new NotFoundError(`Package ${step.to.unique_identifier} is not in the catalog.`);
      records.set(step.plugin_id, record);
    }
    // Dependency integrity is judged on what the tenant runs once every step is applied.
    const removed = new Set(
      plan.steps.filter((step) => step.to.unique_identifier === null).map((s) => s.plugin_id),
    );
    // What Resolve saw installed (Acquire confirms that what the plan relies on has not moved).
    const installed =
      (input.installed as StoredInstallation[] | undefined) ??
      (await installations.listInstalled(input.tenant_id));
    const resulting = await ports.verifier.resulting([...records.values()], installed, removed);
    // Every build of the frozen plan, dependencies included, against the signers trusted now.
    for (const step of plan.steps.filter(verifiable)) {
      const record = records.get(step.plugin_id) as PackageRecord;
      assertVerified(
        await ports.verifier.checks({
          record,
          keyring,
          policy,
          operation: deployment.operation,
          allowDowngrade: deployment.allow_downgrade,
          installedVersion: step.from.version,
          resulting,
        }),
      );
    }
    return input;
  }

  // ── AwaitApproval ───────────────────────────────────────────────────────────────────────────

  async function awaitApproval(
    input: DeployState & { task_token: string },
    context: StepContext,
  ): Promise<void> {
    const { tenant_id: tenantId, deployment_id: deploymentId } = input;
    const deployment = await getDeployment(tenantId, deploymentId);
    await deployments.update(
      tenantId,
      deploymentId,
      { status: 'awaiting_approval', task_token: input.task_token, steps: context.timeline() },
      context.now,
      ['running', 'awaiting_approval'],
      [
        deploymentEvent(
          'Approval Requested',
          deployment,
          context.now,
          { timeout_seconds: input.approval?.timeout_seconds },
          // A run sent back to Resolve asks again, for the new plan.
          `${deploymentId}/${deployment.plan?.frozen_at ?? ''}`,
        ),
      ],
    );
  }

  // ── Acquire ─────────────────────────────────────────────────────────────────────────────────

  /**
   * Takes the leases of the plan's plugins (settling an expired holder's half-done work first),
   * then confirms the frozen plan's basis against what is installed now. When something moved,
   * the run goes back to Resolve: the leases other than the target's are given back, and the
   * target's is kept as a reservation long enough for another approval.
   */
  async function acquire(input: DeployState, context: StepContext): Promise<DeployState> {
    const { tenant_id: tenantId, deployment_id: deploymentId } = input;
    const { now } = context;
    const plan = requirePlan(input.plan, deploymentId);
    const deployment = await facts(input);
    const pluginId = pluginOf({ ...deployment, plan });
    const taken = await leaseEvery(tenantId, deploymentId, [pluginId, ...plan.order], now);
    const changed = basisChanges(plan.basis ?? {}, await installations.listInstalled(tenantId));
    if (changed.length === 0) return { ...input, plan_holds: true };
    logger.info('plan no longer holds; planning again', {
      tenant_id: tenantId,
      deployment_id: deploymentId,
      moved: changed,
    });
    for (const other of taken)
      if (other !== pluginId) await installations.releaseLease(tenantId, other, deploymentId);
    await installations.takeLease(
      tenantId,
      pluginId,
      {
        deployment_id: deploymentId,
        expires_at: leaseExpiry(now, deployment.approval_timeout_seconds + RESERVATION_GRACE_SECONDS),
        phase: 'reserved',
      },
      now,
    );
    return { ...input, plan_holds: false, replans: (input.replans ?? 0) + 1 };
  }

  /**
   * Leases every plugin, all or nothing: when one is held by another deployment, the leases this
   * call took are given back before the conflict is thrown.
   */
  async function leaseEvery(tenantId: string, deploymentId: string, pluginIds: readonly string[], now: Date) {
    const taken: string[] = [];
    const takenNow: string[] = [];
    let settling: string | undefined;
    try {
      for (const pluginId of new Set(pluginIds)) {
        const lease = {
          deployment_id: deploymentId,
          expires_at: leaseExpiry(now, LEASE_SECONDS),
          phase: 'acquired' as const,
        };
        const { previous } = await installations.takeLease(tenantId, pluginId, lease, now);
        taken.push(pluginId);
        if (previous?.deployment_id !== deploymentId) takenNow.push(pluginId);
        const inherited =
          previous?.deployment_id === deploymentId ? previous.inherited_from : previous?.deployment_id;
        if (inherited === undefined) continue;
        // The lease remembers whose work it inherited until that work is settled, so a retry
        // after a failed settle (or the recovery pass) still knows what to settle.
        await installations.takeLease(tenantId, pluginId, { ...lease, inherited_from: inherited }, now);
        settling = pluginId;
        await settleAbandoned(tenantId, pluginId, inherited, deploymentId, now);
        settling = undefined;
      }
    } catch (error) {
      // A lease whose inherited work is not settled yet is kept for the retry to settle.
      for (const pluginId of takenNow) {
        if (pluginId !== settling) await installations.releaseLease(tenantId, pluginId, deploymentId);
      }
      throw error;
    }
    return taken;
  }

  /**
   * A deployment's lease ran out without a Release (its run crashed or was aborted). Its plan tells
   * what it meant to do; the installation tells how far it got. Each plugin change is one
   * transaction, so the installation is fully old or fully new; what can be left half-done is the
   * rest: the runtime may lag the installation, the revision's outcome is open, and the deployment
   * still says running. Settle all three ("finish": a committed change is kept, but marked
   * unverified, since it never passed its probe), then mark the abandoned deployment failed.
   */
  async function settleAbandoned(
    tenantId: string,
    pluginId: string,
    abandonedId: string,
    takenBy: string,
    now: Date,
  ): Promise<void> {
    const abandoned = await deployments.find(tenantId, abandonedId);
    const installation = await installations.find(tenantId, pluginId);
    logger.warn('taking over an expired lease', {
      tenant_id: tenantId,
      plugin_id: pluginId,
      abandoned: abandonedId,
      taken_by: takenBy,
      abandoned_status: abandoned?.status,
    });
    if (installation !== undefined && installation.last_deployment_id === abandonedId) {
      await installations.finalizeRevision(tenantId, pluginId, installation.revision, 'unverified', now);
      await syncRuntime(tenantId, now, [pluginId]);
    }
    if (abandoned !== undefined && !FINAL_STATUSES.has(abandoned.status)) {
      const problem = new ConflictError(
        `The deployment stopped without finishing; its lease expired and deployment ${takenBy} took over. ` +
          (installation?.last_deployment_id === abandonedId
            ? `Its change (revision ${installation.revision}) had been applied and was kept, unverified.`
            : 'It had not changed the plugin.'),
      ).toProblem();
      await deployments.update(tenantId, abandonedId, { status: 'failed', error: problem }, now, OPEN, [
        deploymentEvent('Deployment Failed', abandoned, now, { status: 'failed', error: problem.detail }),
      ]);
    }
  }

  // ── Snapshot ────────────────────────────────────────────────────────────────────────────────

  /** What was installed (and its sealed config) before the change; rewriting it on retry is harmless. */
  async function snapshot(input: DeployState, context: StepContext): Promise<DeployState> {
    const state = await checkDrift(input, context);
    const plugins = [];
    for (const step of requirePlan(state.plan, state.deployment_id).steps) {
      const installation = await installations.find(input.tenant_id, step.plugin_id);
      plugins.push({
        plugin_id: step.plugin_id,
        unique_identifier: installation?.unique_identifier ?? null,
        version: installation?.version ?? null,
        revision: installation?.revision ?? 0,
        status: installation?.status ?? 'uninstalled',
        config_sealed: installation?.config_sealed ?? null,
        config_digest: installation?.config_digest ?? null,
      });
    }
    await ports.saveSnapshot(backupKey(input.tenant_id, input.deployment_id), {
      deployment_id: input.deployment_id,
      tenant_id: input.tenant_id,
      taken_at: context.now.toISOString(),
      plugins,
    });
    return state;
  }

  /**
   * Drift (only with a runtime that lists what it runs): compares the plan's plugins with the
   * record, under the lease. Found drift is recorded on the deployment (with its `Runtime Drift
   * Detected` event) and on the installations; then the tenant policy decides: `fail` throws
   * `runtime-drift` (before Apply: nothing changed), `adopt` records what the runtime runs as
   * `adopted` revisions, plans again on that basis, verifies the new plan, and goes on with it.
   */
  async function checkDrift(input: DeployState, context: StepContext): Promise<DeployState> {
    const list = ports.runtime.list;
    if (list === undefined) return input;
    const { tenant_id: tenantId, deployment_id: deploymentId } = input;
    const { now } = context;
    const plan = requirePlan(input.plan, deploymentId);
    const pluginIds = plan.order.length > 0 ? plan.order : plan.steps.map((step) => step.plugin_id);
    const observed = await list(tenantId);
    const recorded: RecordedPlugin[] = [];
    for (const pluginId of pluginIds) {
      const installation = await installations.find(tenantId, pluginId);
      recorded.push({
        plugin_id: pluginId,
        unique_identifier: installation?.status === 'installed' ? installation.unique_identifier : null,
      });
    }
    const drifts = detectDrift(recorded, observed, pluginIds);
    const drifted = new Set(drifts.map((drift) => drift.plugin_id));
    for (const pluginId of pluginIds) {
      if (!drifted.has(pluginId)) await ports.drift?.recordInstallation(tenantId, pluginId, null);
    }
    if (drifts.length === 0) return input;
    const policy = await ports.verifier.tenantPolicy(tenantId);
    await deployments.update(tenantId, deploymentId, { drift: drifts }, now, OPEN, [
      domainEvent(
        'Runtime Drift Detected',
        `${deploymentId}/drift/${plan.frozen_at ?? ''}`,
        { tenant_id: tenantId, deployment_id: deploymentId, drift: drifts, on_drift: policy.on_drift },
        now,
      ),
    ]);
    for (const drift of drifts) {
      await ports.drift?.recordInstallation(tenantId, drift.plugin_id, {
        ...drift,
        detected_at: now.toISOString(),
        deployment_id: deploymentId,
      });
    }
    if (policy.on_drift === 'fail' || ports.drift === undefined) {
      throw new ProblemError(
        'runtime-drift',
        `The runtime does not run what pluginops recorded: ${drifts.map(describeDrift).join(' ')} ` +
          `Nothing was changed. Adopt what Dify runs with POST /v1/tenants/${tenantId}/runtime:sync, or set the policy's on_drift to adopt.`,
        { extensions: { drift: drifts } },
      );
    }
    for (const drift of drifts) {
      await ports.drift.adopt(
        tenantId,
        drift.plugin_id,
        drift.observed,
        deploymentId,
        'pluginops (drift adopted at Snapshot)',
        now,
      );
    }
    // The basis moved (by adoption): plan again from what runs, and verify that plan.
    const deployment = await getDeployment(tenantId, deploymentId);
    const planned = await ports.planner.plan(deployment, {
      fetchMissing: deployment.may_fetch === true,
      installations: await installations.listInstalled(tenantId),
      now,
    });
    const replanned: DeploymentPlan = { ...planned, frozen_at: now.toISOString() };
    const state: DeployState = { ...input, plan: replanned };
    await verify(state, context);
    await deployments.update(tenantId, deploymentId, { plan: replanned }, now, OPEN);
    return state;
  }

  // ── Apply ───────────────────────────────────────────────────────────────────────────────────

  /** The config the new revision carries: the request's, a restored revision's, or the current one. */
  async function configFor(
    deployment: DeploymentFacts,
    step: PlanStep,
    installation: StoredInstallation | undefined,
  ): Promise<{ sealed: string | null; digest: string | null }> {
    if (step.to.unique_identifier === null) return { sealed: null, digest: null };
    // A dependency keeps its own config; the request's config is for the target plugin.
    if (isDependencyStep(deployment, step)) {
      return { sealed: installation?.config_sealed ?? null, digest: installation?.config_digest ?? null };
    }
    if (deployment.has_config) {
      const sealed = await deployments.configSealed(deployment.tenant_id, deployment.deployment_id);
      return { sealed: sealed ?? null, digest: deployment.config_digest ?? null };
    }
    if (step.restore_revision !== undefined) {
      const restored = await installations.findRevision(
        deployment.tenant_id,
        step.plugin_id,
        step.restore_revision,
      );
      return { sealed: restored?.config_sealed ?? null, digest: restored?.config_digest ?? null };
    }
    return { sealed: installation?.config_sealed ?? null, digest: installation?.config_digest ?? null };
  }

  /** The operation a step's revision records: a dependency is installed or upgraded for the target. */
  function operationOf(deployment: DeploymentFacts, step: PlanStep): Deployment['operation'] {
    if (!isDependencyStep(deployment, step)) return deployment.operation;
    if (step.from.unique_identifier === null) return 'install';
    return deployment.operation === 'auto-upgrade' ? 'auto-upgrade' : 'upgrade';
  }

  async function apply(input: DeployState, context: StepContext): Promise<DeployState> {
    const { now } = context;
    const deployment = await facts(input);
    let changed = false;
    const touched: string[] = [];
    for (const step of requirePlan(input.plan, input.deployment_id).steps) {
      if (step.action === 'keep') continue;
      touched.push(step.plugin_id);
      const installation = await installations.find(input.tenant_id, step.plugin_id);
      const config = await configFor(deployment, step, installation);
      const revision = step.from.revision + 1;
      await installations.applyRevision({
        tenantId: input.tenant_id,
        pluginId: step.plugin_id,
        deploymentId: input.deployment_id,
        expectedRevision: step.from.revision,
        state: {
          unique_identifier: step.to.unique_identifier,
          version: step.to.version,
          package_key: step.to.package_key,
          sha256: step.to.sha256,
          config_sealed: config.sealed,
          config_digest: config.digest,
        },
        revision: {
          unique_identifier: step.to.unique_identifier,
          previous_unique_identifier: step.from.unique_identifier,
          version: step.to.version,
          operation: operationOf(deployment, step),
          actor: deployment.actor,
          deployment_id: deployment.deployment_id,
          config_digest: config.digest,
          outcome: 'pending',
          created_at: now.toISOString(),
          ...(config.sealed === null ? {} : { config_sealed: config.sealed }),
        },
        now,
        events: [
          installationChanged(
            input.tenant_id,
            input.deployment_id,
            step.plugin_id,
            revision,
            step.to.unique_identifier,
            step.from.unique_identifier,
            now,
          ),
        ],
        steps: changed ? [] : context.timeline(),
      });
      changed = true;
    }
    if (changed) await syncRuntime(input.tenant_id, now, touched);
    return input;
  }

  // ── Probe ───────────────────────────────────────────────────────────────────────────────────

  async function probe(input: DeployState, _context: StepContext): Promise<DeployState> {
    for (const step of requirePlan(input.plan, input.deployment_id).steps) {
      const result = await ports.runtime.probe(input.tenant_id, step.plugin_id, step.to.unique_identifier);
      if (!result.ok) throw new ProbeFailedError(probeProblem(`${step.plugin_id}: ${result.detail}`));
    }
    return input;
  }

  // ── Release ─────────────────────────────────────────────────────────────────────────────────

  /**
   * The deployment is marked succeeded first (with its event), and only then are its revisions
   * closed and its leases given back: a Release that fails half-way is retried, and if it never
   * completes, Rollback finds a succeeded deployment and undoes nothing — never a rollback that
   * has lost the lease it needs.
   */
  async function release(input: DeployState, context: StepContext): Promise<DeployState> {
    const { tenant_id: tenantId, deployment_id: deploymentId } = input;
    const { now } = context;
    const plan = requirePlan(input.plan, deploymentId);
    const deployment = await facts(input);
    // A probe that failed before it passed left an error behind; the deployment succeeded.
    const marked = await deployments.update(
      tenantId,
      deploymentId,
      { status: 'succeeded', remove: ['error'], steps: context.timeline('succeeded') },
      now,
      OPEN,
      [deploymentEvent('Deployment Succeeded', { ...deployment, plan }, now, { status: 'succeeded' })],
    );
    if (!marked) {
      // A retry after the status was written goes on; a deployment ended otherwise stops here.
      const { status } = await getDeployment(tenantId, deploymentId);
      if (status !== 'succeeded') {
        throw new ConflictError(`Deployment ${deploymentId} ended (${status}) before it could be released.`);
      }
    }
    for (const step of plan.steps) {
      const revision = step.action === 'keep' ? undefined : step.from.revision + 1;
      if (installations.closeAndRelease !== undefined) {
        await installations.closeAndRelease(tenantId, step.plugin_id, deploymentId, revision, now);
        continue;
      }
      if (revision !== undefined) {
        await installations.finalizeRevision(tenantId, step.plugin_id, revision, 'succeeded', now);
      }
      await installations.releaseLease(tenantId, step.plugin_id, deploymentId);
    }
    return input;
  }

  // ── Rollback ────────────────────────────────────────────────────────────────────────────────

  /** The problem a failed state left: the one the task stored, or one made from the ASL error. */
  function problemOf(deployment: Deployment, error: DeployState['error']): Problem {
    if (deployment.error !== undefined) return deployment.error;
    const cause = error?.Cause ?? '';
    let message = cause;
    try {
      const parsed = JSON.parse(cause) as { errorMessage?: string };
      if (typeof parsed.errorMessage === 'string') message = parsed.errorMessage;
    } catch {
      // The local engine passes the message itself.
    }
    if (error?.Error === 'ProbeFailed') return probeProblem(message);
    return {
      ...toProblem(new Error(message)),
      detail: `The deployment failed in the workflow (${error?.Error ?? 'unknown error'}).`,
    };
  }

  /**
   * After a failure once Apply started: put every plugin of the deployment back to what it was
   * (previous identifier and config, as a new revision), tell the runtime, probe again, and hold
   * the identifier that failed so auto-upgrade does not bring it straight back. A deployment that
   * had not committed its change is simply failed: nothing to restore.
   */
  async function rollback(
    input: DeployState,
    context: StepContext,
  ): Promise<DeployState & { rolled_back: boolean }> {
    const { tenant_id: tenantId, deployment_id: deploymentId } = input;
    const { now } = context;
    const deployment = await getDeployment(tenantId, deploymentId);
    // Release failed after it had marked the deployment succeeded: a healthy change is not undone;
    // what Release had left to do (close the revisions, give the leases back) is finished here.
    if (deployment.status === 'succeeded') {
      for (const step of deployment.plan?.steps ?? []) {
        if (step.action !== 'keep') {
          await installations.finalizeRevision(
            tenantId,
            step.plugin_id,
            step.from.revision + 1,
            'succeeded',
            now,
          );
        }
        await installations.releaseLease(tenantId, step.plugin_id, deploymentId);
      }
      return { ...input, rolled_back: false };
    }
    const plan = requirePlan(deployment.plan, deploymentId);
    const problem = problemOf(deployment, input.error);
    let rolledBack = false;
    const restoredPlugins: string[] = [];
    // Dependents are restored before what they depend on: the reverse of the install order.
    for (const step of [...plan.steps].reverse()) {
      const installation = await installations.find(tenantId, step.plugin_id);
      if (installation === undefined || installation.last_deployment_id !== deploymentId) continue;
      const latest = await installations.findRevision(tenantId, step.plugin_id, installation.revision);
      const alreadyRestored =
        latest?.operation === 'rollback' &&
        latest.deployment_id === deploymentId &&
        latest.revision > step.from.revision + 1;
      if (!alreadyRestored) {
        const previous =
          step.from.unique_identifier === null
            ? undefined
            : await ports.verifier.findPackage(step.from.unique_identifier);
        if (step.from.unique_identifier !== null && previous === undefined) {
          throw new NotFoundError(`Package ${step.from.unique_identifier} is not in the catalog.`);
        }
        const previousRevision =
          step.from.revision > 0
            ? await installations.findRevision(tenantId, step.plugin_id, step.from.revision)
            : undefined;
        const result = await installations.applyRevision({
          tenantId,
          pluginId: step.plugin_id,
          deploymentId,
          expectedRevision: installation.revision,
          state: {
            unique_identifier: previous?.unique_identifier ?? null,
            version: previous?.version ?? null,
            package_key: previous?.storage_key ?? null,
            sha256: previous?.sha256 ?? null,
            config_sealed: previous === undefined ? null : (previousRevision?.config_sealed ?? null),
            config_digest: previous === undefined ? null : (previousRevision?.config_digest ?? null),
          },
          revision: {
            unique_identifier: previous?.unique_identifier ?? null,
            previous_unique_identifier: installation.unique_identifier,
            version: previous?.version ?? null,
            operation: 'rollback',
            actor: `pluginops (automatic rollback of ${deploymentId})`,
            deployment_id: deploymentId,
            config_digest: previousRevision?.config_digest ?? null,
            outcome: 'pending',
            created_at: now.toISOString(),
            ...(previousRevision?.config_sealed === undefined || previous === undefined
              ? {}
              : { config_sealed: previousRevision.config_sealed }),
          },
          now,
          events: [
            installationChanged(
              tenantId,
              deploymentId,
              step.plugin_id,
              installation.revision + 1,
              previous?.unique_identifier ?? null,
              installation.unique_identifier,
              now,
              { rollback: true },
            ),
          ],
        });
        await installations.finalizeRevision(tenantId, step.plugin_id, result.revision - 1, 'failed', now);
      }
      // The hold is on the build the deployment asked for; its dependencies stay upgradable.
      if (step.to.unique_identifier !== null && !isDependencyStep(deployment, step)) {
        await installations.setHold(tenantId, step.plugin_id, {
          unique_identifier: step.to.unique_identifier,
          reason: `Deployment ${deploymentId} failed and was rolled back: ${problem.detail}`.slice(0, 1000),
          set_at: now.toISOString(),
          deployment_id: deploymentId,
        });
      }
      restoredPlugins.push(step.plugin_id);
      rolledBack = true;
    }
    await syncRuntime(tenantId, now, restoredPlugins);
    const probes: Record<string, string> = {};
    for (const step of plan.steps.filter((s) => restoredPlugins.includes(s.plugin_id))) {
      const installation = await installations.find(tenantId, step.plugin_id);
      const result = await ports.runtime.probe(tenantId, step.plugin_id, step.from.unique_identifier);
      probes[step.plugin_id] = result.detail;
      if (installation !== undefined) {
        await installations.finalizeRevision(
          tenantId,
          step.plugin_id,
          installation.revision,
          result.ok ? 'restored' : 'unverified',
          now,
        );
      }
    }
    for (const step of plan.steps) await installations.releaseLease(tenantId, step.plugin_id, deploymentId);
    const status: DeploymentStatus = rolledBack ? 'rolled_back' : 'failed';
    await deployments.update(
      tenantId,
      deploymentId,
      { status, error: problem, steps: context.timeline('succeeded') },
      now,
      OPEN,
      rolledBack
        ? [
            deploymentEvent('Deployment Rolled Back', deployment, now, {
              status,
              error: problem.detail,
              held_unique_identifier: targetStep(deployment)?.to.unique_identifier ?? null,
              restored_plugins: restoredPlugins,
              probes,
            }),
          ]
        : [],
    );
    return { ...input, rolled_back: rolledBack };
  }

  // ── Alert ───────────────────────────────────────────────────────────────────────────────────

  /** The alert after a failure past Apply: one `Deployment Failed` event, whatever the rollback did. */
  async function alert(input: DeployState, context: StepContext): Promise<DeployState> {
    const { tenant_id: tenantId, deployment_id: deploymentId } = input;
    const { now } = context;
    const deployment = await getDeployment(tenantId, deploymentId);
    if (deployment.status === 'succeeded') return input;
    let status = deployment.status;
    let problem = deployment.error;
    const key = `${deploymentId}/alert`;
    if (!FINAL_STATUSES.has(deployment.status)) {
      // Rollback itself failed: the deployment is failed and the plugin may need a human.
      const failed = problemOf(deployment, input.error);
      problem = { ...failed, detail: `${failed.detail} The automatic rollback did not complete.` };
      status = 'failed';
      const event = deploymentEvent(
        'Deployment Failed',
        deployment,
        now,
        { status, error: problem.detail, alert: true },
        key,
      );
      if (
        await deployments.update(
          tenantId,
          deploymentId,
          { status, error: problem, steps: context.timeline('succeeded') },
          now,
          OPEN,
          [event],
        )
      ) {
        return input;
      }
    }
    // The status was settled by Rollback: the alert is an event of its own (the same id on a retry).
    await deployments.update(
      tenantId,
      deploymentId,
      { steps: context.timeline('succeeded') },
      now,
      undefined,
      [
        deploymentEvent(
          'Deployment Failed',
          deployment,
          now,
          { status, error: problem?.detail, alert: true },
          key,
        ),
      ],
    );
    return input;
  }

  // ── MarkFailed / MarkRejected ───────────────────────────────────────────────────────────────

  /**
   * A failure before Apply (or a rejection): nothing changed for the tenant. Record why, give the
   * lease (or the API's reservation) back, and tell the world.
   */
  async function markFailed(
    input: DeployState & { outcome?: 'failed' | 'rejected' },
    context: StepContext,
  ): Promise<DeployState> {
    const { tenant_id: tenantId, deployment_id: deploymentId } = input;
    const { now } = context;
    const deployment = await getDeployment(tenantId, deploymentId);
    if (input.outcome === 'rejected') {
      const timedOut = input.error?.Error === 'States.Timeout';
      await deployments.update(
        tenantId,
        deploymentId,
        {
          status: 'rejected',
          remove: ['task_token'],
          steps: context.timeline('succeeded'),
          ...(timedOut
            ? {
                approval: {
                  decision: 'timed_out',
                  at: now.toISOString(),
                  comment: 'No decision before the approval timeout.',
                },
              }
            : {}),
        },
        now,
        OPEN,
      );
    } else {
      const problem = problemOf(deployment, input.error);
      await deployments.update(
        tenantId,
        deploymentId,
        { status: 'failed', error: problem, remove: ['task_token'], steps: context.timeline('succeeded') },
        now,
        OPEN,
        [deploymentEvent('Deployment Failed', deployment, now, { status: 'failed', error: problem.detail })],
      );
    }
    const pluginIds = new Set([pluginOf(deployment), ...(deployment.plan?.order ?? [])]);
    for (const pluginId of pluginIds) await installations.releaseLease(tenantId, pluginId, deploymentId);
    return input;
  }

  return {
    resolve,
    verify,
    awaitApproval,
    acquire,
    snapshot,
    apply,
    probe,
    release,
    rollback,
    alert,
    markFailed,
  };
}
