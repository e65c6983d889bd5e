/**
 * Deployment use-cases behind the API and the drop folder: start a deployment (fail fast on what
 * can be known now, reserve the plugin, start the workflow named by the deployment id), and the
 * approval decisions that answer the workflow's task token.
 */
import { ulid } from 'ulid';
import {
  approvalTaskToken,
  createDeployment,
  getDeployment,
  recordStep,
  transitionDeployment,
  updateDeployment,
} from '#adapters/dynamo/deployments.ts';
import {
  findInstallation,
  listInstalledPlugins,
  releaseLease,
  takeLease,
} from '#adapters/dynamo/installations.ts';
import { workflowEngine } from '#adapters/workflow.ts';
import { getConfig } from '#config/runtime-config.ts';
import type { Caller } from '#core/caller.ts';
import { configDigest, type PluginConfig, sealConfig } from '#core/deploy/config-seal.ts';
import { LeaseHeldError } from '#core/deploy/errors.ts';
import type { Deployment, DeploymentOperation, DeploymentPlan } from '#core/deploy/model.ts';
import { leaseExpiry, leaseState, RESERVATION_GRACE_SECONDS } from '#core/deploy/plan.ts';
import type { PlanRequest, StoredInstallation } from '#core/deploy/ports.ts';
import { ConflictError, ProblemError, toProblem, ValidationError } from '#core/errors.ts';
import { domainEvent } from '#core/events.ts';
import { parseUniqueIdentifier } from '#core/unique-identifier.ts';
import { normalizeDifyRange } from '#core/version.ts';
import { assertNoDependents } from './dependencies.ts';
import { configSealingKey } from './deploy-config.ts';
import { planDeployment } from './deploy-plan.ts';

export interface DeploymentRequest {
  operation: DeploymentOperation;
  unique_identifier?: string | undefined;
  plugin_id?: string | undefined;
  /** install/upgrade by `plugin_id`: the range to choose the build in (default: any release). */
  version?: string | undefined;
  to_revision?: number | undefined;
  expected_current?: string | null | undefined;
  allow_downgrade?: boolean | undefined;
  config?: PluginConfig | undefined;
  approval_timeout_seconds?: number | undefined;
  /** uninstall: proceed although installed plugins depend on this one. */
  force?: boolean | undefined;
}

export interface StartOptions {
  /**
   * The requester may publish (`packages:write`, or the system itself): Resolve may then fetch
   * missing dependencies from their sources. Default false.
   */
  mayFetch?: boolean;
}

/** How long an approval may wait when the request does not say (`PLUGINOPS_APPROVAL_TIMEOUT_SECONDS`). */
export function defaultApprovalTimeoutSeconds(): number {
  return getConfig().approvalTimeoutSeconds;
}

export function actorOf(caller: Pick<Caller, 'keyId'> | { system: string }): string {
  return 'system' in caller ? caller.system : `key:${caller.keyId}`;
}

/** The plugin a request is about. */
function pluginIdOf(request: DeploymentRequest): string {
  if (request.unique_identifier !== undefined) {
    const pluginId = parseUniqueIdentifier(request.unique_identifier).pluginId;
    if (request.plugin_id !== undefined && request.plugin_id !== pluginId) {
      throw new ValidationError(`${request.unique_identifier} is not a version of ${request.plugin_id}.`, [
        { path: 'body.plugin_id', message: 'does not match unique_identifier' },
      ]);
    }
    return pluginId;
  }
  if (request.plugin_id === undefined) throw new Error('validated requests name a plugin');
  if (request.version !== undefined) {
    try {
      normalizeDifyRange(request.version);
    } catch {
      throw new ValidationError(`"${request.version.slice(0, 80)}" is not a version range.`, [
        { path: 'body.version', message: 'must be a version or a range such as ^1.2 or >=1.0.0 <2.0.0' },
      ]);
    }
  }
  return request.plugin_id;
}

/**
 * Starts a deployment and returns it (status `pending`, with the plan as it would be made now).
 * Everything that can be refused now is refused now: a package not in the catalog (404), no build
 * in the requested range, `expected_current` not matching, upgrading or uninstalling what is not
 * installed, nothing to roll back to (409/422), a plugin another deployment holds (409). The
 * plugin is then reserved for this deployment with a conditional write, so of simultaneous
 * requests exactly one gets through. The plan shown is made by the same planner as Resolve's but
 * never fetches; Resolve makes the plan the run carries out (and may differ if the catalog moved).
 * The deployment id is the execution name: a repeated start of the same deployment is the same
 * execution.
 */
