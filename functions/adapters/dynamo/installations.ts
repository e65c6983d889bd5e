/**
 * Installations (tenant × plugin → what is installed, its lease and hold) and their immutable
 * revisions. The one write that changes what a tenant runs is {@link applyRevision}: installation
 * and new revision in a single transaction, conditioned on the revision the plan started from and
 * on the lease holder.
 */
import { GetCommand, QueryCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { outboxPut } from '#adapters/events.ts';
import { LeaseHeldError } from '#core/deploy/errors.ts';
import type { Hold, Lease, RevisionOutcome } from '#core/deploy/model.ts';
import type { ApplyRevisionInput, StoredInstallation, StoredRevision } from '#core/deploy/ports.ts';
import { ConflictError } from '#core/errors.ts';
import type { Page } from '#core/page.ts';
import { documentClientInstance, mainTableName } from './client.ts';
import { isConditionalFailure } from './conditions.ts';
import { timelineClauses } from './deployments.ts';
import { keys } from './keys.ts';
import { queryPrefixPage } from './query-page.ts';

export type { InstallationState, StoredInstallation, StoredRevision } from '#core/deploy/ports.ts';

const HIDDEN = ['PK', 'SK', 'type'] as const;

function strip<T>(item: Record<string, unknown>): T {
  const record = { ...item };
  for (const name of HIDDEN) delete record[name];
  return record as T;
}

export async function findInstallation(
  tenantId: string,
  pluginId: string,
): Promise<StoredInstallation | undefined> {
  const { Item } = await documentClientInstance().send(
    new GetCommand({
      TableName: mainTableName(),
      Key: keys.installation(tenantId, pluginId),
      ConsistentRead: true,
    }),
  );
  return Item === undefined ? undefined : strip<StoredInstallation>(Item);
}

/** Installed plugins and plugins with a hold (what the API lists). */
export async function listInstallations(
  tenantId: string,
  options: { limit: number; cursor?: string | undefined },
): Promise<Page<StoredInstallation>> {
  const page = await queryPrefixPage({
    partition: keys.installationsPartition(tenantId),
    scope: `installations:${tenantId}`,
    limit: options.limit,
    cursor: options.cursor,
    filter: {
      expression: '#status = :installed OR attribute_exists(#hold) OR attribute_exists(#drift)',
      names: { '#status': 'status', '#hold': 'hold', '#drift': 'drift' },
      values: { ':installed': 'installed' },
    },
  });
  return { items: page.items.map((item) => strip<StoredInstallation>(item)), next_cursor: page.next_cursor };
}

/** Every installed plugin of the tenant (the runtime desired state). */
export async function listInstalledPlugins(tenantId: string): Promise<StoredInstallation[]> {
  const partition = keys.installationsPartition(tenantId);
  const installed: StoredInstallation[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const result = await documentClientInstance().send(
      new QueryCommand({
        TableName: mainTableName(),
        KeyConditionExpression: 'PK = :pk AND begins_with(SK, :prefix)',
        ExpressionAttributeValues: { ':pk': partition.PK, ':prefix': partition.skPrefix },
        ConsistentRead: true,
        ExclusiveStartKey: start,
      }),
    );
    for (const item of result.Items ?? []) installed.push(strip<StoredInstallation>(item));
    start = result.LastEvaluatedKey;
  } while (start !== undefined);
  return installed;
}

/**
 * Takes the plugin's lease for `lease.deployment_id` (creating the installation item for a plugin
 * never installed). Timeline: free, or already ours, or the holder's lease has run out (a crashed
 * run) → ours; a valid lease of another deployment → {@link LeaseHeldError}. Returns the lease that
 * was there before, so a takeover can see whose half-done work it inherits.
 */
export async function takeLease(
  tenantId: string,
  pluginId: string,
  lease: Lease,
  now: Date,
): Promise<{ previous: Lease | undefined }> {
  try {
    const { Attributes } = await documentClientInstance().send(
      new UpdateCommand({
        TableName: mainTableName(),
        Key: keys.installation(tenantId, pluginId),
        UpdateExpression:
          'SET #lock = :lease, #type = :type, tenant_id = :tenant, plugin_id = :plugin, #revision = if_not_exists(#revision, :zero), #status = if_not_exists(#status, :uninstalled), unique_identifier = if_not_exists(unique_identifier, :null), version = if_not_exists(version, :null), package_key = if_not_exists(package_key, :null), sha256 = if_not_exists(sha256, :null), updated_at = if_not_exists(updated_at, :now)',
        ConditionExpression:
          'attribute_not_exists(#lock) OR #lock.deployment_id = :me OR #lock.expires_at < :now',
        ExpressionAttributeNames: {
          '#lock': 'lock',
          '#type': 'type',
          '#revision': 'revision',
          '#status': 'status',
        },
        ExpressionAttributeValues: {
          ':lease': lease,
          ':type': 'installation',
          ':tenant': tenantId,
          ':plugin': pluginId,
          ':zero': 0,
          ':uninstalled': 'uninstalled',
          ':null': null,
          ':now': now.toISOString(),
          ':me': lease.deployment_id,
        },
        ReturnValues: 'UPDATED_OLD',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }),
    );
    return { previous: Attributes?.lock as Lease | undefined };
  } catch (error) {
    if (!isConditionalFailure(error)) throw error;
    const holder = (error as { Item?: Record<string, { M?: Record<string, { S?: string }> }> }).Item?.lock?.M;
    throw new LeaseHeldError(
      pluginId,
      holder?.deployment_id?.S ?? 'unknown',
      holder?.expires_at?.S ?? 'unknown',
    );
  }
}

/**
 * Release in one write: the deployment's revision closed as succeeded and its lease given back,
 * together. When either no longer holds (the revision was closed, the lease taken over), each is
 * done on its own, as {@link finalizeRevision} and {@link releaseLease} would.
 */
export async function closeAndRelease(
  tenantId: string,
  pluginId: string,
  deploymentId: string,
  revision: number | undefined,
  now: Date,
): Promise<void> {
  if (revision === undefined) {
    await releaseLease(tenantId, pluginId, deploymentId);
    return;
  }
  try {
    await documentClientInstance().send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Update: {
              TableName: mainTableName(),
              Key: keys.revision(tenantId, pluginId, revision),
              UpdateExpression: 'SET outcome = :outcome, finalized_at = :now',
              ConditionExpression: 'outcome = :pending',
              ExpressionAttributeValues: {
                ':outcome': 'succeeded',
                ':now': now.toISOString(),
                ':pending': 'pending',
              },
            },
          },
          {
            Update: {
              TableName: mainTableName(),
              Key: keys.installation(tenantId, pluginId),
              UpdateExpression: 'REMOVE #lock',
              ConditionExpression: '#lock.deployment_id = :me',
              ExpressionAttributeNames: { '#lock': 'lock' },
              ExpressionAttributeValues: { ':me': deploymentId },
            },
          },
        ],
      }),
    );
  } catch (error) {
    if (!isConditionalFailure(error)) throw error;
    await finalizeRevision(tenantId, pluginId, revision, 'succeeded', now);
    await releaseLease(tenantId, pluginId, deploymentId);
  }
}

