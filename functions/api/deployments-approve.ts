/** `POST /v1/tenants/{tenant_id}/deployments/{deployment_id}/approve` (admin): the workflow goes on. */
import { actorOf, approveDeployment } from '#services/deploy.ts';
import { jsonResponse } from '#shared/http-response.ts';
import { callerOf } from '#shared/middleware/authenticate.ts';
import { apiHandler } from './compose.ts';
import { DecisionBody, DeploymentParams } from './schemas.ts';

export const handler = apiHandler(
  { scope: 'admin', idempotent: true, params: DeploymentParams, body: DecisionBody },
  async ({ params, body, event, now }) => {
    const decision = { by: actorOf(callerOf(event)), comment: body.comment };
    return jsonResponse(200, await approveDeployment(params.tenant_id, params.deployment_id, decision, now));
  },
);
