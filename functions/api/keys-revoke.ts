/** `DELETE /v1/tenants/{tenant_id}/keys/{key_id}` (admin): revoked for every later request. */
import { revokeKey } from '#adapters/dynamo/api-keys.ts';
import { emptyResponse } from '#shared/http-response.ts';
import { apiHandler, authCache } from './compose.ts';
import { KeyParams } from './schemas.ts';

export const handler = apiHandler({ scope: 'admin', params: KeyParams }, async ({ params, now }) => {
  await revokeKey(params.tenant_id, params.key_id, now);
  // Other processes notice within the cache TTL (functions/shared/auth-cache.ts); this one at once.
  authCache().forgetKey(params.key_id);
  return emptyResponse(204);
});
