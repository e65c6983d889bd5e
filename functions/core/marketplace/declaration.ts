/**
 * What the Dify marketplace protocol answers, built from catalog records. The shapes follow Dify's
 * client models (langgenius/dify `api/core/plugin/entities/marketplace.py`):
 * `MarketplacePluginDeclaration` for `POST api/v1/plugins/batch` and `MarketplacePluginSnapshot`
 * for `GET api/v1/dist/plugins/manifest.json`.
 *
 * `tool`, `model` and `endpoint` are optional in Dify's model and are left out: Dify validates them
 * against its own provider entities, and one field that does not fit would make Dify's
 * `batch_fetch_plugin_manifests` raise for the whole batch. Upgrade checks need only the fields
 * below.
 */
import type { PackageRecord } from '#core/catalog.ts';

/** An operator's deprecation of a plugin (Dify's marketplace `status: deleted`). */
export interface PluginDeprecation {
  plugin_id: string;
  reason: string;
  /** `author/name` to switch to, or `''`. */
  alternative_plugin_id: string;
  deprecated_at: string;
}

export interface MarketplacePluginDeclaration {
  name: string;
  org: string;
  plugin_id: string;
  icon: string;
  label: Record<string, string>;
  brief: Record<string, string>;
  resource: { memory: number; permission?: Record<string, unknown> };
  latest_version: string;
  latest_package_identifier: string;
  status: 'active' | 'deleted';
  deprecated_reason: string;
  alternative_plugin_id: string;
}

export interface MarketplacePluginSnapshot {
  org: string;
  name: string;
  plugin_id: string;
  latest_version: string;
  latest_package_identifier: string;
  latest_package_url: string;
}

/**
 * Paths under the marketplace base URL, joined the way Dify's client joins them (yarl's `/`).
 */
export const marketplacePaths = {
  download: (org: string, name: string, version: string) =>
    `api/v1/plugins/${encodeURIComponent(org)}/${encodeURIComponent(name)}/${encodeURIComponent(version)}/download`,
  icon: (org: string, name: string) =>
    `api/v1/plugins/${encodeURIComponent(org)}/${encodeURIComponent(name)}/icon`,
};

/** Joins a base URL and a relative path like yarl's `URL / path` (one `/` between them). */
export function joinMarketplaceUrl(baseUrl: string, path: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/${path}`;
}

/**
 * One batch item for the plugin whose latest build is `latest`.
 *
 * @example toMarketplaceDeclaration(record, undefined, 'https://api/marketplace/pmt_…').status // 'active'
 */
export function toMarketplaceDeclaration(
  latest: Pick<PackageRecord, 'plugin_id' | 'version' | 'unique_identifier' | 'manifest'>,
  deprecation: PluginDeprecation | undefined,
  baseUrl: string,
): MarketplacePluginDeclaration {
  const [org, name] = latest.plugin_id.split('/') as [string, string];
  const manifest = latest.manifest as {
    label?: Record<string, string>;
    description?: Record<string, string>;
    resource?: { memory?: number; permission?: Record<string, unknown> | null };
  };
  const permission = manifest.resource?.permission;
  return {
    name,
    org,
    plugin_id: latest.plugin_id,
    icon: joinMarketplaceUrl(baseUrl, marketplacePaths.icon(org, name)),
    label: manifest.label ?? { en_US: name },
    brief: manifest.description ?? { en_US: '' },
    resource: {
      memory: manifest.resource?.memory ?? 0,
      ...(permission === undefined || permission === null ? {} : { permission }),
    },
    latest_version: latest.version,
    latest_package_identifier: latest.unique_identifier,
    status: deprecation === undefined ? 'active' : 'deleted',
    deprecated_reason: deprecation?.reason ?? '',
    alternative_plugin_id: deprecation?.alternative_plugin_id ?? '',
  };
}

/** One entry of the manifest snapshot. */
export function toMarketplaceSnapshot(
  latest: Pick<PackageRecord, 'plugin_id' | 'version' | 'unique_identifier'>,
  baseUrl: string,
): MarketplacePluginSnapshot {
  const [org, name] = latest.plugin_id.split('/') as [string, string];
  return {
    org,
    name,
    plugin_id: latest.plugin_id,
    latest_version: latest.version,
    latest_package_identifier: latest.unique_identifier,
    latest_package_url: joinMarketplaceUrl(baseUrl, marketplacePaths.download(org, name, latest.version)),
  };
}
