/** `GET /v1/tenants/{tenant_id}/installations/{author}/{name}/revisions`: history, newest first. */
import { listRevisions } from '#adapters/dynamo/installations.ts';
import { jsonResponse } from '#shared/http-response.ts';
import { apiHandler } from './compose.ts';
import { presentRevision } from './deployment-present.ts';
import { InstallationParams, ListQuery } from './schemas.ts';

export const handler = apiHandler(
  { scope: 'read', params: InstallationParams, query: ListQuery },
  async ({ params, query }) => {
    const page = await listRevisions(params.tenant_id, `${params.author}/${params.name}`, query);
    return jsonResponse(200, { ...page, items: page.items.map(presentRevision) });
  },
);
