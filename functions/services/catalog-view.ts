/**
 * The catalog as one caller sees it (docs/security.md, "What a tenant trusts"): a tenant key reads
 * operator-published, promoted and its own builds only; another tenant's private build answers
 * exactly like a missing one. Operator keys (`tenantId === null`) see everything.
 */
import { findPackage, listPlugins, listPluginVersions } from '#adapters/dynamo/packages.ts';
import type { PackageRecord, PluginSummary } from '#core/catalog.ts';
import { NotFoundError } from '#core/errors.ts';
import type { Page } from '#core/page.ts';
import { isVisibleTo, visibleTo } from '#core/trust.ts';

export async function findVisiblePackage(
  uniqueIdentifier: string,
  tenantId: string | null,
): Promise<PackageRecord> {
  const record = await findPackage(uniqueIdentifier);
  if (record === undefined || !isVisibleTo(record, tenantId)) {
    throw new NotFoundError(`Package ${uniqueIdentifier} is not in the catalog.`);
  }
  return record;
}

/** One page of versions, filtered: a page may hold fewer than `limit` items and still have a next. */
export async function listVisibleVersions(
  pluginId: string,
  tenantId: string | null,
  limit: number,
  cursor: string | undefined,
): Promise<Page<PackageRecord>> {
  const page = await listPluginVersions(pluginId, limit, cursor);
  return { items: visibleTo(page.items, tenantId), next_cursor: page.next_cursor };
}

const ALL_VERSIONS_PAGE = 100;

async function visibleVersionsOf(pluginId: string, tenantId: string): Promise<PackageRecord[]> {
  const found: PackageRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await listPluginVersions(pluginId, ALL_VERSIONS_PAGE, cursor);
    found.push(...visibleTo(page.items, tenantId));
    cursor = page.next_cursor ?? undefined;
  } while (cursor !== undefined);
  return found;
}

/**
 * Catalog search. For a tenant the summary is recomputed from the versions it sees (newest first,
 * the same order `latest_version` follows), and a plugin it sees no build of is left out.
 */
export async function listVisiblePlugins(
  query: Parameters<typeof listPlugins>[0],
  tenantId: string | null,
): Promise<Page<PluginSummary>> {
  const page = await listPlugins(query);
  if (tenantId === null) return page;
  const items: PluginSummary[] = [];
  for (const summary of page.items) {
    const versions = await visibleVersionsOf(summary.plugin_id, tenantId);
    if (versions.length === 0) continue;
    items.push({
      plugin_id: summary.plugin_id,
      latest_version: versions[0]?.version ?? null,
      versions_count: versions.length,
    });
  }
  return { items, next_cursor: page.next_cursor };
}