export async function startDeployment(
  tenantId: string,
  actor: string,
  request: DeploymentRequest,
  now: Date,
  options: StartOptions = {},
): Promise<Deployment> {
  const pluginId = pluginIdOf(request);
  const deploymentId = ulid(now.getTime());
  const installed = await listInstalledPlugins(tenantId);
  const installation = installed.find((item) => item.plugin_id === pluginId);
  const lease = leaseState(installation?.lock, deploymentId, now);
  if (lease === 'held' && installation?.lock !== undefined) {
    throw new LeaseHeldError(pluginId, installation.lock.deployment_id, installation.lock.expires_at);
  }
  const hasConfig = request.config !== undefined;
  const target = {
    plugin_id: pluginId,
    ...(request.unique_identifier === undefined ? {} : { unique_identifier: request.unique_identifier }),
    ...(request.unique_identifier === undefined && request.version !== undefined
      ? { version: request.version }
      : {}),
    ...(request.to_revision === undefined ? {} : { to_revision: request.to_revision }),
  };
  const expected =
    request.expected_current === undefined ? {} : { expected_current: request.expected_current };
  const mayFetch = options.mayFetch === true;
  const preview = await previewPlan(
    {
      tenant_id: tenantId,
      operation: request.operation,
      target,
      has_config: hasConfig,
      ...expected,
      ...(request.force === true ? { force: true } : {}),
    },
    installed,
    mayFetch,
    now,
  );
  if (request.operation === 'uninstall' && request.force !== true)
    await assertNoDependents(tenantId, pluginId);
  const approvalTimeout = request.approval_timeout_seconds ?? defaultApprovalTimeoutSeconds();
  const sealed = hasConfig ? sealConfig(request.config as PluginConfig, configSealingKey()) : undefined;

  await takeLease(
    tenantId,
    pluginId,
    {
      deployment_id: deploymentId,
      expires_at: leaseExpiry(now, approvalTimeout + RESERVATION_GRACE_SECONDS),
      phase: 'reserved',
      // An expired lease is taken over here; the workflow's Acquire settles its holder's work.
      ...(lease === 'expired' && installation?.lock !== undefined
        ? { inherited_from: installation.lock.deployment_id }
        : {}),
    },
    now,
  );
  try {
    const deployment = await createDeployment({
      deployment_id: deploymentId,
      tenant_id: tenantId,
      operation: request.operation,
      actor,
      target,
      status: 'pending',
      ...(preview === undefined ? {} : { plan: preview }),
      allow_downgrade: request.allow_downgrade ?? false,
      ...(request.force === true ? { force: true } : {}),
      may_fetch: mayFetch,
      has_config: hasConfig,
      approval_timeout_seconds: approvalTimeout,
      created_at: now.toISOString(),
      updated_at: now.toISOString(),
      ...expected,
      ...(sealed === undefined
        ? {}
        : { config_sealed: sealed, config_digest: configDigest(request.config as PluginConfig) }),
    });
    // The run starts with the deployment as stored (Resolve need not read it back).
    await workflowEngine().startExecution('deploy', deploymentId, {
      deployment_id: deploymentId,
      tenant_id: tenantId,
      deployment: { ...deployment, steps: [] },
    });
    return deployment;
  } catch (error) {
    // The workflow never started: nothing will release the reservation but us.
    const problem = toProblem(error);
    const failedAt = new Date();
    // A stored deployment that ends failed is announced like any other (no silent failures).
    await updateDeployment(
      tenantId,
      deploymentId,
      { status: 'failed', error: problem },
      failedAt,
      ['pending'],
      [
        domainEvent(
          'Deployment Failed',
          deploymentId,
          {
            tenant_id: tenantId,
            deployment_id: deploymentId,
            operation: request.operation,
            plugin_id: pluginId,
            status: 'failed',
            error: problem.detail,
          },
          failedAt,
        ),
      ],
    ).catch(() => false);
    await releaseLease(tenantId, pluginId, deploymentId).catch(() => undefined);
    throw error;
  }
}

/**
 * The plan as the planner makes it now, without fetching. When dependencies are missing and the
 * requester may fetch, Resolve will bring them: the request is accepted without a preview.
 */
