/**
 * `POST /marketplace/{token}/api/v1/stats/plugins/install_count {"unique_identifier": …}`: Dify's
 * `record_install_plugin_event`, counted per build. An unknown build is a 404, so the count only
 * ever names catalogued builds. This is the one write a token can make: a counter, nothing else.
 */
import { countInstall } from '#adapters/dynamo/marketplace.ts';
import { authorizeMarketplace, resolveDownload } from '#services/marketplace.ts';
import { jsonResponse } from '#shared/http-response.ts';
import { marketplaceHandler } from '#shared/marketplace-handler.ts';
import { MarketplaceInstallCountBody, MarketplaceParams } from './marketplace-schemas.ts';

export const handler = marketplaceHandler(
  { authorize: authorizeMarketplace, params: MarketplaceParams, body: MarketplaceInstallCountBody },
  async ({ body }) => {
    const record = await resolveDownload({ uniqueIdentifier: body.unique_identifier });
    const installCount = await countInstall(record.unique_identifier);
    return jsonResponse(200, {
      code: 0,
      msg: 'success',
      data: { unique_identifier: record.unique_identifier, install_count: installCount },
    });
  },
);
