/** `GET /v1/packages/{unique_identifier}` (URL-encoded). */
import { findPackage } from '#adapters/dynamo/packages.ts';
import { NotFoundError } from '#core/errors.ts';
import { jsonResponse } from '#shared/http-response.ts';
import { apiHandler } from './compose.ts';
import { presentPackage } from './present.ts';
import { PackageParams } from './schemas.ts';

export const handler = apiHandler({ scope: 'read', params: PackageParams }, async ({ params }) => {
  const record = await findPackage(params.unique_identifier);
  if (record === undefined)
    throw new NotFoundError(`Package ${params.unique_identifier} is not in the catalog.`);
  return jsonResponse(200, presentPackage(record));
});
