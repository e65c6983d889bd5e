/** `GET /v1/tenants/{tenant_id}/deployments?status=`: newest first. */
import { listDeployments } from '#adapters/dynamo/deployments.ts';
import { jsonResponse } from '#shared/http-response.ts';
import { apiHandler } from './compose.ts';
import { DeploymentsQuery, TenantParams } from './schemas.ts';

export const handler = apiHandler(
  { scope: 'read', params: TenantParams, query: DeploymentsQuery },
  async ({ params, query }) => jsonResponse(200, await listDeployments(params.tenant_id, query)),
);
