/**
 * The README of a catalogued package, read from its stored bytes (the catalog keeps only the
 * manifest). The text is untrusted author input: it is returned as plain markdown and every
 * client must sanitize what it renders (the console does, see docs/decisions/006-web-console.md).
 */
import { findPackage } from '#adapters/dynamo/packages.ts';
import { openFileByteSource } from '#adapters/file-byte-source.ts';
import { downloadObjectToFile } from '#adapters/s3/blob-store.ts';
import { withTempFile } from '#adapters/temp-file.ts';
import { NotFoundError } from '#core/errors.ts';
import { README_FILE, readArchive } from '#core/package/archive.ts';
import { DEFAULT_PACKAGE_LIMITS } from '#core/package/limits.ts';
import { MAX_PACKAGE_BYTES } from './sources.ts';

/** Longer READMEs are cut here (a console page, not a document store). */
export const MAX_README_BYTES = 256 * 1024;

export interface PackageReadme {
  unique_identifier: string;
  markdown: string;
  truncated: boolean;
}

export async function readPackageReadme(uniqueIdentifier: string): Promise<PackageReadme> {
  const record = await findPackage(uniqueIdentifier);
  if (record === undefined) throw new NotFoundError(`Package ${uniqueIdentifier} is not in the catalog.`);
  const content = await withTempFile('readme.difypkg', async (file) => {
    await downloadObjectToFile(record.storage_key, file, MAX_PACKAGE_BYTES);
    const source = await openFileByteSource(file);
    try {
      const archive = await readArchive(source, {
        limits: DEFAULT_PACKAGE_LIMITS,
        collect: (name) => name === README_FILE,
      });
      return archive.entries.find((entry) => entry.name === README_FILE)?.content ?? Buffer.alloc(0);
    } finally {
      await source.close();
    }
  });
  const truncated = content.length > MAX_README_BYTES;
  return {
    unique_identifier: uniqueIdentifier,
    markdown: content.subarray(0, MAX_README_BYTES).toString('utf8'),
    truncated,
  };
}
