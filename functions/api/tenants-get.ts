/** `GET /v1/tenants/{tenant_id}`. */
import { getTenant } from '#adapters/dynamo/tenants.ts';
import { jsonResponse } from '#shared/http-response.ts';
import { apiHandler } from './compose.ts';
import { TenantParams } from './schemas.ts';

export const handler = apiHandler({ scope: 'read', params: TenantParams }, async ({ params }) =>
  jsonResponse(200, await getTenant(params.tenant_id)),
);
