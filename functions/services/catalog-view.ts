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

/** How many plugins' versions a tenant's catalog page reads at once. */
const VERSION_READS_IN_FLIGHT = 8;

/**
 * Catalog search. For a tenant the summary is recomputed from the versions it sees (newest first,
 * the same order `latest_version` follows), and a plugin it sees no build of is left out. The
 * page's plugins are read a few at a time rather than one after another; the order is the page's.
 */
export async function listVisiblePlugins(
  query: Parameters<typeof listPlugins>[0],
  tenantId: string | null,
): Promise<Page<PluginSummary>> {
  const page = await listPlugins(query);
  if (tenantId === null) return page;
  const summaries: Array<PluginSummary | undefined> = new Array(page.items.length);
  let next = 0;
  const worker = async () => {
    while (next < page.items.length) {
      const index = next++;
      const summary = page.items[index] as PluginSummary;
      const versions = await visibleVersionsOf(summary.plugin_id, tenantId);
      summaries[index] =
        versions.length === 0
          ? undefined
          : {
              plugin_id: summary.plugin_id,
              latest_version: versions[0]?.version ?? null,
              versions_count: versions.length,
            };
    }
  };
  await Promise.all(Array.from({ length: Math.min(VERSION_READS_IN_FLIGHT, page.items.length) }, worker));
  return {
    items: summaries.filter((summary): summary is PluginSummary => summary !== undefined),
    next_cursor: page.next_cursor,
  };
}