async function previewPlan(
  request: PlanRequest,
  installed: readonly StoredInstallation[],
  mayFetch: boolean,
  now: Date,
): Promise<DeploymentPlan | undefined> {
  try {
    const { steps, order, basis } = await planDeployment(request, {
      fetchMissing: false,
      installations: installed,
      now,
    });
    return { steps, order, basis };
  } catch (error) {
    if (mayFetch && error instanceof ProblemError && error.slug === 'dependency-unsatisfiable')
      return undefined;
    throw error;
  }
}

export interface Decision {
  by: string;
  comment?: string | undefined;
}

async function pendingToken(tenantId: string, deploymentId: string): Promise<string> {
  const deployment = await getDeployment(tenantId, deploymentId);
  const token =
    deployment.status === 'awaiting_approval' ? await approvalTaskToken(tenantId, deploymentId) : undefined;
  if (token === undefined) {
    throw new ConflictError(`Deployment ${deploymentId} is ${deployment.status}, not awaiting approval.`, {
      extensions: { deployment_status: deployment.status },
    });
  }
  return token;
}

/**
 * Settles a deployment waiting for approval. The decision is claimed with a conditional status
 * change first, so two admins deciding at once get one success and one 409; only then is the
 * waiting workflow told (success resumes it, failure ends it as rejected).
 */
async function decideDeployment(
  tenantId: string,
  deploymentId: string,
  verdict: 'approved' | 'rejected',
  decision: Decision,
  now: Date,
): Promise<Deployment> {
  const token = await pendingToken(tenantId, deploymentId);
  await transitionDeployment(
    tenantId,
    deploymentId,
    {
      status: verdict === 'approved' ? 'running' : 'rejected',
      approval: { decision: verdict, by: decision.by, at: now.toISOString(), ...withComment(decision) },
      remove: ['task_token'],
    },
    now,
    ['awaiting_approval'],
  );
  const approved = verdict === 'approved';
  await recordStep(
    tenantId,
    deploymentId,
    'AwaitApproval',
    { status: approved ? 'succeeded' : 'failed' },
    now,
  );
  if (approved) {
    await workflowEngine().sendTaskSuccess(token, { decision: 'approved', by: decision.by });
  } else {
    await workflowEngine().sendTaskFailure(
      token,
      'DeploymentRejected',
      decision.comment ?? `Rejected by ${decision.by}.`,
    );
  }
  return getDeployment(tenantId, deploymentId);
}

export function approveDeployment(tenantId: string, deploymentId: string, decision: Decision, now: Date) {
  return decideDeployment(tenantId, deploymentId, 'approved', decision, now);
}

export function rejectDeployment(tenantId: string, deploymentId: string, decision: Decision, now: Date) {
  return decideDeployment(tenantId, deploymentId, 'rejected', decision, now);
}

function withComment(decision: Decision): { comment?: string } {
  return decision.comment === undefined ? {} : { comment: decision.comment };
}

/**
 * The drop folder's deploy: a package dropped under `drop/tenants/<t>/` is installed (or upgraded
 * to) on that tenant. Nothing starts when exactly that build is already installed. A duplicate
 * event for the same drop finds the deployment the first one started and reports it again.
 */
export async function deployDroppedPackage(
  tenantId: string,
  uniqueIdentifier: string,
  dropKey: string,
  now: Date,
): Promise<{ deployment_id: string } | undefined> {
  const pluginId = parseUniqueIdentifier(uniqueIdentifier).pluginId;
  const installation = await findInstallation(tenantId, pluginId);
  if (installation?.unique_identifier === uniqueIdentifier) return undefined;
  const actor = actorOf({ system: `drop:${dropKey}` });
  try {
    const deployment = await startDeployment(
      tenantId,
      actor,
      {
        operation: installation?.status === 'installed' ? 'upgrade' : 'install',
        unique_identifier: uniqueIdentifier,
      },
      now,
      // The system deploys what the drop folder published; it may bring missing dependencies.
      { mayFetch: true },
    );
    return { deployment_id: deployment.deployment_id };
  } catch (error) {
    if (error instanceof LeaseHeldError) {
      const holder = await getDeployment(tenantId, error.holder).catch(() => undefined);
      if (holder?.actor === actor && holder.target.unique_identifier === uniqueIdentifier) {
        return { deployment_id: holder.deployment_id };
      }
    }
    throw error;
  }
}
