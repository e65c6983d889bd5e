/**
 * `GET /v1/packages/{unique_identifier}/readmes` → `{unique_identifier, readmes: {en_US: "…", …}}`:
 * the package's `README.md` and `readme/README_<lang>.md`, when present (Dify shows them; a
 * package without any is valid and answers `readmes: {}`).
 */
import { findPackage } from '#adapters/dynamo/packages.ts';
import { getObjectBytes } from '#adapters/s3/object-bytes.ts';
import { NotFoundError } from '#core/errors.ts';
import { readArchive } from '#core/package/archive.ts';
import { byteSourceFromBuffer } from '#core/package/byte-source.ts';
import { resolvePackageLimits } from '#core/package/limits.ts';
import { collectReadmes, readmeLanguage } from '#core/package/readme.ts';
import { jsonResponse } from '#shared/http-response.ts';
import { apiHandler } from './compose.ts';
import { PackageParams } from './schemas.ts';

export const handler = apiHandler({ scope: 'read', params: PackageParams }, async ({ params }) => {
  const record = await findPackage(params.unique_identifier);
  if (record === undefined)
    throw new NotFoundError(`Package ${params.unique_identifier} is not in the catalog.`);
  const archive = await readArchive(byteSourceFromBuffer(await getObjectBytes(record.storage_key)), {
    limits: resolvePackageLimits(),
    collect: (name) => readmeLanguage(name) !== undefined,
  });
  return jsonResponse(200, {
    unique_identifier: record.unique_identifier,
    readmes: collectReadmes(archive.entries),
  });
});
