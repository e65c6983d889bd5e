/** `GET /v1/plugins/{author}/{name}/versions`: packages, newest semver first. */
import { listPluginVersions } from '#adapters/dynamo/packages.ts';
import { jsonResponse } from '#shared/http-response.ts';
import { apiHandler } from './compose.ts';
import { presentPackage } from './present.ts';
import { ListQuery, PluginParams } from './schemas.ts';

export const handler = apiHandler(
  { scope: 'read', params: PluginParams, query: ListQuery },
  async ({ params, query }) => {
    const page = await listPluginVersions(`${params.author}/${params.name}`, query.limit, query.cursor);
    return jsonResponse(200, { items: page.items.map(presentPackage), next_cursor: page.next_cursor });
  },
);
