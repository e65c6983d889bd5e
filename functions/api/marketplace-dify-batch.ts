/**
 * `POST /marketplace/{token}/api/v1/plugins/batch {"plugin_ids": […]}` → `{"data":{"plugins":[…]}}`,
 * one `MarketplacePluginDeclaration` per known plugin (Dify's upgrade checks); unknown ids are absent.
 */

import { authorizeMarketplace, batchDeclarations } from '#services/marketplace.ts';
import { jsonResponse } from '#shared/http-response.ts';
import { marketplaceHandler } from '#shared/marketplace-handler.ts';
import { MarketplaceBatchBody, MarketplaceParams } from './marketplace-schemas.ts';

export const handler = marketplaceHandler(
  { authorize: authorizeMarketplace, params: MarketplaceParams, body: MarketplaceBatchBody },
  async ({ body, baseUrl }) =>
    jsonResponse(200, {
      code: 0,
      msg: 'success',
      data: { plugins: await batchDeclarations(body.plugin_ids, baseUrl) },
    }),
);
