/** `PATCH /v1/tenants/{tenant_id}` (operator): sets the display name or the Dify tenant id. */
import { updateTenant } from '#adapters/dynamo/tenants.ts';
import { jsonResponse } from '#shared/http-response.ts';
import { apiHandler } from './compose.ts';
import { TenantParams, UpdateTenantBody } from './schemas.ts';

export const handler = apiHandler(
  { scope: 'admin', operatorOnly: true, idempotent: true, params: TenantParams, body: UpdateTenantBody },
  async ({ params, body }) => jsonResponse(200, await updateTenant(params.tenant_id, body)),
);
