/** `GET /v1/me`: who the presented key is, so a client shows only what its scopes allow. */

import { jsonResponse } from '#shared/http-response.ts';
import { callerOf } from '#shared/middleware/authenticate.ts';
import { apiHandler } from './compose.ts';

export const handler = apiHandler({ scope: 'read' }, async ({ event }) => {
  const caller = callerOf(event);
  return jsonResponse(200, { key_id: caller.keyId, tenant_id: caller.tenantId, scopes: caller.scopes });
});
