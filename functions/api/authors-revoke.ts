/**
 * `DELETE /v1/authors/{author}/tenants/{tenant_id}` (operator): the tenant's keys stop publishing
 * under the author. Builds it already published stay catalogued (and private to it).
 */
import { revokeAuthor } from '#adapters/dynamo/authors.ts';
import { emptyResponse } from '#shared/http-response.ts';
import { apiHandler } from './compose.ts';
import { AuthorGrantParams } from './schemas.ts';

export const handler = apiHandler(
  { scope: 'admin', operatorOnly: true, params: AuthorGrantParams },
  async ({ params }) => {
    await revokeAuthor(params.author, params.tenant_id);
    return emptyResponse();
  },
);
