/**
 * `POST /v1/packages/{unique_identifier}/promote` (operator): a tenant's private build becomes
 * trusted stage-wide, so every tenant may see, plan, install and auto-upgrade to it.
 */
import { promotePackage } from '#adapters/dynamo/packages.ts';
import { jsonResponse } from '#shared/http-response.ts';
import { callerOf } from '#shared/middleware/authenticate.ts';
import { apiHandler } from './compose.ts';
import { presentPackage } from './present.ts';
import { PackageParams } from './schemas.ts';

export const handler = apiHandler(
  { scope: 'admin', operatorOnly: true, params: PackageParams },
  async ({ params, event, now }) => {
    const record = await promotePackage(params.unique_identifier, {
      key_id: callerOf(event).keyId,
      promoted_at: now.toISOString(),
    });
    return jsonResponse(200, presentPackage(record));
  },
);
