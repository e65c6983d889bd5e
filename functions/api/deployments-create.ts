/**
 * `POST /v1/tenants/{tenant_id}/deployments` (deploy:write): starts the deploy workflow and
 * answers 202 with the pending deployment; poll `GET …/deployments/{id}` for its progress.
 */
import { actorOf, startDeployment } from '#services/deploy.ts';
import { assertRuntimeTarget } from '#services/dify-runtime.ts';
import { apiHandler } from '#shared/api-handler.ts';
import { jsonResponse } from '#shared/http-response.ts';
import { callerOf } from '#shared/middleware/authenticate.ts';
import { CreateDeploymentBody, TenantParams } from './schemas.ts';

export const handler = apiHandler(
  { scope: 'deploy:write', idempotent: true, params: TenantParams, body: CreateDeploymentBody },
  async ({ params, body, event, now }) => {
    // Dify daemon runtime: a tenant without its Dify workspace id is refused before anything starts.
    await assertRuntimeTarget(params.tenant_id);
    const deployment = await startDeployment(params.tenant_id, actorOf(callerOf(event)), body, now);
    return jsonResponse(202, deployment, {
      location: `/v1/tenants/${params.tenant_id}/deployments/${deployment.deployment_id}`,
    });
  },
);
