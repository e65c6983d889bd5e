/** Tenants and their policies. */
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { ConflictError, NotFoundError } from '#core/errors.ts';
import type { TenantPolicy } from '#core/policy.ts';
import { documentClientInstance, mainTableName } from './client.ts';
import { putIfAbsent } from './conditions.ts';
import { keys } from './keys.ts';

export interface Tenant {
  tenant_id: string;
  display_name: string | null;
  /** The Dify tenant (workspace) id this tenant maps to in a Dify plugin daemon; null: none yet. */
  dify_tenant_id: string | null;
  created_at: string;
}

export async function createTenant(tenant: Tenant): Promise<Tenant> {
  // A tenant id is claimed once; a second create must not overwrite the first.
  const created = await putIfAbsent({
    ...keys.tenant(tenant.tenant_id),
    ...keys.tenantIndex(tenant.tenant_id),
    type: 'tenant',
    ...tenant,
  });
  if (!created) throw new ConflictError(`Tenant "${tenant.tenant_id}" already exists.`);
  return tenant;
}

export async function findTenant(tenantId: string): Promise<Tenant | undefined> {
  const { Item } = await documentClientInstance().send(
    new GetCommand({ TableName: mainTableName(), Key: keys.tenant(tenantId) }),
  );
  if (Item === undefined) return undefined;
  return {
    tenant_id: Item.tenant_id,
    display_name: Item.display_name ?? null,
    dify_tenant_id: Item.dify_tenant_id ?? null,
    created_at: Item.created_at,
  };
}

/** Changes the given fields of an existing tenant; `null` clears `dify_tenant_id`. */
export async function updateTenant(
  tenantId: string,
  changes: { display_name?: string; dify_tenant_id?: string | null },
): Promise<Tenant> {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const sets: string[] = [];
  for (const [field, value] of Object.entries(changes)) {
    if (value === undefined) continue;
    names[`#${field}`] = field;
    values[`:${field}`] = value;
    sets.push(`#${field} = :${field}`);
  }
  if (sets.length > 0) {
    try {
      await documentClientInstance().send(
        new UpdateCommand({
          TableName: mainTableName(),
          Key: keys.tenant(tenantId),
          UpdateExpression: `SET ${sets.join(', ')}`,
          ConditionExpression: 'attribute_exists(PK)',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      );
    } catch (error) {
      if ((error as Error).name === 'ConditionalCheckFailedException') {
        throw new NotFoundError(`Tenant "${tenantId}" does not exist.`);
      }
      throw error;
    }
  }
  return getTenant(tenantId);
}

export async function getTenant(tenantId: string): Promise<Tenant> {
  const tenant = await findTenant(tenantId);
  if (tenant === undefined) throw new NotFoundError(`Tenant "${tenantId}" does not exist.`);
  return tenant;
}

/** The tenant's own policy fields (not merged with stage defaults). */
export async function getStoredPolicy(tenantId: string): Promise<Partial<TenantPolicy>> {
  const { Item } = await documentClientInstance().send(
    new GetCommand({ TableName: mainTableName(), Key: keys.policy(tenantId) }),
  );
  return (Item?.policy as Partial<TenantPolicy> | undefined) ?? {};
}

export async function putStoredPolicy(
  tenantId: string,
  policy: Partial<TenantPolicy>,
  now: Date,
): Promise<void> {
  await documentClientInstance().send(
    new PutCommand({
      TableName: mainTableName(),
      Item: {
        ...keys.policy(tenantId),
        type: 'policy',
        tenant_id: tenantId,
        policy,
        updated_at: now.toISOString(),
      },
    }),
  );
}
