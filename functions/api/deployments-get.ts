/** `GET /v1/tenants/{tenant_id}/deployments/{deployment_id}`: status, plan, step timeline, error. */
import { getDeployment } from '#adapters/dynamo/deployments.ts';
import { jsonResponse } from '#shared/http-response.ts';
import { apiHandler } from './compose.ts';
import { DeploymentParams } from './schemas.ts';

export const handler = apiHandler({ scope: 'read', params: DeploymentParams }, async ({ params }) =>
  jsonResponse(200, await getDeployment(params.tenant_id, params.deployment_id)),
);
