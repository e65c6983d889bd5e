/**
 * `POST /v1/tenants/{tenant_id}/plans` (read): dry run of an install with its dependencies —
 * steps, install order and every Verify check per package; writes nothing unless `fetch_missing`
 * (packages:write). 422 `dependency-unsatisfiable` /
 * `dependency-cycle` explain in sentences why no plan exists.
 */
import { ProblemError } from '#core/errors.ts';
import { planInstall } from '#services/plans.ts';
import { jsonResponse } from '#shared/http-response.ts';
import { callerOf, hasScope } from '#shared/middleware/authenticate.ts';
import { apiHandler } from './compose.ts';
import { CreatePlanBody, TenantParams } from './schemas.ts';

export const handler = apiHandler(
  { scope: 'read', params: TenantParams, body: CreatePlanBody },
  async ({ params, body, event, now }) => {
    // A read key plans; only a key that may publish may bring missing dependencies into the catalog.
    if (body.fetch_missing === true && !hasScope(callerOf(event), 'packages:write')) {
      throw new ProblemError(
        'forbidden',
        'fetch_missing publishes packages to the catalog: it needs the packages:write scope.',
      );
    }
    // Missing dependencies are published under the policy of the tenant the plan is for.
    const plan = await planInstall(params.tenant_id, body, { tenantId: params.tenant_id }, now);
    return jsonResponse(200, plan);
  },
);
