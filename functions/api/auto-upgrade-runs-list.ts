/**
 * `GET /v1/tenants/{tenant_id}/auto-upgrade/runs`: the tenant's sweep results, newest first, with
 * upgrades whose deployment was refused or failed listed under `failed`.
 */
import { listSettledUpgradeRuns } from '#services/upgrade-runs.ts';
import { jsonResponse } from '#shared/http-response.ts';
import { apiHandler } from './compose.ts';
import { ListQuery, TenantParams } from './schemas.ts';

export const handler = apiHandler(
  { scope: 'read', params: TenantParams, query: ListQuery },
  async ({ params, query }) =>
    jsonResponse(200, await listSettledUpgradeRuns(params.tenant_id, query.limit, query.cursor)),
);
