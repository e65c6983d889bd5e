/**
 * `POST /v1/tenants/{tenant_id}/runtime:sync` (admin): adopts what the tenant's Dify plugin daemon
 * runs as pluginops' installed state (`adopted` revisions), so history, rollback and auto-upgrade
 * start from reality.
 */
import { actorOf } from '#services/deploy.ts';
import { syncFromDifyDaemon } from '#services/dify-runtime.ts';
import { jsonResponse } from '#shared/http-response.ts';
import { callerOf } from '#shared/middleware/authenticate.ts';
import { apiHandler } from './compose.ts';
import { TenantParams } from './schemas.ts';

export const handler = apiHandler(
  { scope: 'admin', idempotent: true, params: TenantParams },
  async ({ params, now, event }) =>
    jsonResponse(200, {
      items: await syncFromDifyDaemon(params.tenant_id, `${actorOf(callerOf(event))} (runtime:sync)`, now),
    }),
);
