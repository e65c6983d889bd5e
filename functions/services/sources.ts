/**
 * Brings a package from its source to a local file, then hands it to `publishPackageFile`.
 * Downloads are size-capped while streaming, so a lying source cannot fill the disk.
 */
import { writeFile } from 'node:fs/promises';
import { findUploadSession } from '#adapters/dynamo/uploads.ts';
import { createGithubClient } from '#adapters/github-client.ts';
import { createMarketplaceClient } from '#adapters/marketplace-client.ts';
import { downloadObjectToFile } from '#adapters/s3/blob-store.ts';
import { withTempFile } from '#adapters/temp-file.ts';
import { getConfig } from '#config/runtime-config.ts';
import type { Caller } from '#core/caller.ts';
import { InvalidPackageError, NotFoundError, PackageTooLargeError } from '#core/errors.ts';
import { DEFAULT_PACKAGE_LIMITS } from '#core/package/limits.ts';
import { type PublishOutcome, type PublishResult, publishFile, publishPackageFile } from './publish.ts';
import { publishUploadOnce } from './upload-claim.ts';

export const MAX_PACKAGE_BYTES = DEFAULT_PACKAGE_LIMITS.maxPackageBytes;

export type PublishRequest =
  | { source: 'package'; upload_id: string }
  | { source: 'github'; repo: string; release: string; asset: string }
  | { source: 'marketplace'; unique_identifier: string };

/** Publishes from any source; a `.difybndl` bundle publishes every package it embeds. */
export async function publishFromSource(
  request: PublishRequest,
  caller: Caller,
  now: Date,
): Promise<PublishOutcome> {
  return withTempFile('package.difypkg', async (file) => {
    switch (request.source) {
      case 'package': {
        const session = await findUploadSession(request.upload_id);
        // Sessions of other tenants are indistinguishable from missing ones.
        if (session === undefined || session.tenant_id !== caller.tenantId) {
          throw new NotFoundError(`Upload "${request.upload_id}" does not exist.`);
        }
        return publishUploadOnce(session.upload_id, now, async () => {
          const size = await downloadObjectToFile(session.object_key, file, MAX_PACKAGE_BYTES);
          if (size !== session.size) {
            throw new InvalidPackageError(`The upload has ${size} bytes; ${session.size} were announced.`);
          }
          return publishFile(
            file,
            { type: 'package', upload_id: session.upload_id, filename: session.filename },
            caller,
            now,
            { filename: session.filename },
          );
        });
      }
      case 'github':
        await downloadGithubAsset(request, file);
        return publishFile(
          file,
          { type: 'github', repo: request.repo, release: request.release, asset: request.asset },
          caller,
          now,
          { filename: request.asset },
        );
      case 'marketplace':
        return {
          kind: 'package',
          ...(await publishMarketplacePackageTo(file, request.unique_identifier, caller, now)),
        };
    }
  });
}

/** Downloads a GitHub release asset and publishes it (also used to fetch missing dependencies). */
export function publishGithubAsset(
  ref: { repo: string; release: string; asset: string },
  caller: Pick<Caller, 'tenantId'>,
  now: Date,
): Promise<PublishResult> {
  return withTempFile('package.difypkg', (file) => publishGithubAssetTo(file, ref, caller, now));
}

/** Downloads one exact build from the marketplace and publishes it. */
export function publishMarketplacePackage(
  uniqueIdentifier: string,
  caller: Pick<Caller, 'tenantId'>,
  now: Date,
): Promise<PublishResult> {
  return withTempFile('package.difypkg', (file) =>
    publishMarketplacePackageTo(file, uniqueIdentifier, caller, now),
  );
}

async function publishGithubAssetTo(
  file: string,
  ref: { repo: string; release: string; asset: string },
  caller: Pick<Caller, 'tenantId'>,
  now: Date,
): Promise<PublishResult> {
  await downloadGithubAsset(ref, file);
  return publishPackageFile(
    file,
    { type: 'github', repo: ref.repo, release: ref.release, asset: ref.asset },
    caller,
    now,
  );
}

async function downloadGithubAsset(
  ref: { repo: string; release: string; asset: string },
  file: string,
): Promise<void> {
  const config = getConfig();
  const github = createGithubClient({ apiUrl: config.githubApiUrl, token: config.githubToken });
  await github.downloadReleaseAsset(ref, file, { maxBytes: MAX_PACKAGE_BYTES });
}

async function publishMarketplacePackageTo(
  file: string,
  uniqueIdentifier: string,
  caller: Pick<Caller, 'tenantId'>,
  now: Date,
): Promise<PublishResult> {
  const config = getConfig();
  const marketplace = createMarketplaceClient({
    baseUrl: config.marketplaceUrl,
    token: config.marketplaceToken,
  });
  await marketplace.downloadPackage(uniqueIdentifier, file, { maxBytes: MAX_PACKAGE_BYTES });
  return publishPackageFile(
    file,
    { type: 'marketplace', unique_identifier: uniqueIdentifier, marketplace_url: config.marketplaceUrl },
    caller,
    now,
    { expectUniqueIdentifier: uniqueIdentifier },
  );
}

/** `POST /v1/packages:raw`: the body itself is the package (≤ 6 MiB, Lambda's payload limit). */
export const MAX_RAW_BYTES = 6 * 1024 * 1024;

export async function publishFromBytes(bytes: Buffer, caller: Caller, now: Date): Promise<PublishOutcome> {
  if (bytes.length > MAX_RAW_BYTES) {
    throw new PackageTooLargeError(
      `Raw publishing accepts up to ${MAX_RAW_BYTES} bytes; use POST /v1/uploads for larger packages.`,
    );
  }
  if (bytes.length === 0)
    throw new InvalidPackageError('The request body is empty; send the .difypkg bytes.');
  return withTempFile('package.difypkg', async (file) => {
    await writeFile(file, bytes);
    return publishFile(file, { type: 'package' }, caller, now);
  });
}
