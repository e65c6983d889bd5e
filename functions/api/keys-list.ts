/** `GET /v1/tenants/{tenant_id}/keys` (admin): the tenant's keys with scopes and revocation, no secrets. */
import { listTenantKeys } from '#adapters/dynamo/directory.ts';
import { jsonResponse } from '#shared/http-response.ts';
import { apiHandler } from './compose.ts';
import { ListQuery, TenantParams } from './schemas.ts';

export const handler = apiHandler(
  { scope: 'admin', params: TenantParams, query: ListQuery },
  async ({ params, query }) =>
    jsonResponse(200, await listTenantKeys(params.tenant_id, query.limit, query.cursor)),
);
