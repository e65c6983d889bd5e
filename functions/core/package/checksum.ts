/**
 * Dify's package checksum (dify-plugin-daemon `decoder.CalculateChecksum`), the `@<checksum>` part
 * of a unique identifier.
 */

import { createHash } from 'node:crypto';

/** An entry name with the SHA-256 of its content (raw 32 bytes). */
export interface EntryDigest {
  readonly name: string;
  readonly sha256: Uint8Array;
}

/**
 * For each entry: sha256(name) ‖ sha256(content), entries sorted by name, all concatenated and
 * hashed; hex. Names are compared as UTF-8 bytes, as Go's `slices.Sort` on strings does (JS string
 * order compares UTF-16 code units and differs for characters beyond U+FFFF).
 *
 * @example
 * computeDifyChecksum(entries.map(({ name, sha256 }) => ({ name, sha256 }))) // '3f5a…' (64 hex)
 */
export function computeDifyChecksum(entries: Iterable<EntryDigest>): string {
  const sorted = [...entries]
    .map((entry) => ({ nameBytes: Buffer.from(entry.name, 'utf8'), sha256: entry.sha256 }))
    .sort((a, b) => Buffer.compare(a.nameBytes, b.nameBytes));
  const all = createHash('sha256');
  for (const { nameBytes, sha256 } of sorted) {
    all.update(createHash('sha256').update(nameBytes).digest());
    all.update(sha256);
  }
  return all.digest('hex');
}
