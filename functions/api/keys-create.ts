/**
 * `POST /v1/tenants/{tenant_id}/keys` (admin): issues a key; the secret is shown only here.
 * Deliberately not idempotent: a replayable response would keep the raw key in the idempotency
 * table for 24 h, and keys are stored only as hashes (docs/design.md#security). A retried request issues a
 * second key; the unseen one is inert and can be revoked by id.
 */
import { issueKey } from '#adapters/dynamo/api-keys.ts';
import type { Scope } from '#core/api-keys.ts';
import { jsonResponse } from '#shared/http-response.ts';
import { apiHandler } from './compose.ts';
import { CreateKeyBody, TenantParams } from './schemas.ts';

export const handler = apiHandler(
  { scope: 'admin', params: TenantParams, body: CreateKeyBody },
  async ({ params, body, now }) => {
    const issued = await issueKey(params.tenant_id, body.scopes as Scope[], body.description ?? null, now);
    return jsonResponse(201, issued, { 'cache-control': 'no-store' });
  },
);
