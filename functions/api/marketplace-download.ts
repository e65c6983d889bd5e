/**
 * `GET /v1/marketplace/api/v1/plugins/download?unique_identifier=…`: the marketplace protocol
 * (docs/decisions/002-marketplace-protocol.md), so this stage can be the marketplace of the next.
 * Answers a redirect to a short-lived presigned URL: packages can exceed Lambda's payload limit.
 */
import { presignGet } from '#adapters/s3/blob-store.ts';
import { findVisiblePackage } from '#services/catalog-view.ts';
import { callerOf } from '#shared/middleware/authenticate.ts';
import { apiHandler } from './compose.ts';
import { MarketplaceDownloadQuery } from './schemas.ts';

export const handler = apiHandler(
  { scope: 'read', query: MarketplaceDownloadQuery },
  async ({ query, event }) => {
    const record = await findVisiblePackage(query.unique_identifier, callerOf(event).tenantId);
    return {
      statusCode: 302,
      headers: { location: await presignGet(record.storage_key, 300), 'cache-control': 'no-store' },
      body: '',
    };
  },
);
