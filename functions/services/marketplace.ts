/**
 * The Dify marketplace protocol as a use case: who may read (a marketplace token, or anyone when
 * the stage makes the marketplace public), which build answers for a plugin or a version (the
 * rule in `core/marketplace/latest.ts`), and the answers Dify's client expects.
 */
import { findDeprecation, isMarketplaceTokenValid } from '#adapters/dynamo/marketplace.ts';
import { findPackage, listPlugins, listPluginVersions } from '#adapters/dynamo/packages.ts';
import { getObjectBytes } from '#adapters/s3/object-bytes.ts';
import type { PackageRecord } from '#core/catalog.ts';
import { NotFoundError } from '#core/errors.ts';
import {
  type MarketplacePluginDeclaration,
  type MarketplacePluginSnapshot,
  toMarketplaceDeclaration,
  toMarketplaceSnapshot,
} from '#core/marketplace/declaration.ts';
import { latestBuild, preferredBuild } from '#core/marketplace/latest.ts';
import { isMarketplaceTokenShape, PUBLIC_MARKETPLACE_SEGMENT } from '#core/marketplace/token.ts';
import { readArchive } from '#core/package/archive.ts';
import { byteSourceFromBuffer } from '#core/package/byte-source.ts';
import { resolvePackageLimits } from '#core/package/limits.ts';
import { getConfig } from '#shared/config.ts';

const PAGE = 100;
/** Plugin ids per batch request; Dify asks for the plugins one tenant has installed. */
export const MAX_BATCH_PLUGIN_IDS = 256;
const PLUGIN_ID = /^[a-z0-9_-]{1,64}\/[a-z0-9_-]{1,128}$/;

/**
 * Lets the request through, or answers 404 as if nothing existed: a missing, unknown or revoked
 * token reveals neither the catalog nor that the marketplace exists.
 */
export async function authorizeMarketplace(token: string): Promise<void> {
  if (token === PUBLIC_MARKETPLACE_SEGMENT && getConfig().marketplacePublic) return;
  if (isMarketplaceTokenShape(token) && (await isMarketplaceTokenValid(token))) return;
  throw new NotFoundError('Nothing is here.');
}

/** Every catalogued build of a plugin. */
export async function listBuilds(pluginId: string): Promise<PackageRecord[]> {
  const builds: PackageRecord[] = [];
  let cursor: string | undefined;
  do {
    const page = await listPluginVersions(pluginId, PAGE, cursor);
    builds.push(...page.items);
    cursor = page.next_cursor ?? undefined;
  } while (cursor !== undefined);
  return builds;
}

export async function findLatestBuild(pluginId: string): Promise<PackageRecord | undefined> {
  return latestBuild(await listBuilds(pluginId));
}

/** `POST api/v1/plugins/batch`: one declaration per known plugin id; unknown ids are absent. */
export async function batchDeclarations(
  pluginIds: readonly string[],
  baseUrl: string,
): Promise<MarketplacePluginDeclaration[]> {
  const wanted = [...new Set(pluginIds)].filter((id) => PLUGIN_ID.test(id));
  const found = await Promise.all(
    wanted.map(async (pluginId) => {
      const [latest, deprecation] = await Promise.all([findLatestBuild(pluginId), findDeprecation(pluginId)]);
      return latest === undefined ? undefined : toMarketplaceDeclaration(latest, deprecation, baseUrl);
    }),
  );
  return found.filter((item) => item !== undefined);
}

/** `GET api/v1/dist/plugins/manifest.json`: the latest build of every plugin. */
export async function manifestSnapshot(baseUrl: string): Promise<MarketplacePluginSnapshot[]> {
  const pluginIds: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await listPlugins({ limit: PAGE, cursor });
    pluginIds.push(...page.items.map((item) => item.plugin_id));
    cursor = page.next_cursor ?? undefined;
  } while (cursor !== undefined);
  const latest = await Promise.all(pluginIds.map((pluginId) => findLatestBuild(pluginId)));
  return latest.flatMap((record) => (record === undefined ? [] : [toMarketplaceSnapshot(record, baseUrl)]));
}

/** The build a download URL names: by unique identifier, or by version (the preferred build). */
export async function resolveDownload(
  target: { uniqueIdentifier: string } | { pluginId: string; version: string },
): Promise<PackageRecord> {
  if ('uniqueIdentifier' in target) {
    const record = await findPackage(target.uniqueIdentifier);
    if (record === undefined)
      throw new NotFoundError(`Package ${target.uniqueIdentifier} is not in the catalog.`);
    return record;
  }
  const record = preferredBuild(await listBuilds(target.pluginId), target.version);
  if (record === undefined)
    throw new NotFoundError(`${target.pluginId} ${target.version} is not in the catalog.`);
  return record;
}

export function packageBytes(record: PackageRecord): Promise<Buffer> {
  return getObjectBytes(record.storage_key);
}

const ICON_TYPES: Record<string, string> = {
  svg: 'image/svg+xml',
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
};

/** The icon of the plugin's latest build, from its `_assets/`. */
export async function pluginIcon(pluginId: string): Promise<{ bytes: Buffer; contentType: string }> {
  const latest = await findLatestBuild(pluginId);
  const icon = (latest?.manifest as { icon?: unknown } | undefined)?.icon;
  if (latest === undefined || typeof icon !== 'string') throw new NotFoundError(`${pluginId} has no icon.`);
  const path = `_assets/${icon}`;
  const archive = await readArchive(byteSourceFromBuffer(await packageBytes(latest)), {
    limits: resolvePackageLimits(),
    collect: (name) => name === path,
  });
  const bytes = archive.entries.find((entry) => entry.name === path)?.content;
  if (bytes === undefined) throw new NotFoundError(`${pluginId} has no icon.`);
  const extension = icon.split('.').pop()?.toLowerCase() ?? '';
  return { bytes, contentType: ICON_TYPES[extension] ?? 'application/octet-stream' };
}
