/** `GET /v1/packages/{unique_identifier}` (URL-encoded): a build the caller trusts, else 404. */
import { findVisiblePackage } from '#services/catalog-view.ts';
import { jsonResponse } from '#shared/http-response.ts';
import { callerOf } from '#shared/middleware/authenticate.ts';
import { apiHandler } from './compose.ts';
import { presentPackage } from './present.ts';
import { PackageParams } from './schemas.ts';

export const handler = apiHandler({ scope: 'read', params: PackageParams }, async ({ params, event }) => {
  const record = await findVisiblePackage(params.unique_identifier, callerOf(event).tenantId);
  return jsonResponse(200, presentPackage(record));
});
