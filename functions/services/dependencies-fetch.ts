/**
 * Fetching missing dependencies through the ordinary publish path: the package is downloaded from
 * its source, inspected, checked against the requesting tenant's publish policy and catalogued,
 * exactly as `POST /v1/packages` would. The port bounds how many fetches one request may make.
 */
import { InvalidPackageError } from '#core/errors.ts';
import type { MissingFetcher } from './dependencies.ts';
import { publishGithubAsset, publishMarketplacePackage } from './sources.ts';

export function catalogFetcher(caller: { tenantId: string | null }, now: Date): MissingFetcher {
  return {
    async github(dependency) {
      const ref = { repo: dependency.repo, release: dependency.release, asset: dependency.package };
      return (await publishGithubAsset(ref, caller, now)).package;
    },
    async pinned(uniqueIdentifier) {
      const { package: record } = await publishMarketplacePackage(uniqueIdentifier, caller, now);
      if (record.unique_identifier !== uniqueIdentifier) {
        throw new InvalidPackageError(
          `The marketplace answered ${record.unique_identifier} for ${uniqueIdentifier}.`,
        );
      }
      return record;
    },
  };
}
