/**
 * Drift records (see `#core/runtime-drift.ts`): on the deployment that found it and on each
 * installation it concerns. A plugin installed in Dify behind pluginops' back may have no
 * installation item yet; one is created (not installed, revision 0) so the drift is visible.
 */
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Drift } from '#core/runtime-drift.ts';
import { documentClientInstance, mainTableName } from './client.ts';
import { keys } from './keys.ts';

/** Sets (or with null clears) the drift of one installation. */
export async function recordInstallationDrift(
  tenantId: string,
  pluginId: string,
  drift: (Drift & { detected_at: string; deployment_id?: string }) | null,
): Promise<void> {
  const client = documentClientInstance();
  if (drift === null) {
    await client
      .send(
        new UpdateCommand({
          TableName: mainTableName(),
          Key: keys.installation(tenantId, pluginId),
          UpdateExpression: 'REMOVE #drift',
          ConditionExpression: 'attribute_exists(PK)',
          ExpressionAttributeNames: { '#drift': 'drift' },
        }),
      )
      .catch((error: unknown) => {
        if ((error as Error).name !== 'ConditionalCheckFailedException') throw error;
      });
    return;
  }
  await client.send(
    new UpdateCommand({
      TableName: mainTableName(),
      Key: keys.installation(tenantId, pluginId),
      // The if_not_exists defaults describe a plugin pluginops never installed.
      UpdateExpression:
        'SET #drift = :drift, #type = if_not_exists(#type, :type), tenant_id = :tenant, plugin_id = :plugin, ' +
        'unique_identifier = if_not_exists(unique_identifier, :null), version = if_not_exists(version, :null), ' +
        '#revision = if_not_exists(#revision, :zero), #status = if_not_exists(#status, :uninstalled), ' +
        'package_key = if_not_exists(package_key, :null), sha256 = if_not_exists(sha256, :null), ' +
        'updated_at = if_not_exists(updated_at, :now)',
      ExpressionAttributeNames: {
        '#drift': 'drift',
        '#type': 'type',
        '#revision': 'revision',
        '#status': 'status',
      },
      ExpressionAttributeValues: {
        ':drift': drift,
        ':type': 'installation',
        ':tenant': tenantId,
        ':plugin': pluginId,
        ':null': null,
        ':zero': 0,
        ':uninstalled': 'uninstalled',
        ':now': drift.detected_at,
      },
    }),
  );
}

/** Records the drift a deployment found at Snapshot. */
export async function recordDeploymentDrift(
  tenantId: string,
  deploymentId: string,
  drift: Drift[],
): Promise<void> {
  await documentClientInstance().send(
    new UpdateCommand({
      TableName: mainTableName(),
      Key: keys.deployment(tenantId, deploymentId),
      UpdateExpression: 'SET #drift = :drift',
      ConditionExpression: 'attribute_exists(PK)',
      ExpressionAttributeNames: { '#drift': 'drift' },
      ExpressionAttributeValues: { ':drift': drift },
    }),
  );
}

/** Marks an adopted installation whose package is not in the catalog (or clears the mark). */
export async function markCatalogPresence(
  tenantId: string,
  pluginId: string,
  inCatalog: boolean,
): Promise<void> {
  await documentClientInstance().send(
    new UpdateCommand({
      TableName: mainTableName(),
      Key: keys.installation(tenantId, pluginId),
      UpdateExpression: inCatalog ? 'REMOVE #mark' : 'SET #mark = :true',
      ConditionExpression: 'attribute_exists(PK)',
      ExpressionAttributeNames: { '#mark': 'not_in_catalog' },
      ...(inCatalog ? {} : { ExpressionAttributeValues: { ':true': true } }),
    }),
  );
}
