/**
 * Plugin versions and version ranges.
 *
 * Dify's version shape is `^\d{1,4}(\.\d{1,4}){2}(-\w{1,16})?$`: three numeric parts and at most one
 * pre-release identifier of word characters (no dots). That is narrower than semver in one way (a
 * single pre-release identifier) and wider in two (leading zeros, `_` in the pre-release), so
 * Dify-shaped versions are ordered by semver's precedence rules implemented here rather than by
 * `semver.compare`, which would reject `1.0.0-rc_1` or `01.2.3`. Numbers that differ only in
 * leading zeros are equal (`01.2.3` = `1.2.3`), as in loose semver.
 */
import semver from 'semver';
import { ValidationError } from '#core/errors.ts';

/** Dify's `VERSION_PATTERN`, anchored. */
export const DIFY_VERSION_PATTERN = /^\d{1,4}(\.\d{1,4}){2}(-\w{1,16})?$/;

const DIFY_VERSION_PARTS = /^(\d{1,4})\.(\d{1,4})\.(\d{1,4})(?:-(\w{1,16}))?$/;
const MAX_RANGE_LENGTH = 256;
const NUMBER_WIDTH = 4;
const PRERELEASE_NUMBER_WIDTH = 16;

export type UpgradeStrategy = 'fix_only' | 'latest';

export interface PickUpgradeOptions {
  /** Also consider pre-releases (a tenant opt-in). Default false. */
  allowPrerelease?: boolean;
}

interface DifyVersionParts {
  major: number;
  minor: number;
  patch: number;
  prerelease: string | undefined;
}

/** True when `value` has Dify's version shape (`1.2.3`, `0.0.1-beta1`). */
export function isDifyVersion(value: unknown): value is string {
  return typeof value === 'string' && DIFY_VERSION_PATTERN.test(value);
}

function splitDifyVersion(version: string): DifyVersionParts | undefined {
  const match = DIFY_VERSION_PARTS.exec(version);
  if (match === null) return undefined;
  return {
    major: Number(match[1]),
    minor: Number(match[2]),
    patch: Number(match[3]),
    prerelease: match[4],
  };
}

/**
 * A string whose lexicographic (byte) order equals semver precedence for Dify-shaped versions; it is
 * the DynamoDB sort key of a version. Layout: `MMMM.mmmm.pppp` zero-padded, then `~` for a release
 * (`~` sorts after every character a pre-release key uses, so a release follows its pre-releases) or
 * `-` + pre-release key: `0` + the number padded to 16 digits for a numeric identifier (numeric
 * identifiers precede alphanumeric ones and compare numerically), `1` + the identifier otherwise.
 *
 * @example versionSortKey('1.2.3-beta') === '0001.0002.0003-1beta'
 * @throws ValidationError when `version` is not Dify-shaped.
 */
export function versionSortKey(version: string): string {
  const parts = splitDifyVersion(version);
  if (parts === undefined) throw invalidVersion(version);
  const core = [parts.major, parts.minor, parts.patch]
    .map((n) => String(n).padStart(NUMBER_WIDTH, '0'))
    .join('.');
  if (parts.prerelease === undefined) return `${core}~`;
  return `${core}-${prereleaseKey(parts.prerelease)}`;
}

function prereleaseKey(identifier: string): string {
  if (/^\d+$/.test(identifier)) {
    const digits = identifier.replace(/^0+(?=\d)/, '');
    return `0${digits.padStart(PRERELEASE_NUMBER_WIDTH, '0')}`;
  }
  return `1${identifier}`;
}

/**
 * Orders two versions by semver precedence: negative when `a < b`, 0 when equal, positive otherwise.
 * Dify-shaped versions are compared through {@link versionSortKey}; anything else must be valid
 * semver (e.g. a platform version `1.10.0-rc.1`).
 *
 * @throws ValidationError when a version is neither Dify-shaped nor valid semver.
 */
export function compareVersions(a: string, b: string): number {
  if (isDifyVersion(a) && isDifyVersion(b)) {
    const ka = versionSortKey(a);
    const kb = versionSortKey(b);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  }
  const sa = semver.valid(a, { loose: true });
  const sb = semver.valid(b, { loose: true });
  if (sa === null) throw invalidVersion(a);
  if (sb === null) throw invalidVersion(b);
  return semver.compare(sa, sb);
}

