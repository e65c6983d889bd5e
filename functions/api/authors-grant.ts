/**
 * `PUT /v1/authors/{author}/tenants/{tenant_id}` (operator): the tenant's keys may publish under
 * this author from now on (docs/security.md). Granting again is harmless.
 */
import { grantAuthor } from '#adapters/dynamo/authors.ts';
import { jsonResponse } from '#shared/http-response.ts';
import { callerOf } from '#shared/middleware/authenticate.ts';
import { apiHandler } from './compose.ts';
import { AuthorGrantParams } from './schemas.ts';

export const handler = apiHandler(
  { scope: 'admin', operatorOnly: true, params: AuthorGrantParams },
  async ({ params, event, now }) => {
    const grant = {
      author: params.author,
      tenant_id: params.tenant_id,
      granted_by: callerOf(event).keyId,
      granted_at: now.toISOString(),
    };
    await grantAuthor(grant);
    return jsonResponse(200, grant);
  },
);
