/** `GET /v1/tenants/{tenant_id}/policy`: the effective policy and which fields follow the stage. */
import { getStoredPolicy } from '#adapters/dynamo/tenants.ts';
import { effectivePolicy } from '#core/policy.ts';
import { stagePolicyDefaults } from '#services/stage.ts';
import { jsonResponse } from '#shared/http-response.ts';
import { apiHandler } from './compose.ts';
import { TenantParams } from './schemas.ts';

export const handler = apiHandler({ scope: 'read', params: TenantParams }, async ({ params }) => {
  const defaults = stagePolicyDefaults();
  const stored = await getStoredPolicy(params.tenant_id);
  const inherited = Object.keys(defaults).filter((name) => !(name in stored));
  return jsonResponse(200, { ...effectivePolicy(defaults, stored), inherited });
});
