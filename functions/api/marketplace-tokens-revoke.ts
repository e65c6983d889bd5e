/** `DELETE /v1/marketplace/tokens/{token_id}` (operator): the token reads nothing from now on. */
import { revokeMarketplaceToken } from '#adapters/dynamo/marketplace.ts';
import { emptyResponse } from '#shared/http-response.ts';
import { apiHandler } from './compose.ts';
import { MarketplaceTokenParams } from './marketplace-schemas.ts';

export const handler = apiHandler(
  { scope: 'admin', operatorOnly: true, params: MarketplaceTokenParams },
  async ({ params, now }) => {
    await revokeMarketplaceToken(params.token_id, now);
    return emptyResponse(204);
  },
);
