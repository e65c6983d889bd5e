/**
 * The deploy workflow's steps (statemachines/deploy.asl.json; DESIGN §7). Each step is idempotent:
 * a retry, a redelivery or a duplicate start finds its own earlier writes and changes nothing
 * twice. Between states only ids travel; the deployment item holds the plan, timeline and error.
 */
import {
  deploymentConfigSealed,
  findDeployment,
  getDeployment,
  updateDeployment,
} from '#adapters/dynamo/deployments.ts';
import {
  applyRevision,
  finalizeRevision,
  findInstallation,
  findRevision,
  listInstalledPlugins,
  releaseLease,
  type StoredInstallation,
  setHold,
  takeLease,
} from '#adapters/dynamo/installations.ts';
import { getStoredPolicy } from '#adapters/dynamo/tenants.ts';
import { publishEvent } from '#adapters/events.ts';
import { runtimeHost } from '#adapters/runtime-host.ts';
import { putJson } from '#adapters/s3/blob-store.ts';
import type { PackageRecord } from '#core/catalog.ts';
import type { Deployment, DeploymentPlan, DeploymentStatus, PlanStep } from '#core/deploy/model.ts';
import { FINAL_STATUSES } from '#core/deploy/model.ts';
import { desiredStateGeneration, LEASE_SECONDS, leaseExpiry } from '#core/deploy/plan.ts';
import { assertVerified, downgradeCheck } from '#core/deploy/verify.ts';
import { ConflictError, type Problem, ProblemError, toProblem } from '#core/errors.ts';
import { effectivePolicy } from '#core/policy.ts';
import { logger } from '#shared/logger.ts';
import { assertNoDependents } from './dependencies.ts';
import { isDependencyStep, requirePackage, resolveDeploymentPlan } from './deploy-plan.ts';
import { type DeployState, ProbeFailedError, TransientError } from './deploy-task.ts';
import { currentKeyring, packageChecks, resultingPackages, tenantPolicy } from './deploy-verify.ts';
import {
  assertRuntimeTarget,
  checkRuntimeDrift,
  convergeDifyDaemon,
  probeRuntime,
  usesDifyDaemon,
} from './dify-runtime.ts';
import { stagePolicyDefaults } from './stage.ts';

const OPEN: readonly DeploymentStatus[] = ['pending', 'running', 'awaiting_approval'];

/** The plugin a deployment is about (set by the API for every operation). */
function pluginOf(deployment: Deployment): string {
  const pluginId = deployment.target.plugin_id ?? deployment.plan?.steps[0]?.plugin_id;
  if (pluginId === undefined) throw new Error(`deployment ${deployment.deployment_id} names no plugin`);
  return pluginId;
}

/** The step of the plugin the deployment is about (its dependencies come before it in the plan). */
function targetStep(deployment: Deployment): PlanStep | undefined {
  const steps = deployment.plan?.steps ?? [];
  return steps.find((step) => step.plugin_id === deployment.target.plugin_id) ?? steps[0];
}

function eventDetail(deployment: Deployment, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const step = targetStep(deployment);
  return {
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
  };
}

function requirePlan(deployment: Deployment): DeploymentPlan & { steps: [PlanStep, ...PlanStep[]] } {
  const plan = deployment.plan;
  if (plan === undefined || plan.steps.length === 0)
    throw new Error(`deployment ${deployment.deployment_id} has no plan`);
  return plan as DeploymentPlan & { steps: [PlanStep, ...PlanStep[]] };
}

function probeProblem(detail: string): Problem {
  return new ProblemError('probe-failed', detail).toProblem();
}

// ── Resolve ─────────────────────────────────────────────────────────────────────────────────────

export async function resolveStep(input: DeployState, now: Date): Promise<DeployState> {
  const { tenant_id: tenantId, deployment_id: deploymentId } = input;
  if (await updateDeployment(tenantId, deploymentId, { status: 'running' }, now, ['pending'])) {
    const started = await getDeployment(tenantId, deploymentId);
    await publishEvent('Deployment Started', eventDetail(started), now);
  }
  const deployment = await getDeployment(tenantId, deploymentId);
  await assertRuntimeTarget(tenantId);
  // Dependencies are resolved (and missing ones fetched) here; the API planned the target only.
  const plan = await resolveDeploymentPlan(deployment, now);
  // Checked again here: a dependent may have been installed since the API accepted the request.
  if (deployment.operation === 'uninstall' && deployment.force !== true) {
    await assertNoDependents(tenantId, pluginOf(deployment));
  }
  await updateDeployment(tenantId, deploymentId, { plan }, now, OPEN);
  const policy = effectivePolicy(stagePolicyDefaults(), await getStoredPolicy(tenantId));
  return {
    deployment_id: deploymentId,
    tenant_id: tenantId,
    approval: { required: policy.approval_required, timeout_seconds: deployment.approval_timeout_seconds },
  };
}

