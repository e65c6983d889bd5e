/**
 * Deployments: one item per run of the deploy workflow, under the tenant's partition (newest first
 * by ULID), indexed by status on GSI2 for `?status=`. Steps are a map keyed by step name, so a
 * retried or re-entered step updates its own entry instead of appending; the approval task token is
 * stored on the item and never returned.
 */
import { GetCommand, PutCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { outboxPut } from '#adapters/events.ts';
import {
  type Deployment,
  type DeploymentStatus,
  type DeploymentStep,
  FINAL_STATUSES,
  type StepName,
} from '#core/deploy/model.ts';
import type { DeploymentChange } from '#core/deploy/ports.ts';
import { ConflictError, NotFoundError, type Problem } from '#core/errors.ts';
import type { DomainEvent } from '#core/events.ts';
import type { Page } from '#core/page.ts';
import { documentClientInstance, mainTableName } from './client.ts';
import { isConditionalFailure } from './conditions.ts';
import { keys } from './keys.ts';
import { queryIndexPage, queryPrefixPage } from './query-page.ts';

const HIDDEN = [
  'PK',
  'SK',
  'GSI1PK',
  'GSI1SK',
  'GSI2PK',
  'GSI2SK',
  'type',
  'task_token',
  'config_sealed',
] as const;

function toDeployment(item: Record<string, unknown>): Deployment {
  const record: Record<string, unknown> = { ...item };
  for (const name of HIDDEN) delete record[name];
  const steps = Object.values((item.steps as Record<string, DeploymentStep> | undefined) ?? {}).sort(
    (a, b) => (a.started_at < b.started_at ? -1 : a.started_at > b.started_at ? 1 : 0),
  );
  return { ...(record as unknown as Deployment), steps };
}

/** A new deployment plus what stays inside (sealed config). */
export interface NewDeployment extends Omit<Deployment, 'steps'> {
  config_sealed?: string;
}

/**
 * Stores a new deployment. The id is the execution name, so the same id twice is the same
 * deployment: a second put returns the first one unchanged.
 */
export async function createDeployment(deployment: NewDeployment): Promise<Deployment> {
  const item = {
    ...keys.deployment(deployment.tenant_id, deployment.deployment_id),
    ...keys.deploymentStatusIndex(deployment.tenant_id, deployment.status, deployment.deployment_id),
    ...(FINAL_STATUSES.has(deployment.status)
      ? {}
      : keys.openDeploymentIndex(deployment.tenant_id, deployment.deployment_id)),
    type: 'deployment',
    ...deployment,
    steps: {},
  };
  try {
    await documentClientInstance().send(
      new PutCommand({
        TableName: mainTableName(),
        Item: item,
        ConditionExpression: 'attribute_not_exists(PK)',
      }),
    );
  } catch (error) {
    if (!isConditionalFailure(error)) throw error;
    return getDeployment(deployment.tenant_id, deployment.deployment_id);
  }
  return toDeployment(item);
}

async function getItem(tenantId: string, deploymentId: string): Promise<Record<string, unknown> | undefined> {
  const { Item } = await documentClientInstance().send(
    new GetCommand({
      TableName: mainTableName(),
      Key: keys.deployment(tenantId, deploymentId),
      ConsistentRead: true,
    }),
  );
  return Item;
}

export async function findDeployment(
  tenantId: string,
  deploymentId: string,
): Promise<Deployment | undefined> {
  const item = await getItem(tenantId, deploymentId);
  return item === undefined ? undefined : toDeployment(item);
}

export async function getDeployment(tenantId: string, deploymentId: string): Promise<Deployment> {
  const deployment = await findDeployment(tenantId, deploymentId);
  if (deployment === undefined) throw new NotFoundError(`Deployment ${deploymentId} does not exist.`);
  return deployment;
}

/** The sealed config of a deployment's request, if it carried one. */
export async function deploymentConfigSealed(
  tenantId: string,
  deploymentId: string,
): Promise<string | undefined> {
  return (await getItem(tenantId, deploymentId))?.config_sealed as string | undefined;
}

export async function approvalTaskToken(tenantId: string, deploymentId: string): Promise<string | undefined> {
  return (await getItem(tenantId, deploymentId))?.task_token as string | undefined;
}

export async function listDeployments(
  tenantId: string,
  options: { status?: DeploymentStatus | undefined; limit: number; cursor?: string | undefined },
): Promise<Page<Deployment>> {
  const scope = `deployments:${tenantId}:${options.status ?? ''}`;
  if (options.status === undefined) {
    const page = await queryPrefixPage({
      partition: keys.deploymentsPartition(tenantId),
      scope,
      limit: options.limit,
      cursor: options.cursor,
      newestFirst: true,
    });
    return { items: page.items.map(toDeployment), next_cursor: page.next_cursor };
  }
  const byStatus = keys.deploymentsByStatusPartition(tenantId, options.status);
  const page = await queryIndexPage({
    partition: { index: byStatus.index, attribute: 'GSI2PK', value: byStatus.GSI2PK },
    scope,
    limit: options.limit,
    cursor: options.cursor,
    newestFirst: true,
  });
  return { items: page.items.map(toDeployment), next_cursor: page.next_cursor };
}

/**
 * Open deployments (pending, running, awaiting approval) of every tenant of the stage, from the
 * sparse GSI1 partition each deployment is in exactly while open: one query per page, however
 * many tenants the stage has (the recovery pass; it listed tenant × status before). Deployments
 * stored by a version before this index are not listed; no released stack has any.
 */
export async function listOpenDeployments(options: {
  limit: number;
  cursor?: string | undefined;
}): Promise<Page<Deployment>> {
  const partition = keys.openDeploymentsPartition();
  const page = await queryIndexPage({
    partition: { index: partition.index, attribute: 'GSI1PK', value: partition.GSI1PK },
    scope: 'deployments:open',
    limit: options.limit,
    cursor: options.cursor,
  });
  return { items: page.items.map(toDeployment), next_cursor: page.next_cursor };
}

export type { DeploymentChange } from '#core/deploy/ports.ts';

/** `SET` clauses that write timeline entries (each replaces its step's entry). */
export function timelineClauses(
  steps: readonly DeploymentStep[],
  names: Record<string, string>,
  values: Record<string, unknown>,
): string[] {
  if (steps.length === 0) return [];
  names['#steps'] = 'steps';
  // One entry per step name (the latest): a step that ran twice (a re-plan) keeps its last run.
  const latest = [...new Map(steps.map((step) => [step.name, step])).values()];
  return latest.map((step, index) => {
    names[`#step${index}`] = step.name;
    values[`:step${index}`] = step;
    return `#steps.#step${index} = :step${index}`;
  });
}

/**
 * Changes a deployment. With `onlyFrom`, the change applies only while the status is one of those
 * (final statuses are never left that way); returns false when the condition did not hold.
 * `events` are stored in the same transaction (the outbox, adapters/events.ts): the change and its
 * announcement happen together or not at all, so a retry that finds the status already changed
 * has nothing left to send.
 */
export async function updateDeployment(
  tenantId: string,
  deploymentId: string,
  change: DeploymentChange,
  now: Date,
  onlyFrom?: readonly DeploymentStatus[],
  events: readonly DomainEvent[] = [],
): Promise<boolean> {
  const names: Record<string, string> = { '#updated': 'updated_at' };
  const values: Record<string, unknown> = { ':now': now.toISOString() };
  const sets = ['#updated = :now'];
  const assign = (field: string, value: unknown) => {
    names[`#${field}`] = field;
    values[`:${field}`] = value;
    sets.push(`#${field} = :${field}`);
  };
  const removes: string[] = [];
  if (change.status !== undefined) {
    assign('status', change.status);
    assign('GSI2PK', keys.deploymentStatusIndex(tenantId, change.status, deploymentId).GSI2PK);
    // In the stage-wide index of open deployments exactly while open.
    if (FINAL_STATUSES.has(change.status)) removes.push('GSI1PK', 'GSI1SK');
    else
      for (const [name, value] of Object.entries(keys.openDeploymentIndex(tenantId, deploymentId)))
        assign(name, value);
  }
  if (change.plan !== undefined) assign('plan', change.plan);
  if (change.target !== undefined) assign('target', change.target);
  if (change.error !== undefined) assign('error', change.error);
  if (change.approval !== undefined) assign('approval', change.approval);
  if (change.task_token !== undefined) assign('task_token', change.task_token);
  if (change.drift !== undefined) assign('drift', change.drift);
  sets.push(...timelineClauses(change.steps ?? [], names, values));
  for (const field of change.remove ?? []) removes.push(field);
  const removeClauses = removes.map((field) => {
    names[`#r_${field}`] = field;
    return `#r_${field}`;
  });
  let condition = 'attribute_exists(PK)';
  if (onlyFrom !== undefined) {
    names['#status'] = 'status';
    const allowed = onlyFrom.map((status, index) => {
      values[`:from${index}`] = status;
      return `:from${index}`;
    });
    condition += ` AND #status IN (${allowed.join(', ')})`;
  }
  const update = {
    TableName: mainTableName(),
    Key: keys.deployment(tenantId, deploymentId),
    UpdateExpression: `SET ${sets.join(', ')}${removeClauses.length > 0 ? ` REMOVE ${removeClauses.join(', ')}` : ''}`,
    ConditionExpression: condition,
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  };
  try {
    if (events.length === 0) {
      await documentClientInstance().send(new UpdateCommand(update));
    } else {
      await documentClientInstance().send(
        new TransactWriteCommand({ TransactItems: [{ Update: update }, ...events.map(outboxPut)] }),
      );
    }
    return true;
  } catch (error) {
    if (isConditionalFailure(error)) return false;
    throw error;
  }
}

/** Like {@link updateDeployment}, but a status that does not allow the change is a conflict. */
export async function transitionDeployment(
  tenantId: string,
  deploymentId: string,
  change: DeploymentChange,
  now: Date,
  onlyFrom: readonly DeploymentStatus[],
): Promise<void> {
  if (!(await updateDeployment(tenantId, deploymentId, change, now, onlyFrom))) {
    const current = await getDeployment(tenantId, deploymentId);
    throw new ConflictError(
      `Deployment ${deploymentId} is ${current.status}; this needs it to be ${onlyFrom.join(' or ')}.`,
      { extensions: { deployment_status: current.status } },
    );
  }
}

/**
 * Marks a step started or ended: one write each. A step that starts again (a retry, a takeover)
 * replaces its entry, so the timeline shows the attempt that counted.
 */
export async function recordStep(
  tenantId: string,
  deploymentId: string,
  name: StepName,
  phase: { status: 'running' } | { status: 'succeeded' } | { status: 'failed'; error?: Problem | undefined },
  now: Date,
): Promise<void> {
  const at = now.toISOString();
  const names: Record<string, string> = { '#steps': 'steps', '#step': name, '#updated': 'updated_at' };
  const values: Record<string, unknown> = { ':at': at };
  let expression: string;
  if (phase.status === 'running') {
    values[':entry'] = { name, status: 'running', started_at: at } satisfies DeploymentStep;
    expression = 'SET #steps.#step = :entry, #updated = :at';
  } else {
    names['#status'] = 'status';
    values[':status'] = phase.status;
    expression = 'SET #steps.#step.#status = :status, #steps.#step.ended_at = :at, #updated = :at';
    if (phase.status === 'failed' && phase.error !== undefined) {
      names['#error'] = 'error';
      values[':error'] = phase.error;
      expression += ', #steps.#step.#error = :error';
    }
  }
  try {
    await documentClientInstance().send(
      new UpdateCommand({
        TableName: mainTableName(),
        Key: keys.deployment(tenantId, deploymentId),
        UpdateExpression: expression,
        // Ending a step that never started (a crash between) must not fail the task.
        ConditionExpression:
          phase.status === 'running' ? 'attribute_exists(PK)' : 'attribute_exists(#steps.#step)',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }),
    );
  } catch (error) {
    if (!isConditionalFailure(error)) throw error;
  }
}
