/** `GET /v1/tenants` (operator): every tenant of the stage, paginated. */
import { listTenants } from '#adapters/dynamo/directory.ts';
import { jsonResponse } from '#shared/http-response.ts';
import { apiHandler } from './compose.ts';
import { ListQuery } from './schemas.ts';

export const handler = apiHandler(
  { scope: 'read', operatorOnly: true, query: ListQuery },
  async ({ query }) => jsonResponse(200, await listTenants(query.limit, query.cursor)),
);