/** True when the version carries a pre-release part (`1.0.0-beta`). */
export function isPrerelease(version: string): boolean {
  const parts = splitDifyVersion(version);
  if (parts !== undefined) return parts.prerelease !== undefined;
  const prerelease = semver.prerelease(version, { loose: true });
  if (prerelease === null && semver.valid(version, { loose: true }) === null) throw invalidVersion(version);
  return prerelease !== null;
}

/**
 * The version auto-upgrade should move to: the highest of `available` that is strictly greater than
 * `current` and allowed by the strategy, or `undefined`. `fix_only` keeps major.minor and raises the
 * patch; `latest` takes anything newer. Pre-releases are skipped unless `allowPrerelease`. Entries
 * that are not Dify-shaped versions are ignored. Unlike Dify (which upgrades whenever the latest
 * version merely differs), this never picks a lower or equal version.
 *
 * @example pickUpgradeCandidate('1.2.3', ['1.2.5', '1.3.0'], 'fix_only') === '1.2.5'
 * @throws ValidationError when `current` is not Dify-shaped.
 */
export function pickUpgradeCandidate(
  current: string,
  available: readonly string[],
  strategy: UpgradeStrategy,
  options: PickUpgradeOptions = {},
): string | undefined {
  const allowPrerelease = options.allowPrerelease ?? false;
  const base = splitDifyVersion(current);
  if (base === undefined) throw invalidVersion(current);
  const currentKey = versionSortKey(current);

  let best: { version: string; key: string } | undefined;
  for (const candidate of available) {
    const parts = splitDifyVersion(candidate);
    if (parts === undefined) continue;
    if (!allowPrerelease && parts.prerelease !== undefined) continue;
    if (strategy === 'fix_only' && (parts.major !== base.major || parts.minor !== base.minor)) continue;
    const key = versionSortKey(candidate);
    if (key <= currentKey) continue;
    if (best === undefined || key > best.key) best = { version: candidate, key };
  }
  return best?.version;
}

const DIFY_VERSION_SOURCE = String.raw`\d{1,4}(?:\.\d{1,4}){2}(?:-\w{1,16})?`;
const COMPACT_HYPHEN_RANGE = new RegExp(`^(${DIFY_VERSION_SOURCE})-(${DIFY_VERSION_SOURCE})$`);

/**
 * Turns a Dify-written version range into a node-semver range string. Dify writes exact versions
 * (`1.2.3`), caret/tilde (`^1.2`, `~1.2.3`), wildcards (`1.x`, `1.2.x`, `*`) and hyphen ranges
 * without spaces (`1.0.0-2.0.0`), which node-semver would read as the pre-release `1.0.0-2.0.0`;
 * those become `1.0.0 - 2.0.0` (inclusive). Ranges that are already valid node-semver
 * (`>=1.0.0 <2.0.0`, `^1 || ^2`) pass through trimmed.
 *
 * @example normalizeDifyRange('1.0.0-2.0.0') === '1.0.0 - 2.0.0'
 * @throws ValidationError for empty, over-long or unparseable ranges.
 */
export function normalizeDifyRange(range: string): string {
  const trimmed = typeof range === 'string' ? range.trim() : '';
  if (trimmed === '' || trimmed.length > MAX_RANGE_LENGTH) throw invalidRange(range);
  const hyphen = COMPACT_HYPHEN_RANGE.exec(trimmed);
  const normalized = hyphen === null ? trimmed : `${hyphen[1]} - ${hyphen[2]}`;
  if (semver.validRange(normalized) === null) throw invalidRange(range);
  return normalized;
}

/**
 * True when `version` satisfies the (Dify-written or node-semver) range. Pre-releases only match
 * ranges that name a pre-release of the same major.minor.patch, as in node-semver.
 *
 * @throws ValidationError when the range is invalid.
 */
export function satisfiesRange(version: string, range: string): boolean {
  return semver.satisfies(version, normalizeDifyRange(range));
}

function invalidVersion(version: string): ValidationError {
  return new ValidationError(
    `"${String(version).slice(0, 64)}" is not a valid version (expected major.minor.patch with an optional -prerelease, e.g. 1.2.3).`,
  );
}

function invalidRange(range: string): ValidationError {
  return new ValidationError(
    `"${String(range).slice(0, 64)}" is not a valid version range (e.g. 1.2.3, ^1.2, ~1.2.3, 1.x, 1.0.0-2.0.0, >=1.0.0 <2.0.0).`,
  );
}
