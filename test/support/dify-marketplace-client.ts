/**
 * Dify's marketplace client, rewritten in TypeScript from its behaviour (langgenius/dify
 * `api/core/helper/marketplace.py` and `api/core/helper/download.py`) so tests drive pluginops
 * exactly as a real Dify API service does:
 * - URLs are joined like yarl's `URL(MARKETPLACE_API_URL) / "api/v1/…"`;
 * - no Authorization header, ever; `X-Dify-Version` on batch requests only;
 * - downloads send HEAD first (404 → "file not found", content-length over the limit → refused),
 *   then GET following redirects, with the same size limit while reading;
 * - batch answers are read as `response.json()["data"]["plugins"]` and validated field by field
 *   against a zod mirror of `MarketplacePluginDeclaration` (`api/core/plugin/entities/marketplace.py`).
 */
import { z } from 'zod';

/** Dify's `I18nObject`: `en_US` required, other languages optional. */
const I18nObject = z.looseObject({
  en_US: z.string(),
  zh_Hans: z.string().nullish(),
  pt_BR: z.string().nullish(),
  ja_JP: z.string().nullish(),
});

/** Dify's `PluginResourceRequirements` (`api/core/plugin/entities/plugin.py`). */
const PluginResourceRequirements = z.looseObject({
  memory: z.int(),
  permission: z
    .looseObject({
      tool: z.looseObject({ enabled: z.boolean().nullish() }).nullish(),
      model: z.looseObject({ enabled: z.boolean().nullish() }).nullish(),
      node: z.looseObject({ enabled: z.boolean().nullish() }).nullish(),
      endpoint: z.looseObject({ enabled: z.boolean().nullish() }).nullish(),
      storage: z.looseObject({ enabled: z.boolean().nullish(), size: z.int() }).nullish(),
    })
    .nullish(),
});

/** Every field `MarketplacePluginDeclaration` requires, with its type. */
export const MarketplacePluginDeclaration = z.looseObject({
  name: z.string(),
  org: z.string(),
  plugin_id: z.string(),
  icon: z.string(),
  label: I18nObject,
  brief: I18nObject,
  resource: PluginResourceRequirements,
  endpoint: z.looseObject({}).nullish(),
  model: z.looseObject({}).nullish(),
  tool: z.looseObject({}).nullish(),
  latest_version: z.string(),
  latest_package_identifier: z.string(),
  status: z.string(),
  deprecated_reason: z.string(),
  alternative_plugin_id: z.string(),
});
export type MarketplacePluginDeclaration = z.infer<typeof MarketplacePluginDeclaration>;

export class HttpStatusError extends Error {
  constructor(
    readonly status: number,
    url: string,
  ) {
    super(`HTTP ${status} for ${url}`);
  }
}

/** yarl: `URL("http://h/base/") / "api/v1/x"` → `http://h/base/api/v1/x`. */
export function yarlJoin(base: string, path: string): string {
  const url = new URL(base);
  url.pathname = `${url.pathname.replace(/\/$/, '')}/${path}`;
  return url.toString();
}

export function createDifyMarketplaceClient(marketplaceApiUrl: string, difyVersion = '1.9.0') {
  function getPluginPkgUrl(pluginUniqueIdentifier: string): string {
    let identifier = pluginUniqueIdentifier;
    if (identifier.includes('/') && identifier.includes(':')) {
      if (identifier.includes('@')) identifier = identifier.split('@')[0] as string;
      const cut = identifier.lastIndexOf(':');
      const orgAndName = identifier.slice(0, cut);
      const version = identifier.slice(cut + 1);
      const slash = orgAndName.indexOf('/');
      return yarlJoin(
        marketplaceApiUrl,
        `api/v1/plugins/${orgAndName.slice(0, slash)}/${orgAndName.slice(slash + 1)}/${version}/download`,
      );
    }
    return downloadByIdUrl(identifier);
  }

  function downloadByIdUrl(uniqueIdentifier: string): string {
    const url = new URL(yarlJoin(marketplaceApiUrl, 'api/v1/plugins/download'));
    url.searchParams.set('unique_identifier', uniqueIdentifier);
    return url.toString();
  }

  async function downloadWithSizeLimit(url: string, maxBytes: number): Promise<Buffer> {
    const head = await fetch(url, { method: 'HEAD', redirect: 'follow' });
    if (head.status === 404) throw new Error('file not found');
    const declared = Number(head.headers.get('content-length'));
    if (Number.isFinite(declared) && declared > maxBytes) throw new Error('Max file size reached');
    const response = await fetch(url, { method: 'GET', redirect: 'follow' });
    if (response.status === 404) throw new Error('file not found');
    if (!response.ok) throw new HttpStatusError(response.status, url);
    const bytes = Buffer.from(await response.arrayBuffer());
    if (bytes.length > maxBytes) throw new Error('Max file size reached');
    return bytes;
  }

  async function batchRaw(pluginIds: string[]): Promise<unknown[]> {
    const url = yarlJoin(marketplaceApiUrl, 'api/v1/plugins/batch');
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-dify-version': difyVersion },
      body: JSON.stringify({ plugin_ids: pluginIds }),
    });
    if (!response.ok) throw new HttpStatusError(response.status, url);
    const json = (await response.json()) as { data: { plugins: unknown[] } };
    return json.data.plugins;
  }

  return {
    getPluginPkgUrl,
    downloadByIdUrl,
    downloadPluginPkg: (uniqueIdentifier: string, maxBytes = 50 * 1024 * 1024) =>
      downloadWithSizeLimit(getPluginPkgUrl(uniqueIdentifier), maxBytes),
    downloadWithSizeLimit,
    async batchFetchPluginManifests(pluginIds: string[]): Promise<MarketplacePluginDeclaration[]> {
      if (pluginIds.length === 0) return [];
      return (await batchRaw(pluginIds)).map((plugin) => MarketplacePluginDeclaration.parse(plugin));
    },
    async recordInstallPluginEvent(uniqueIdentifier: string): Promise<void> {
      const url = yarlJoin(marketplaceApiUrl, 'api/v1/stats/plugins/install_count');
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ unique_identifier: uniqueIdentifier }),
      });
      if (!response.ok) throw new HttpStatusError(response.status, url);
    },
    async fetchGlobalPluginManifest(): Promise<Array<Record<string, string>>> {
      const url = yarlJoin(marketplaceApiUrl, 'api/v1/dist/plugins/manifest.json');
      const response = await fetch(url);
      if (!response.ok) throw new HttpStatusError(response.status, url);
      return ((await response.json()) as { plugins: Array<Record<string, string>> }).plugins;
    },
  };
}