/** Gives the lease back; a lease no longer ours (taken over) is left alone. */
export async function releaseLease(
  tenantId: string,
  pluginId: string,
  deploymentId: string,
): Promise<boolean> {
  try {
    await documentClientInstance().send(
      new UpdateCommand({
        TableName: mainTableName(),
        Key: keys.installation(tenantId, pluginId),
        UpdateExpression: 'REMOVE #lock',
        ConditionExpression: '#lock.deployment_id = :me',
        ExpressionAttributeNames: { '#lock': 'lock' },
        ExpressionAttributeValues: { ':me': deploymentId },
      }),
    );
    return true;
  } catch (error) {
    if (isConditionalFailure(error)) return false;
    throw error;
  }
}

/**
 * Writes the installation and its new revision `expectedRevision + 1` in one transaction, only if
 * the installation is still at `expectedRevision` and the deployment holds the lease. A retry of
 * the same write finds its own revision in place and changes nothing (`already-applied`); any other
 * mismatch means someone else moved the plugin (a {@link ConflictError}).
 */
export async function applyRevision(
  input: ApplyRevisionInput,
): Promise<{ result: 'applied' | 'already-applied'; revision: number }> {
  const next = input.expectedRevision + 1;
  const table = mainTableName();
  const { state } = input;
  const revisionItem: StoredRevision = {
    ...input.revision,
    tenant_id: input.tenantId,
    plugin_id: input.pluginId,
    revision: next,
  };
  if (state.config_sealed !== null) revisionItem.config_sealed = state.config_sealed;
  const configSet =
    state.config_sealed === null
      ? ' REMOVE config_sealed, config_digest'
      : ', config_sealed = :sealed, config_digest = :digest';
  try {
    await documentClientInstance().send(
      new TransactWriteCommand({
        TransactItems: [
          {
            Update: {
              TableName: table,
              Key: keys.installation(input.tenantId, input.pluginId),
              UpdateExpression: `SET unique_identifier = :uid, version = :version, #revision = :next, #status = :status, package_key = :pkey, sha256 = :sha, last_deployment_id = :me, updated_at = :now${configSet}`,
              // The plan was made against `expectedRevision` under our lease; anything else moved.
              ConditionExpression: '#revision = :expected AND #lock.deployment_id = :me',
              ExpressionAttributeNames: { '#revision': 'revision', '#status': 'status', '#lock': 'lock' },
              ExpressionAttributeValues: {
                ':uid': state.unique_identifier,
                ':version': state.version,
                ':next': next,
                ':status': state.unique_identifier === null ? 'uninstalled' : 'installed',
                ':pkey': state.package_key,
                ':sha': state.sha256,
                ':me': input.deploymentId,
                ':now': input.now.toISOString(),
                ':expected': input.expectedRevision,
                ...(state.config_sealed === null
                  ? {}
                  : { ':sealed': state.config_sealed, ':digest': state.config_digest }),
              },
            },
          },
          {
            Put: {
              TableName: table,
              Item: {
                ...keys.revision(input.tenantId, input.pluginId, next),
                type: 'revision',
                ...revisionItem,
              },
              ConditionExpression: 'attribute_not_exists(PK)',
            },
          },
          ...timelineUpdate(input),
          ...(input.events ?? []).map(outboxPut),
        ],
      }),
    );
    return { result: 'applied', revision: next };
  } catch (error) {
    if (!isConditionalFailure(error)) throw error;
    const existing = await findRevision(input.tenantId, input.pluginId, next);
    if (
      existing !== undefined &&
      existing.deployment_id === input.deploymentId &&
      existing.operation === input.revision.operation &&
      existing.unique_identifier === state.unique_identifier
    ) {
      return { result: 'already-applied', revision: next };
    }
    throw new ConflictError(
      `${input.pluginId} is no longer at revision ${input.expectedRevision} under deployment ${input.deploymentId}'s lease.`,
    );
  }
}

