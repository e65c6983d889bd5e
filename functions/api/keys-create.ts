/** `POST /v1/tenants/{tenant_id}/keys` (admin): issues a key; the secret is shown only here. */
import { issueKey } from '#adapters/dynamo/api-keys.ts';
import type { Scope } from '#core/api-keys.ts';
import { apiHandler } from '#shared/api-handler.ts';
import { jsonResponse } from '#shared/http-response.ts';
import { CreateKeyBody, TenantParams } from './schemas.ts';

export const handler = apiHandler(
  { scope: 'admin', idempotent: true, params: TenantParams, body: CreateKeyBody },
  async ({ params, body, now }) => {
    const issued = await issueKey(params.tenant_id, body.scopes as Scope[], body.description ?? null, now);
    return jsonResponse(201, issued, { 'cache-control': 'no-store' });
  },
);
