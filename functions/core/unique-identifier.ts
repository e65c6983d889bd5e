/**
 * Plugin ids (`author/name`) and unique identifiers (`author/name:version@checksum`).
 *
 * Dify's daemon accepts a wider shape (`PluginUniqueIdentifier`: optional author, name up to 255,
 * 2–4 version parts, 32–64 hex checksum). pluginops only creates and accepts what a manifest can
 * produce: author and name as in the manifest, Dify's three-part version and the 64-hex SHA-256
 * checksum Dify computes for a package, so every identifier we hold pins an exact build.
 */
import { type FieldError, ValidationError } from '#core/errors.ts';
import { compareVersions, isDifyVersion } from '#core/version.ts';

export const AUTHOR_PATTERN = /^[a-z0-9_-]{1,64}$/;
export const PLUGIN_NAME_PATTERN = /^[a-z0-9_-]{1,128}$/;
export const CHECKSUM_PATTERN = /^[a-f0-9]{64}$/;

const UNIQUE_IDENTIFIER_PATTERN =
  /^([a-z0-9_-]{1,64})\/([a-z0-9_-]{1,128}):(\d{1,4}(?:\.\d{1,4}){2}(?:-\w{1,16})?)@([a-f0-9]{64})$/;
const PLUGIN_ID_PATTERN = /^([a-z0-9_-]{1,64})\/([a-z0-9_-]{1,128})$/;

export interface PluginRef {
  author: string;
  name: string;
}

export interface UniqueIdentifierParts extends PluginRef {
  version: string;
  /** SHA-256 of the package as Dify computes it, 64 lowercase hex characters. */
  checksum: string;
}

export interface ParsedUniqueIdentifier extends UniqueIdentifierParts {
  /** `author/name`. */
  pluginId: string;
}

/** `author/name`. */
export function pluginIdOf(ref: PluginRef): string {
  return `${ref.author}/${ref.name}`;
}

/**
 * Builds `author/name:version@checksum`.
 *
 * @throws ValidationError naming each part that is malformed.
 */
export function formatUniqueIdentifier(parts: UniqueIdentifierParts): string {
  const errors: FieldError[] = [];
  if (!AUTHOR_PATTERN.test(parts.author))
    errors.push({ path: 'author', message: 'must match ^[a-z0-9_-]{1,64}$' });
  if (!PLUGIN_NAME_PATTERN.test(parts.name))
    errors.push({ path: 'name', message: 'must match ^[a-z0-9_-]{1,128}$' });
  if (!isDifyVersion(parts.version)) {
    errors.push({ path: 'version', message: 'must match ^\\d{1,4}(\\.\\d{1,4}){2}(-\\w{1,16})?$' });
  }
  if (!CHECKSUM_PATTERN.test(parts.checksum)) {
    errors.push({ path: 'checksum', message: 'must be 64 lowercase hex characters' });
  }
  if (errors.length > 0)
    throw new ValidationError('Cannot build a unique identifier from these parts.', errors);
  return `${pluginIdOf(parts)}:${parts.version}@${parts.checksum}`;
}

/** True when `value` is a well-formed `author/name:version@checksum`. */
export function isUniqueIdentifier(value: unknown): value is string {
  return typeof value === 'string' && UNIQUE_IDENTIFIER_PATTERN.test(value);
}

/**
 * Splits `author/name:version@checksum` into its parts.
 *
 * @example parseUniqueIdentifier('langgenius/demo:0.0.1@' + 'a'.repeat(64)).version === '0.0.1'
 * @throws ValidationError when the string is not a unique identifier.
 */
export function parseUniqueIdentifier(value: string): ParsedUniqueIdentifier {
  const match = typeof value === 'string' ? UNIQUE_IDENTIFIER_PATTERN.exec(value) : null;
  if (match === null) {
    throw new ValidationError(
      `"${String(value).slice(0, 300)}" is not a unique identifier: expected author/name:version@checksum ` +
        '(author ^[a-z0-9_-]{1,64}$, name ^[a-z0-9_-]{1,128}$, version like 1.2.3, checksum 64 lowercase hex).',
    );
  }
  const [, author = '', name = '', version = '', checksum = ''] = match;
  return { author, name, version, checksum, pluginId: `${author}/${name}` };
}

/**
 * Splits `author/name`.
 *
 * @throws ValidationError when the string is not a plugin id.
 */
export function parsePluginId(value: string): PluginRef {
  const match = typeof value === 'string' ? PLUGIN_ID_PATTERN.exec(value) : null;
  if (match === null) {
    throw new ValidationError(
      `"${String(value).slice(0, 200)}" is not a plugin id: expected author/name ` +
        '(author ^[a-z0-9_-]{1,64}$, name ^[a-z0-9_-]{1,128}$).',
    );
  }
  const [, author = '', name = ''] = match;
  return { author, name };
}

/**
 * Orders unique identifiers by plugin id, then version (semver precedence), then checksum; a total
 * order, usable with `Array.prototype.sort`.
 *
 * @throws ValidationError when either argument is not a unique identifier.
 */
export function compareUniqueIdentifiers(a: string, b: string): number {
  const pa = parseUniqueIdentifier(a);
  const pb = parseUniqueIdentifier(b);
  if (pa.pluginId !== pb.pluginId) return pa.pluginId < pb.pluginId ? -1 : 1;
  const byVersion = compareVersions(pa.version, pb.version);
  if (byVersion !== 0) return byVersion;
  if (pa.checksum !== pb.checksum) return pa.checksum < pb.checksum ? -1 : 1;
  // Versions equal by precedence but spelled differently (`01.2.3` vs `1.2.3`): keep the order total.
  return a < b ? -1 : a > b ? 1 : 0;
}
