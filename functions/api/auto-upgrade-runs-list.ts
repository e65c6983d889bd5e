/** `GET /v1/tenants/{tenant_id}/auto-upgrade/runs`: the tenant's sweep results, newest first. */
import { listUpgradeRuns } from '#adapters/dynamo/auto-upgrade.ts';
import { jsonResponse } from '#shared/http-response.ts';
import { apiHandler } from './compose.ts';
import { ListQuery, TenantParams } from './schemas.ts';

export const handler = apiHandler(
  { scope: 'read', params: TenantParams, query: ListQuery },
  async ({ params, query }) =>
    jsonResponse(200, await listUpgradeRuns(params.tenant_id, query.limit, query.cursor)),
);
