/** Response shapes shared by several routes. */
import type { PackageRecord } from '#core/catalog.ts';

/** A package as the API shows it: internal storage details stay inside. */
export function presentPackage(record: PackageRecord): Omit<PackageRecord, 'storage_key'> {
  const { storage_key: _storageKey, ...visible } = record;
  return visible;
}