/** The deployment's timeline entries written with the revision (the step's own write). */
function timelineUpdate(input: ApplyRevisionInput): Array<{
  Update: {
    TableName: string;
    Key: Record<string, string>;
    UpdateExpression: string;
    ConditionExpression: string;
    ExpressionAttributeNames: Record<string, string>;
    ExpressionAttributeValues: Record<string, unknown>;
  };
}> {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const clauses = timelineClauses(input.steps ?? [], names, values);
  if (clauses.length === 0) return [];
  return [
    {
      Update: {
        TableName: mainTableName(),
        Key: { ...keys.deployment(input.tenantId, input.deploymentId) },
        UpdateExpression: `SET ${clauses.join(', ')}`,
        ConditionExpression: 'attribute_exists(PK)',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      },
    },
  ];
}

export async function findRevision(
  tenantId: string,
  pluginId: string,
  revision: number,
): Promise<StoredRevision | undefined> {
  const { Item } = await documentClientInstance().send(
    new GetCommand({
      TableName: mainTableName(),
      Key: keys.revision(tenantId, pluginId, revision),
      ConsistentRead: true,
    }),
  );
  return Item === undefined ? undefined : strip<StoredRevision>(Item);
}

/** Newest first. */
export async function listRevisions(
  tenantId: string,
  pluginId: string,
  options: { limit: number; cursor?: string | undefined },
): Promise<Page<StoredRevision>> {
  const page = await queryPrefixPage({
    partition: keys.revisionsPartition(tenantId, pluginId),
    scope: `revisions:${tenantId}:${pluginId}`,
    limit: options.limit,
    cursor: options.cursor,
    newestFirst: true,
  });
  return { items: page.items.map((item) => strip<StoredRevision>(item)), next_cursor: page.next_cursor };
}

/**
 * Records how a revision turned out. Only the outcome of a `pending` revision changes (once); the
 * facts of the revision never do.
 */
export async function finalizeRevision(
  tenantId: string,
  pluginId: string,
  revision: number,
  outcome: Exclude<RevisionOutcome, 'pending'>,
  now: Date,
): Promise<boolean> {
  try {
    await documentClientInstance().send(
      new UpdateCommand({
        TableName: mainTableName(),
        Key: keys.revision(tenantId, pluginId, revision),
        UpdateExpression: 'SET outcome = :outcome, finalized_at = :now',
        ConditionExpression: 'outcome = :pending',
        ExpressionAttributeValues: { ':outcome': outcome, ':now': now.toISOString(), ':pending': 'pending' },
      }),
    );
    return true;
  } catch (error) {
    if (isConditionalFailure(error)) return false;
    throw error;
  }
}

export async function setHold(tenantId: string, pluginId: string, hold: Hold): Promise<void> {
  await documentClientInstance().send(
    new UpdateCommand({
      TableName: mainTableName(),
      Key: keys.installation(tenantId, pluginId),
      UpdateExpression: 'SET #hold = :hold',
      ConditionExpression: 'attribute_exists(PK)',
      ExpressionAttributeNames: { '#hold': 'hold' },
      ExpressionAttributeValues: { ':hold': hold },
    }),
  );
}

/** Returns false when there was no hold. */
export async function clearHold(tenantId: string, pluginId: string): Promise<boolean> {
  try {
    await documentClientInstance().send(
      new UpdateCommand({
        TableName: mainTableName(),
        Key: keys.installation(tenantId, pluginId),
        UpdateExpression: 'REMOVE #hold',
        ConditionExpression: 'attribute_exists(#hold)',
        ExpressionAttributeNames: { '#hold': 'hold' },
      }),
    );
    return true;
  } catch (error) {
    if (isConditionalFailure(error)) return false;
    throw error;
  }
}
