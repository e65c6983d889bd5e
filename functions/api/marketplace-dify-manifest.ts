/**
 * `GET /marketplace/{token}/api/v1/dist/plugins/manifest.json`: the snapshot of every plugin's
 * latest build (Dify's `MarketplacePluginSnapshot`), with a download URL under the same token.
 */

import { authorizeMarketplace, manifestSnapshot } from '#services/marketplace.ts';
import { jsonResponse } from '#shared/http-response.ts';
import { marketplaceHandler } from '#shared/marketplace-handler.ts';
import { MarketplaceParams } from './marketplace-schemas.ts';

export const handler = marketplaceHandler(
  { authorize: authorizeMarketplace, params: MarketplaceParams },
  async ({ baseUrl, now }) => {
    const plugins = await manifestSnapshot(baseUrl);
    return jsonResponse(
      200,
      { plugins, metadata: { snapshot_updated_at: now.toISOString(), plugin_count: plugins.length } },
      { 'cache-control': 'no-store' },
    );
  },
);
