/** `GET /v1/tenants/{tenant_id}/auto-upgrade`: stored (or default) settings and the next run. */
import { findAutoUpgradeSettings } from '#adapters/dynamo/auto-upgrade.ts';
import { jsonResponse } from '#shared/http-response.ts';
import { presentAutoUpgrade } from './auto-upgrade-present.ts';
import { apiHandler } from './compose.ts';
import { TenantParams } from './schemas.ts';

export const handler = apiHandler({ scope: 'read', params: TenantParams }, async ({ params, now }) => {
  const stored = await findAutoUpgradeSettings(params.tenant_id);
  return jsonResponse(200, presentAutoUpgrade(params.tenant_id, stored, now));
});
