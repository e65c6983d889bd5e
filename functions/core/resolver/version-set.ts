/**
 * A set of one plugin's catalogued candidates, as a bitset over the candidates' positions in the
 * plugin's catalogue (position 0 = highest version). Once the catalogue of a plugin is known its
 * version space is finite, so PubGrub's range algebra (union, intersection, complement) becomes
 * exact bit arithmetic instead of interval arithmetic over semver ranges, which node-semver cannot
 * intersect or complement.
 *
 * Sets are immutable by convention: every operation returns a new array.
 */
export type VersionSet = Uint32Array;

const WORD_BITS = 32;

function wordsFor(size: number): number {
  return Math.max(1, Math.ceil(size / WORD_BITS));
}

/** The empty set for a catalogue of `size` candidates. */
export function emptySet(size: number): VersionSet {
  return new Uint32Array(wordsFor(size));
}

/** Every candidate of a catalogue of `size`. */
export function fullSet(size: number): VersionSet {
  const set = new Uint32Array(wordsFor(size));
  for (let bit = 0; bit < size; bit += 1) set[bit >>> 5] = (set[bit >>> 5] as number) | (1 << (bit & 31));
  return set;
}

/** A set built from candidate positions. */
export function setOf(size: number, positions: Iterable<number>): VersionSet {
  const set = emptySet(size);
  for (const bit of positions) set[bit >>> 5] = (set[bit >>> 5] as number) | (1 << (bit & 31));
  return set;
}

export function hasMember(set: VersionSet, position: number): boolean {
  return (((set[position >>> 5] ?? 0) >>> (position & 31)) & 1) === 1;
}

export function intersect(a: VersionSet, b: VersionSet): VersionSet {
  const out = new Uint32Array(a.length);
  for (let i = 0; i < a.length; i += 1) out[i] = (a[i] as number) & (b[i] as number);
  return out;
}

export function union(a: VersionSet, b: VersionSet): VersionSet {
  const out = new Uint32Array(a.length);
  for (let i = 0; i < a.length; i += 1) out[i] = (a[i] as number) | (b[i] as number);
  return out;
}

/** `full ∖ a`; `full` bounds the complement to the catalogue. */
export function complement(a: VersionSet, full: VersionSet): VersionSet {
  const out = new Uint32Array(a.length);
  for (let i = 0; i < a.length; i += 1) out[i] = ~(a[i] as number) & (full[i] as number);
  return out;
}

export function isEmptySet(a: VersionSet): boolean {
  for (let i = 0; i < a.length; i += 1) if (a[i] !== 0) return false;
  return true;
}

export function isSubset(a: VersionSet, b: VersionSet): boolean {
  for (let i = 0; i < a.length; i += 1) if (((a[i] as number) & ~(b[i] as number)) !== 0) return false;
  return true;
}

export function areDisjoint(a: VersionSet, b: VersionSet): boolean {
  for (let i = 0; i < a.length; i += 1) if (((a[i] as number) & (b[i] as number)) !== 0) return false;
  return true;
}

export function sameSet(a: VersionSet, b: VersionSet): boolean {
  for (let i = 0; i < a.length; i += 1) if (a[i] !== b[i]) return false;
  return true;
}

export function countMembers(a: VersionSet): number {
  let count = 0;
  for (let i = 0; i < a.length; i += 1) {
    let word = (a[i] as number) >>> 0;
    while (word !== 0) {
      word &= word - 1;
      count += 1;
    }
  }
  return count;
}

/** Positions in ascending order (highest version first). */
export function membersOf(a: VersionSet): number[] {
  const out: number[] = [];
  for (let i = 0; i < a.length; i += 1) {
    const word = a[i] as number;
    if (word === 0) continue;
    for (let bit = 0; bit < WORD_BITS; bit += 1)
      if (((word >>> bit) & 1) === 1) out.push(i * WORD_BITS + bit);
  }
  return out;
}

/** A string equal for equal sets of the same catalogue (a map key). */
export function setKey(a: VersionSet): string {
  return Array.prototype.join.call(a, ',');
}

export function singletonOf(size: number, position: number): VersionSet {
  return setOf(size, [position]);
}
