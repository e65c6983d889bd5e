/** `GET /marketplace/{token}/api/v1/plugins/{org}/{name}/icon`: the URL batch answers give as `icon`. */

import { authorizeMarketplace, pluginIcon } from '#services/marketplace.ts';
import { marketplaceHandler } from '#shared/marketplace-handler.ts';
import { MarketplacePluginParams } from './marketplace-schemas.ts';

export const handler = marketplaceHandler(
  { authorize: authorizeMarketplace, params: MarketplacePluginParams },
  async ({ params }) => {
    const icon = await pluginIcon(`${params.org}/${params.name}`);
    return {
      statusCode: 200,
      headers: { 'content-type': icon.contentType, 'cache-control': 'private, max-age=300' },
      body: icon.bytes.toString('base64'),
      isBase64Encoded: true,
    };
  },
);
