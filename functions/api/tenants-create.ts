/** `POST /v1/tenants` (operator): claims a tenant id and indexes its default auto-upgrade schedule. */
import { ensureDefaultAutoUpgradeSettings } from '#adapters/dynamo/auto-upgrade.ts';
import { createTenant } from '#adapters/dynamo/tenants.ts';
import { jsonResponse } from '#shared/http-response.ts';
import { apiHandler } from './compose.ts';
import { CreateTenantBody } from './schemas.ts';

export const handler = apiHandler(
  { scope: 'admin', operatorOnly: true, idempotent: true, body: CreateTenantBody },
  async ({ body, now }) => {
    const tenant = await createTenant({
      tenant_id: body.tenant_id,
      display_name: body.display_name ?? null,
      dify_tenant_id: body.dify_tenant_id ?? null,
      created_at: now.toISOString(),
    });
    // Default settings are enabled (fix_only), so the tenant must be in the sweep's slot index.
    await ensureDefaultAutoUpgradeSettings(tenant.tenant_id, now);
    return jsonResponse(201, tenant, { location: `/v1/tenants/${tenant.tenant_id}` });
  },
);
