/**
 * `POST /v1/tenants/{tenant_id}/deployments` (deploy:write): starts the deploy workflow and
 * answers 202 with the pending deployment; poll `GET …/deployments/{id}` for its progress.
 */
import { actorOf, startDeployment } from '#services/deploy.ts';
import { assertRuntimeTarget } from '#services/dify-runtime.ts';
import { jsonResponse } from '#shared/http-response.ts';
import { callerOf, hasScope } from '#shared/middleware/authenticate.ts';
import { apiHandler } from './compose.ts';
import { CreateDeploymentBody, TenantParams } from './schemas.ts';

export const handler = apiHandler(
  { scope: 'deploy:write', idempotent: true, params: TenantParams, body: CreateDeploymentBody },
  async ({ params, body, event, now }) => {
    // Dify daemon runtime: a tenant without its Dify workspace id is refused before anything starts.
    await assertRuntimeTarget(params.tenant_id);
    const caller = callerOf(event);
    // Only a requester that may publish lets Resolve fetch missing dependencies into the catalog.
    const deployment = await startDeployment(params.tenant_id, actorOf(caller), body, now, {
      mayFetch: hasScope(caller, 'packages:write'),
    });
    return jsonResponse(202, deployment, {
      location: `/v1/tenants/${params.tenant_id}/deployments/${deployment.deployment_id}`,
    });
  },
);
