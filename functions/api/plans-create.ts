/**
 * `POST /v1/tenants/{tenant_id}/plans` (read): dry run of an install with its dependencies —
 * steps, install order and every Verify check per package. 422 `dependency-unsatisfiable` /
 * `dependency-cycle` explain in sentences why no plan exists.
 */
import { planInstall } from '#services/plans.ts';
import { jsonResponse } from '#shared/http-response.ts';
import { apiHandler } from './compose.ts';
import { CreatePlanBody, TenantParams } from './schemas.ts';

export const handler = apiHandler(
  { scope: 'read', params: TenantParams, body: CreatePlanBody },
  async ({ params, body, now }) => {
    // Missing dependencies are published under the policy of the tenant the plan is for.
    const plan = await planInstall(params.tenant_id, body, { tenantId: params.tenant_id }, now);
    return jsonResponse(200, plan);
  },
);
