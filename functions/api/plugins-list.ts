/** `GET /v1/plugins?q=&author=`: catalog entries. */
import { listPlugins } from '#adapters/dynamo/packages.ts';
import { jsonResponse } from '#shared/http-response.ts';
import { apiHandler } from './compose.ts';
import { PluginsQuery } from './schemas.ts';

export const handler = apiHandler({ scope: 'read', query: PluginsQuery }, async ({ query }) =>
  jsonResponse(200, await listPlugins(query)),
);
