/** `GET /v1/packages/{unique_identifier}/readme`: the package's README.md as untrusted markdown. */
import { readPackageReadme } from '#services/package-readme.ts';
import { jsonResponse } from '#shared/http-response.ts';
import { apiHandler } from './compose.ts';
import { PackageParams } from './schemas.ts';

export const handler = apiHandler({ scope: 'read', params: PackageParams }, async ({ params }) =>
  jsonResponse(200, await readPackageReadme(params.unique_identifier)),
);
