/**
 * `PUT /v1/tenants/{tenant_id}/policy` (admin): replaces the tenant's overrides. Fields left out
 * (or `null`) follow the stage defaults. Takes effect on the next request.
 */
import { putStoredPolicy } from '#adapters/dynamo/tenants.ts';
import { applyPolicyPatch, effectivePolicy } from '#core/policy.ts';
import { stagePolicyDefaults } from '#services/stage.ts';
import { jsonResponse } from '#shared/http-response.ts';
import { apiHandler } from './compose.ts';
import { PolicyBody, TenantParams } from './schemas.ts';

export const handler = apiHandler(
  { scope: 'admin', idempotent: true, params: TenantParams, body: PolicyBody },
  async ({ params, body, now }) => {
    const stored = applyPolicyPatch({}, body);
    await putStoredPolicy(params.tenant_id, stored, now);
    const defaults = stagePolicyDefaults();
    const inherited = Object.keys(defaults).filter((name) => !(name in stored));
    return jsonResponse(200, { ...effectivePolicy(defaults, stored), inherited });
  },
);
