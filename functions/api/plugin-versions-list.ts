/** `GET /v1/plugins/{author}/{name}/versions`: packages the caller trusts, newest semver first. */
import { listVisibleVersions } from '#services/catalog-view.ts';
import { jsonResponse } from '#shared/http-response.ts';
import { callerOf } from '#shared/middleware/authenticate.ts';
import { apiHandler } from './compose.ts';
import { presentPackage } from './present.ts';
import { ListQuery, PluginParams } from './schemas.ts';

export const handler = apiHandler(
  { scope: 'read', params: PluginParams, query: ListQuery },
  async ({ params, query, event }) => {
    const page = await listVisibleVersions(
      `${params.author}/${params.name}`,
      callerOf(event).tenantId,
      query.limit,
      query.cursor,
    );
    return jsonResponse(200, { items: page.items.map(presentPackage), next_cursor: page.next_cursor });
  },
);
