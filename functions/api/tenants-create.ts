/** `POST /v1/tenants` (operator): claims a tenant id. */
import { createTenant } from '#adapters/dynamo/tenants.ts';
import { apiHandler } from '#shared/api-handler.ts';
import { jsonResponse } from '#shared/http-response.ts';
import { CreateTenantBody } from './schemas.ts';

export const handler = apiHandler(
  { scope: 'admin', operatorOnly: true, idempotent: true, body: CreateTenantBody },
  async ({ body, now }) => {
    const tenant = await createTenant({
      tenant_id: body.tenant_id,
      display_name: body.display_name ?? null,
      created_at: now.toISOString(),
    });
    return jsonResponse(201, tenant, { location: `/v1/tenants/${tenant.tenant_id}` });
  },
);
