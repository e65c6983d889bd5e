/** `GET /v1/plugins?q=&author=`: catalog entries the caller trusts (docs/security.md). */
import { listVisiblePlugins } from '#services/catalog-view.ts';
import { jsonResponse } from '#shared/http-response.ts';
import { callerOf } from '#shared/middleware/authenticate.ts';
import { apiHandler } from './compose.ts';
import { PluginsQuery } from './schemas.ts';

export const handler = apiHandler({ scope: 'read', query: PluginsQuery }, async ({ query, event }) =>
  jsonResponse(200, await listVisiblePlugins(query, callerOf(event).tenantId)),
);
