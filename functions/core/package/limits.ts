/**
 * Size caps for reading untrusted packages (docs/design.md#security). Every cap is checked twice: against the
 * sizes the central directory declares (before a single byte is inflated) and against the bytes
 * actually produced while streaming, so a header that lies about its sizes gets no further than
 * its first excess inflate chunk.
 */

const KiB = 1024;
const MiB = 1024 * KiB;

export interface PackageLimits {
  /** Largest package (the zip file itself). Exceeding it is `package-too-large`. */
  readonly maxPackageBytes: number;
  /** Largest sum of all inflated entry sizes. */
  readonly maxUnpackedBytes: number;
  /** Most entries in the central directory. */
  readonly maxEntries: number;
  /** Largest `manifest.yaml` (inflated). */
  readonly maxManifestBytes: number;
  /** Highest inflated : compressed ratio, per entry and for the whole package. */
  readonly maxCompressionRatio: number;
  /**
   * Sizes below this floor are never treated as a bomb. Small, highly regular files compress far
   * beyond 100:1 (4 KiB of spaces deflates to ~20 bytes) and are harmless, so:
   * - an entry is ratio-checked only when it inflates to more than the floor;
   * - the whole package may inflate to `maxCompressionRatio × max(packageBytes, floor)`.
   * What small entries can add up to stays bounded by the total ratio and `maxUnpackedBytes`.
   */
  readonly compressionRatioFloorBytes: number;
}

/** The defaults from docs/design.md#security. */
export const DEFAULT_PACKAGE_LIMITS: PackageLimits = Object.freeze({
  maxPackageBytes: 50 * MiB,
  maxUnpackedBytes: 50 * MiB,
  maxEntries: 10_000,
  maxManifestBytes: 256 * KiB,
  maxCompressionRatio: 100,
  compressionRatioFloorBytes: 1 * MiB,
});

/**
 * Merges overrides onto the defaults and rejects nonsensical values (a programming error, hence a
 * plain `RangeError`).
 *
 * @example
 * resolvePackageLimits({ maxPackageBytes: 200 * 1024 * 1024 })
 */
export function resolvePackageLimits(overrides: Partial<PackageLimits> = {}): PackageLimits {
  const limits = { ...DEFAULT_PACKAGE_LIMITS };
  for (const [key, value] of Object.entries(overrides) as [keyof PackageLimits, number | undefined][]) {
    if (value === undefined) continue;
    if (!(key in DEFAULT_PACKAGE_LIMITS)) throw new RangeError(`unknown package limit: ${key}`);
    if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
      throw new RangeError(`package limit ${key} must be a non-negative number, got ${value}`);
    }
    limits[key] = value;
  }
  return Object.freeze(limits);
}

/** True when an entry of `inflatedBytes` from `compressedBytes` exceeds the per-entry ratio. */
export function exceedsEntryRatio(
  limits: PackageLimits,
  inflatedBytes: number,
  compressedBytes: number,
): boolean {
  if (inflatedBytes <= limits.compressionRatioFloorBytes) return false;
  return inflatedBytes > limits.maxCompressionRatio * compressedBytes;
}

/** Human-readable byte count for problem details (`1.5 MiB`). */
export function formatBytes(bytes: number): string {
  if (bytes < KiB) return `${bytes} B`;
  if (bytes < MiB) return `${Number((bytes / KiB).toFixed(1))} KiB`;
  return `${Number((bytes / MiB).toFixed(1))} MiB`;
}
