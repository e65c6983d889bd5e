import type { Page } from '#core/page.ts';
import { keys } from './keys.ts';
import { queryIndexPage, queryPrefixPage } from './query-page.ts';
import type { Tenant } from './tenants.ts';

export interface KeySummary {
  key_id: string;
  tenant_id: string | null;
  scopes: string[];
  description: string | null;
  created_at: string;
  revoked_at: string | null;
}

/** Tenants in id order, one page at a time. */
export async function listTenants(limit: number, cursor: string | undefined): Promise<Page<Tenant>> {
  const partition = keys.tenantsPartition();
  const page = await queryIndexPage({
    partition: { index: partition.index, attribute: 'GSI1PK', value: partition.GSI1PK },
    scope: 'tenants',
    limit,
    cursor,
  });
  return {
    items: page.items.map((item) => ({
      tenant_id: item.tenant_id as string,
      display_name: (item.display_name as string | null | undefined) ?? null,
      dify_tenant_id: (item.dify_tenant_id as string | null | undefined) ?? null,
      created_at: item.created_at as string,
    })),
    next_cursor: page.next_cursor,
  };
}

/** A tenant's keys (active and revoked) in key-id order. */
export async function listTenantKeys(
  tenantId: string,
  limit: number,
  cursor: string | undefined,
): Promise<Page<KeySummary>> {
  const page = await queryPrefixPage({
    partition: keys.ownedKeysPartition(tenantId),
    scope: `keys:${tenantId}`,
    limit,
    cursor,
  });
  return {
    items: page.items.map((item) => ({
      key_id: item.key_id as string,
      tenant_id: (item.tenant_id as string | null | undefined) ?? null,
      scopes: (item.scopes as string[] | undefined) ?? [],
      description: (item.description as string | null | undefined) ?? null,
      created_at: item.created_at as string,
      revoked_at: (item.revoked_at as string | undefined) ?? null,
    })),
    next_cursor: page.next_cursor,
  };
}
