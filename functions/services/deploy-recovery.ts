/**
 * The recovery pass: interrupted work settles by itself. A deployment stays open (pending,
 * running, awaiting approval) only while its workflow execution runs; when the execution is gone
 * — the local stack was killed, an execution was aborted or failed outside every Catch, the API
 * crashed between storing a deployment and starting its run — nothing would ever finish it, and
 * its lease or reservation would block the plugin. The pass finds such deployments and runs the
 * state machine's own failure path on them:
 * - nothing applied yet → MarkFailed (the reservation or lease is given back);
 * - a change applied → Rollback (previous build restored, probed, held) then Alert.
 * The steps are the workflow's (deploy-workflow.ts), so a settled deployment looks exactly like
 * one that failed in its run: same records, same events, same holds.
 *
 * It runs at start-up and every minute locally (local/scheduler.ts), every 5 minutes on AWS
 * (an EventBridge rule → functions/events/recover.ts). A deployment is left alone while its
 * execution runs, and for `graceSeconds` after its last change (the API stores a deployment just
 * before it starts the run). Bound: an interrupted deployment is terminal at most
 * `graceSeconds` + one pass interval after it stopped.
 */
import type { Deployment, DeploymentStep } from '#core/deploy/model.ts';
import { FINAL_STATUSES } from '#core/deploy/model.ts';
import type { DeployPorts } from '#core/deploy/ports.ts';
import { ConflictError } from '#core/errors.ts';
import { deployTask } from './deploy-task.ts';
import type { DeploySteps } from './deploy-workflow.ts';

export interface RecoveryPorts {
  /** Every open deployment (pending, running, awaiting approval) of the stage. */
  listOpenDeployments(): Promise<Deployment[]>;
  /** Whether the deployment's workflow execution still runs. */
  executionRunning(deploymentId: string): Promise<boolean>;
  deploy: DeployPorts;
  steps: DeploySteps;
}

export interface RecoveryOptions {
  /** A deployment changed more recently than this is left for the next pass. Default 60. */
  graceSeconds?: number;
}

export interface RecoverySummary {
  checked: number;
  settled: Array<{
    tenant_id: string;
    deployment_id: string;
    path: 'mark-failed' | 'rollback';
    status: string;
  }>;
}

export const RECOVERY_GRACE_SECONDS = 60;

export async function recoverDeployments(
  ports: RecoveryPorts,
  now: Date,
  options: RecoveryOptions = {},
): Promise<RecoverySummary> {
  const grace = (options.graceSeconds ?? RECOVERY_GRACE_SECONDS) * 1000;
  const open = await ports.listOpenDeployments();
  const summary: RecoverySummary = { checked: open.length, settled: [] };
  for (const deployment of open) {
    if (FINAL_STATUSES.has(deployment.status)) continue;
    if (now.getTime() - Date.parse(deployment.updated_at) < grace) continue;
    if (await ports.executionRunning(deployment.deployment_id)) continue;
    summary.settled.push(await settle(ports, deployment, now));
  }
  return summary;
}

/** Runs the failure path of the state machine for one deployment whose run is gone. */
async function settle(
  ports: RecoveryPorts,
  deployment: Deployment,
  now: Date,
): Promise<RecoverySummary['settled'][number]> {
  const { tenant_id: tenantId, deployment_id: deploymentId } = deployment;
  const problem = new ConflictError(
    `The deployment's workflow stopped (${deployment.status}, last change ${deployment.updated_at}) and will not continue; the recovery pass settled it.`,
  ).toProblem();
  // Steps shown as running never ended: they end here, failed with the reason.
  const interrupted: DeploymentStep[] = deployment.steps
    .filter((step) => step.status === 'running')
    .map((step) => ({ ...step, status: 'failed', ended_at: now.toISOString(), error: problem }));
  await ports.deploy.deployments.update(tenantId, deploymentId, { error: problem, steps: interrupted }, now, [
    'pending',
    'running',
    'awaiting_approval',
  ]);
  const applied = await appliedByDeployment(ports.deploy, deployment);
  const input = {
    tenant_id: tenantId,
    deployment_id: deploymentId,
    error: { Error: 'Interrupted', Cause: problem.detail },
  };
  const tasks = () => ports.deploy;
  if (applied) {
    await deployTask('Rollback', ports.steps.rollback, tasks)(input).catch(() => undefined);
    await deployTask('Alert', ports.steps.alert, tasks)(input);
  } else {
    await deployTask('MarkFailed', ports.steps.markFailed, tasks)({ ...input, outcome: 'failed' as const });
  }
  const after = await ports.deploy.deployments.find(tenantId, deploymentId);
  return {
    tenant_id: tenantId,
    deployment_id: deploymentId,
    path: applied ? 'rollback' : 'mark-failed',
    status: after?.status ?? 'unknown',
  };
}

/** Whether any plugin of the deployment carries a revision it applied. */
async function appliedByDeployment(ports: DeployPorts, deployment: Deployment): Promise<boolean> {
  for (const step of deployment.plan?.steps ?? []) {
    const installation = await ports.installations.find(deployment.tenant_id, step.plugin_id);
    if (installation?.last_deployment_id === deployment.deployment_id) return true;
  }
  return false;
}
