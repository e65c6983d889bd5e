/** Response shapes shared by several routes. */
import type { PackageRecord } from '#core/catalog.ts';
import type { PublishOutcome } from '#services/publish.ts';

/** A package as the API shows it: internal storage details stay inside. */
export function presentPackage(record: PackageRecord): Omit<PackageRecord, 'storage_key'> {
  const { storage_key: _storageKey, ...visible } = record;
  return visible;
}

/** What publishing answers: the package, or for a bundle `{bundle, packages}`. */
export function presentPublished(outcome: PublishOutcome) {
  if (outcome.kind === 'package') return presentPackage(outcome.package);
  return { bundle: outcome.bundle, packages: outcome.packages.map(presentPackage) };
}
