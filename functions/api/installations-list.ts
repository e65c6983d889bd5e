/** `GET /v1/tenants/{tenant_id}/installations`: installed plugins (and plugins with a hold). */
import { listInstallations } from '#adapters/dynamo/installations.ts';
import { jsonResponse } from '#shared/http-response.ts';
import { apiHandler } from './compose.ts';
import { presentInstallation } from './deployment-present.ts';
import { ListQuery, TenantParams } from './schemas.ts';

export const handler = apiHandler(
  { scope: 'read', params: TenantParams, query: ListQuery },
  async ({ params, query, now }) => {
    const page = await listInstallations(params.tenant_id, query);
    return jsonResponse(200, { ...page, items: page.items.map((item) => presentInstallation(item, now)) });
  },
);
