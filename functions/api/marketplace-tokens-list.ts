/** `GET /v1/marketplace/tokens` (operator): issued marketplace tokens, never the tokens themselves. */
import { listMarketplaceTokens } from '#adapters/dynamo/marketplace.ts';
import { jsonResponse } from '#shared/http-response.ts';
import { apiHandler } from './compose.ts';
import { MarketplaceTokensQuery } from './marketplace-schemas.ts';

export const handler = apiHandler(
  { scope: 'admin', operatorOnly: true, query: MarketplaceTokensQuery },
  async ({ query }) => jsonResponse(200, await listMarketplaceTokens(query.limit, query.cursor)),
);