// ── Verify ──────────────────────────────────────────────────────────────────────────────────────

/** Steps whose target package must pass the rules (nothing is verified for keep/uninstall). */
function verifiable(step: PlanStep): step is PlanStep & { to: { unique_identifier: string } } {
  return step.to.unique_identifier !== null && step.action !== 'keep' && step.action !== 'uninstall';
}

export async function verifyStep(input: DeployState, _now: Date): Promise<DeployState> {
  const deployment = await getDeployment(input.tenant_id, input.deployment_id);
  const plan = requirePlan(deployment);
  const policy = await tenantPolicy(input.tenant_id);
  const keyring = await currentKeyring();
  const records = new Map<string, PackageRecord>();
  for (const step of plan.steps) {
    if (step.to.unique_identifier !== null) {
      records.set(step.plugin_id, await requirePackage(step.to.unique_identifier));
    }
  }
  // Dependency integrity is judged on what the tenant runs once every step is applied.
  const removed = new Set(
    plan.steps.filter((step) => step.to.unique_identifier === null).map((s) => s.plugin_id),
  );
  const resulting = await resultingPackages(
    [...records.values()],
    await listInstalledPlugins(input.tenant_id),
    removed,
  );
  for (const step of plan.steps.filter(verifiable)) {
    const record = records.get(step.plugin_id);
    if (record === undefined) throw new Error(`no package for ${step.plugin_id}`);
    // The stored bytes are re-read, against the signers trusted now (a revoked signer no longer verifies).
    assertVerified(
      await packageChecks({
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

// ── AwaitApproval ───────────────────────────────────────────────────────────────────────────────

export async function awaitApprovalStep(
  input: DeployState & { task_token: string },
  now: Date,
): Promise<void> {
  const { tenant_id: tenantId, deployment_id: deploymentId } = input;
  const waiting = await updateDeployment(
    tenantId,
    deploymentId,
    { status: 'awaiting_approval', task_token: input.task_token },
    now,
    ['running', 'awaiting_approval'],
  );
  if (waiting) {
    await publishEvent(
      'Approval Requested',
      eventDetail(await getDeployment(tenantId, deploymentId), {
        timeout_seconds: input.approval?.timeout_seconds,
      }),
      now,
    );
  }
}

// ── Acquire ─────────────────────────────────────────────────────────────────────────────────────

/**
 * Takes the lease for the plan's plugin. Taking over an expired lease inherits its holder's
 * half-done work, which is settled first (see {@link settleAbandoned}); then the plan is made again
 * against what is installed now, since only now can nothing else change it.
 */
export async function acquireStep(input: DeployState, now: Date): Promise<DeployState> {
  const { tenant_id: tenantId, deployment_id: deploymentId } = input;
  const deployment = await getDeployment(tenantId, deploymentId);
  const pluginId = pluginOf(deployment);
  const before = requirePlan(deployment);
  const leased = new Set<string>();
  await leaseEvery(tenantId, deploymentId, [pluginId, ...before.order], leased, now);
  await updateDeployment(tenantId, deploymentId, { status: 'running' }, now, [
    'running',
    'awaiting_approval',
  ]);
  const plan = await resolveDeploymentPlan(deployment, now);
  // What is installed may have changed since Resolve: lease what the plan needs now, too.
  await leaseEvery(tenantId, deploymentId, plan.order, leased, now);
  for (const other of leased) {
    if (other !== pluginId && !plan.order.includes(other)) await releaseLease(tenantId, other, deploymentId);
  }
  for (const step of plan.steps) {
    const earlier = before.steps.find((candidate) => candidate.plugin_id === step.plugin_id);
    if (
      earlier !== undefined &&
      step.from.revision !== earlier.from.revision &&
      step.to.unique_identifier !== null &&
      step.from.version !== null
    ) {
      // The plugin moved since Verify judged the downgrade rule: judge it again on the new facts.
      assertVerified([
        downgradeCheck({
          operation: deployment.operation,
          allowDowngrade: deployment.allow_downgrade,
          installedVersion: step.from.version,
          targetVersion: step.to.version ?? step.from.version,
        }),
      ]);
    }
  }
  await updateDeployment(tenantId, deploymentId, { plan }, now, OPEN);
  return input;
}

/**
 * Leases every plugin of the plan, all or nothing: when one is held by another deployment, the
 * leases this call took are given back before the conflict is thrown. Taking over an expired lease
 * settles its holder's half-done work on that plugin first.
 */
async function leaseEvery(
  tenantId: string,
  deploymentId: string,
  pluginIds: readonly string[],
  leased: Set<string>,
  now: Date,
): Promise<void> {
  const takenNow: string[] = [];
  try {
    for (const pluginId of new Set(pluginIds)) {
      if (leased.has(pluginId)) continue;
      const { previous } = await takeLease(
        tenantId,
        pluginId,
        { deployment_id: deploymentId, expires_at: leaseExpiry(now, LEASE_SECONDS), phase: 'acquired' },
        now,
      );
      leased.add(pluginId);
      if (previous?.deployment_id !== deploymentId) takenNow.push(pluginId);
      const inherited =
        previous?.deployment_id === deploymentId ? previous.inherited_from : previous?.deployment_id;
      if (inherited !== undefined) await settleAbandoned(tenantId, pluginId, inherited, deploymentId, now);
    }
  } catch (error) {
    for (const pluginId of takenNow) {
      await releaseLease(tenantId, pluginId, deploymentId);
      leased.delete(pluginId);
    }
    throw error;
  }
}

/**
 * A deployment's lease ran out without a Release (its run crashed or was aborted). Its plan tells
 * what it meant to do; the installation tells how far it got. Each plugin change is one
 * transaction, so the installation is fully old or fully new; what can be left half-done is the
 * rest: the runtime's desired state may lag the installation, the revision's outcome is open, and
 * the deployment still says running. Settle all three ("finish": a committed change is kept, but
 * marked unverified, since it never passed its probe), then mark the abandoned deployment failed.
 */
async function settleAbandoned(
  tenantId: string,
  pluginId: string,
  abandonedId: string,
  takenBy: string,
  now: Date,
): Promise<void> {
  const abandoned = await findDeployment(tenantId, abandonedId);
  const installation = await findInstallation(tenantId, pluginId);
  logger.warn('taking over an expired lease', {
    tenant_id: tenantId,
    plugin_id: pluginId,
    abandoned: abandonedId,
    taken_by: takenBy,
    abandoned_status: abandoned?.status,
  });
  if (installation !== undefined && installation.last_deployment_id === abandonedId) {
    await finalizeRevision(tenantId, pluginId, installation.revision, 'unverified', now);
    await syncDesiredState(tenantId, now, [pluginId]);
  }
  if (abandoned !== undefined && !FINAL_STATUSES.has(abandoned.status)) {
    const problem = new ConflictError(
      `The deployment stopped without finishing; its lease expired and deployment ${takenBy} took over. ` +
        (installation?.last_deployment_id === abandonedId
          ? `Its change (revision ${installation.revision}) had been applied and was kept, unverified.`
          : 'It had not changed the plugin.'),
    ).toProblem();
    if (await updateDeployment(tenantId, abandonedId, { status: 'failed', error: problem }, now, OPEN)) {
      await publishEvent(
        'Deployment Failed',
        eventDetail(abandoned, { status: 'failed', error: problem.detail }),
        now,
      );
    }
  }
}

// ── Snapshot ────────────────────────────────────────────────────────────────────────────────────

export function backupKey(tenantId: string, deploymentId: string): string {
  return `backups/${tenantId}/${deploymentId}.json`;
}

/** What was installed (and its sealed config) before the change; rewriting it on retry is harmless. */
export async function snapshotStep(input: DeployState, now: Date): Promise<DeployState> {
  let deployment = await getDeployment(input.tenant_id, input.deployment_id);
  // Dify daemon runtime: a change made behind pluginops' back fails here, or is adopted and re-planned.
  if (await checkRuntimeDrift(deployment, requirePlan(deployment).order, now)) {
    await updateDeployment(
      input.tenant_id,
      input.deployment_id,
      { plan: await resolveDeploymentPlan(deployment, now) },
      now,
      OPEN,
    );
    deployment = await getDeployment(input.tenant_id, input.deployment_id);
  }
  const plugins = [];
  for (const step of requirePlan(deployment).steps) {
    const installation = await findInstallation(input.tenant_id, step.plugin_id);
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
  await putJson(backupKey(input.tenant_id, input.deployment_id), {
    deployment_id: input.deployment_id,
    tenant_id: input.tenant_id,
    taken_at: now.toISOString(),
    plugins,
  });
  return input;
}

// ── Apply ───────────────────────────────────────────────────────────────────────────────────────

/** The config the new revision carries: the request's, a restored revision's, or the current one. */
async function configFor(
  deployment: Deployment,
  step: PlanStep,
  installation: StoredInstallation | undefined,
): Promise<{ sealed: string | null; digest: string | null }> {
  if (step.to.unique_identifier === null) return { sealed: null, digest: null };
  // A dependency keeps its own config; the request's config is for the target plugin.
  if (isDependencyStep(deployment, step)) {
    return { sealed: installation?.config_sealed ?? null, digest: installation?.config_digest ?? null };
  }
  if (deployment.has_config) {
    const sealed = await deploymentConfigSealed(deployment.tenant_id, deployment.deployment_id);
    const digest = deployment.config_digest ?? null;
    return { sealed: sealed ?? null, digest };
  }
  if (step.restore_revision !== undefined) {
    const restored = await findRevision(deployment.tenant_id, step.plugin_id, step.restore_revision);
    return { sealed: restored?.config_sealed ?? null, digest: restored?.config_digest ?? null };
  }
  return { sealed: installation?.config_sealed ?? null, digest: installation?.config_digest ?? null };
}

export async function applyStep(input: DeployState, now: Date): Promise<DeployState> {
  const deployment = await getDeployment(input.tenant_id, input.deployment_id);
  let changed = false;
  const touched: string[] = [];
  for (const step of requirePlan(deployment).steps) {
    if (step.action === 'keep') continue;
    touched.push(step.plugin_id);
    const installation = await findInstallation(input.tenant_id, step.plugin_id);
    const config = await configFor(deployment, step, installation);
    const result = await applyRevision({
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
    });
    changed = true;
    await publishEvent(
      'Installation Changed',
      {
        tenant_id: input.tenant_id,
        plugin_id: step.plugin_id,
        deployment_id: input.deployment_id,
        revision: result.revision,
        unique_identifier: step.to.unique_identifier,
        previous_unique_identifier: step.from.unique_identifier,
      },
      now,
    );
  }
  if (changed) await syncDesiredState(input.tenant_id, now, touched);
  return input;
}

/** The operation a step's revision records: a dependency is installed or upgraded for the target. */
function operationOf(deployment: Deployment, step: PlanStep): Deployment['operation'] {
  if (!isDependencyStep(deployment, step)) return deployment.operation;
  if (step.from.unique_identifier === null) return 'install';
  return deployment.operation === 'auto-upgrade' ? 'auto-upgrade' : 'upgrade';
}

/**
 * Writes the tenant's runtime desired state from its installation records (the truth). The
 * generation is derived from the revisions (it only grows), so a retry writes the same document.
 *
 * Leases are per plugin but the document is per tenant, so two deployments of different plugins
 * may sync at once. Two rules keep the last document the newest: never replace a document with a
 * higher generation, and after writing re-read the installations — if another deployment committed
 * meanwhile, sync again (its own sync may have read the document before ours landed).
 */
export async function syncDesiredState(
  tenantId: string,
  now: Date,
  pluginIds?: readonly string[],
): Promise<void> {
  // A Dify plugin daemon is told plugin by plugin (see dify-runtime.ts), not by a document.
  if (usesDifyDaemon()) return convergeDifyDaemon(tenantId, pluginIds);
  for (let attempt = 0; attempt < MAX_SYNC_ATTEMPTS; attempt += 1) {
    const installed = await listInstalledPlugins(tenantId);
    const generation = desiredStateGeneration(installed.map((item) => item.revision));
    // An unreadable (corrupt) document is simply replaced.
    const current = await runtimeHost()
      .readDesiredState(tenantId)
      .catch(() => undefined);
    if (current !== undefined && current.generation > generation) return;
    const plugins = installed
      .filter((item) => item.status === 'installed' && item.unique_identifier !== null)
      .map((item) => ({
        plugin_id: item.plugin_id,
        unique_identifier: item.unique_identifier as string,
        package_key: item.package_key as string,
        sha256: item.sha256 as string,
      }));
    await runtimeHost().writeDesiredState({
      tenant_id: tenantId,
      generation,
      updated_at: now.toISOString(),
      plugins,
    });
    const after = await listInstalledPlugins(tenantId);
    if (desiredStateGeneration(after.map((item) => item.revision)) === generation) return;
  }
  throw new TransientError(`The desired state of ${tenantId} kept changing while it was written; retrying.`);
}

/** Bound on re-syncs under concurrent commits; the task's own Retry takes over after that. */
const MAX_SYNC_ATTEMPTS = 5;

// ── Probe ───────────────────────────────────────────────────────────────────────────────────────

export async function probeStep(input: DeployState, _now: Date): Promise<DeployState> {
  const deployment = await getDeployment(input.tenant_id, input.deployment_id);
  for (const step of requirePlan(deployment).steps) {
    const result = await probeRuntime(input.tenant_id, step.plugin_id, step.to.unique_identifier);
    if (!result.ok) {
      throw new ProbeFailedError(probeProblem(`${step.plugin_id}: ${result.detail}`));
    }
  }
  return input;
}

// ── Release ─────────────────────────────────────────────────────────────────────────────────────

export async function releaseStep(input: DeployState, now: Date): Promise<DeployState> {
  const { tenant_id: tenantId, deployment_id: deploymentId } = input;
  const deployment = await getDeployment(tenantId, deploymentId);
  for (const step of requirePlan(deployment).steps) {
    const installation = await findInstallation(tenantId, step.plugin_id);
    if (installation?.last_deployment_id === deploymentId) {
      await finalizeRevision(tenantId, step.plugin_id, installation.revision, 'succeeded', now);
    }
    await releaseLease(tenantId, step.plugin_id, deploymentId);
  }
  // A probe that failed before it passed left an error behind; the deployment succeeded.
  if (await updateDeployment(tenantId, deploymentId, { status: 'succeeded', remove: ['error'] }, now, OPEN)) {
    await publishEvent('Deployment Succeeded', eventDetail(deployment, { status: 'succeeded' }), now);
  }
  return input;
}

// ── Rollback ────────────────────────────────────────────────────────────────────────────────────

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
export async function rollbackStep(
  input: DeployState,
  now: Date,
): Promise<DeployState & { rolled_back: boolean }> {
  const { tenant_id: tenantId, deployment_id: deploymentId } = input;
  const deployment = await getDeployment(tenantId, deploymentId);
  // Release failed after it had marked the deployment succeeded: a healthy change is not undone.
  if (deployment.status === 'succeeded') return { ...input, rolled_back: false };
  const problem = problemOf(deployment, input.error);
  let rolledBack = false;
  const restoredPlugins: string[] = [];
  // Dependents are restored before what they depend on: the reverse of the install order.
  for (const step of [...requirePlan(deployment).steps].reverse()) {
    const installation = await findInstallation(tenantId, step.plugin_id);
    if (installation === undefined || installation.last_deployment_id !== deploymentId) continue;
    const latest = await findRevision(tenantId, step.plugin_id, installation.revision);
    const alreadyRestored =
      latest?.operation === 'rollback' &&
      latest.deployment_id === deploymentId &&
      latest.revision > step.from.revision + 1;
    if (!alreadyRestored) {
      const previous =
        step.from.unique_identifier === null ? undefined : await requirePackage(step.from.unique_identifier);
      const previousRevision =
        step.from.revision > 0 ? await findRevision(tenantId, step.plugin_id, step.from.revision) : undefined;
      const result = await applyRevision({
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
      });
      await finalizeRevision(tenantId, step.plugin_id, installation.revision, 'failed', now);
      await publishEvent(
        'Installation Changed',
        {
          tenant_id: tenantId,
          plugin_id: step.plugin_id,
          deployment_id: deploymentId,
          revision: result.revision,
          unique_identifier: previous?.unique_identifier ?? null,
          previous_unique_identifier: installation.unique_identifier,
          rollback: true,
        },
        now,
      );
    }
    // The hold is on the build the deployment asked for; its dependencies stay upgradable.
    if (step.to.unique_identifier !== null && !isDependencyStep(deployment, step)) {
      await setHold(tenantId, step.plugin_id, {
        unique_identifier: step.to.unique_identifier,
        reason: `Deployment ${deploymentId} failed and was rolled back: ${problem.detail}`.slice(0, 1000),
        set_at: now.toISOString(),
        deployment_id: deploymentId,
      });
    }
    restoredPlugins.push(step.plugin_id);
    rolledBack = true;
  }
  await syncDesiredState(tenantId, now, restoredPlugins);
  const probes: Record<string, string> = {};
  for (const step of requirePlan(deployment).steps.filter((s) => restoredPlugins.includes(s.plugin_id))) {
    const installation = await findInstallation(tenantId, step.plugin_id);
    const result = await probeRuntime(tenantId, step.plugin_id, step.from.unique_identifier);
    probes[step.plugin_id] = result.detail;
    if (installation !== undefined) {
      await finalizeRevision(
        tenantId,
        step.plugin_id,
        installation.revision,
        result.ok ? 'restored' : 'unverified',
        now,
      );
    }
  }
  for (const step of requirePlan(deployment).steps)
    await releaseLease(tenantId, step.plugin_id, deploymentId);
  const status: DeploymentStatus = rolledBack ? 'rolled_back' : 'failed';
  if (await updateDeployment(tenantId, deploymentId, { status, error: problem }, now, OPEN)) {
    if (rolledBack) {
      await publishEvent(
        'Deployment Rolled Back',
        eventDetail(deployment, {
          status,
          error: problem.detail,
          held_unique_identifier: targetStep(deployment)?.to.unique_identifier ?? null,
          restored_plugins: restoredPlugins,
          probes,
        }),
        now,
      );
    }
  }
  return { ...input, rolled_back: rolledBack };
}

// ── Alert ───────────────────────────────────────────────────────────────────────────────────────

/** The alert after a failure past Apply: one `Deployment Failed` event, whatever the rollback did. */
export async function alertStep(input: DeployState, now: Date): Promise<DeployState> {
  const { tenant_id: tenantId, deployment_id: deploymentId } = input;
  let deployment = await getDeployment(tenantId, deploymentId);
  if (deployment.status === 'succeeded') return input;
  if (!FINAL_STATUSES.has(deployment.status)) {
    // Rollback itself failed: the deployment is failed and the plugin may need a human.
    const problem = problemOf(deployment, input.error);
    await updateDeployment(
      tenantId,
      deploymentId,
      {
        status: 'failed',
        error: { ...problem, detail: `${problem.detail} The automatic rollback did not complete.` },
      },
      now,
      OPEN,
    );
    deployment = await getDeployment(tenantId, deploymentId);
  }
  await publishEvent(
    'Deployment Failed',
    eventDetail(deployment, { status: deployment.status, error: deployment.error?.detail, alert: true }),
    now,
  );
  return input;
}

// ── MarkFailed / MarkRejected ───────────────────────────────────────────────────────────────────

/**
 * A failure before Apply (or a rejection): nothing changed for the tenant. Record why, give the
 * lease (or the API's reservation) back, and tell the world.
 */
export async function markFailedStep(
  input: DeployState & { outcome?: 'failed' | 'rejected' },
  now: Date,
): Promise<DeployState> {
  const { tenant_id: tenantId, deployment_id: deploymentId } = input;
  const deployment = await getDeployment(tenantId, deploymentId);
  if (input.outcome === 'rejected') {
    const timedOut = input.error?.Error === 'States.Timeout';
    await updateDeployment(
      tenantId,
      deploymentId,
      {
        status: 'rejected',
        remove: ['task_token'],
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
    if (
      await updateDeployment(
        tenantId,
        deploymentId,
        { status: 'failed', error: problem, remove: ['task_token'] },
        now,
        OPEN,
      )
    ) {
      await publishEvent(
        'Deployment Failed',
        eventDetail(deployment, { status: 'failed', error: problem.detail }),
        now,
      );
    }
  }
  const pluginIds = new Set([pluginOf(deployment), ...(deployment.plan?.order ?? [])]);
  for (const pluginId of pluginIds) await releaseLease(tenantId, pluginId, deploymentId);
  return input;
}
