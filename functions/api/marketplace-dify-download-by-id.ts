/** `GET|HEAD /marketplace/{token}/api/v1/plugins/download?unique_identifier=…`: older Dify's form. */

import { authorizeMarketplace, resolveDownload } from '#services/marketplace.ts';
import { marketplaceHandler } from '#shared/marketplace-handler.ts';
import { answerDownload } from './marketplace-dify-download.ts';
import { MarketplaceDownloadByIdQuery, MarketplaceParams } from './marketplace-schemas.ts';

export const handler = marketplaceHandler(
  { authorize: authorizeMarketplace, params: MarketplaceParams, query: MarketplaceDownloadByIdQuery },
  async ({ query, event }) =>
    answerDownload(
      await resolveDownload({ uniqueIdentifier: query.unique_identifier }),
      event.requestContext.http.method,
    ),
);
