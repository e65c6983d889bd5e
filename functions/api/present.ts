/** Response shapes shared by several routes. */
import type { PackageRecord } from '#core/catalog.ts';
import type { Manifest } from '#core/manifest.ts';
import { derivePluginCategory, type PluginCategory } from '#core/plugin-category.ts';
import type { PublishOutcome } from '#services/publish.ts';

/**
 * A package as the API shows it: internal storage details stay inside; the plugin `category` is
 * derived from the manifest as Dify derives it (`core/plugin-category.ts`).
 */
export function presentPackage(
  record: PackageRecord,
): Omit<PackageRecord, 'storage_key'> & { category: PluginCategory } {
  const { storage_key: _storageKey, ...visible } = record;
  return {
    ...visible,
    category: derivePluginCategory(record.manifest as unknown as Pick<Manifest, 'plugins'>),
  };
}

/** What publishing answers: the package, or for a bundle `{bundle, packages}`. */
export function presentPublished(outcome: PublishOutcome) {
  if (outcome.kind === 'package') return presentPackage(outcome.package);
  return { bundle: outcome.bundle, packages: outcome.packages.map(presentPackage) };
}
