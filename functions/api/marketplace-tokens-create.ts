/**
 * `POST /v1/marketplace/tokens` (operator): a read-only marketplace token for Dify's
 * `MARKETPLACE_API_URL` (`<api><base_path>`); the token is shown only in this answer.
 */
import { issueMarketplaceToken } from '#adapters/dynamo/marketplace.ts';
import { jsonResponse } from '#shared/http-response.ts';
import { apiHandler } from './compose.ts';
import { CreateMarketplaceTokenBody } from './marketplace-schemas.ts';

export const handler = apiHandler(
  { scope: 'admin', operatorOnly: true, body: CreateMarketplaceTokenBody },
  async ({ body, now }) => {
    const issued = await issueMarketplaceToken(body.description ?? null, now);
    return jsonResponse(201, { ...issued, base_path: `/marketplace/${issued.token}` });
  },
);
