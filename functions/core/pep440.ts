/**
 * PEP 440 version parsing, as far as Dify applies it: Dify's API reads a plugin's `version` and
 * `meta.minimum_dify_version` with Python's `packaging.version.Version` (langgenius/dify
 * `api/core/plugin/entities/plugin.py`), which refuses anything that is not a PEP 440 version. So
 * `1.0.0-hotfix` passes the daemon's shape check but fails in Dify; `1.0.0-rc1`, `1.0.0-beta`,
 * `1.0.0-1` (a post-release) and `1.0.0-dev3` pass both.
 */
import { type FieldError, InvalidManifestError } from '#core/errors.ts';

// The canonical public-version grammar of PEP 440 (Appendix B), without epoch/local parts that a
// Dify version shape (`^\d{1,4}(\.\d{1,4}){2}(-\w{1,16})?$`) cannot contain anyway.
const PEP440 = new RegExp(
  '^v?' +
    '(?:[0-9]+(?:\\.[0-9]+)*)' + // release
    '(?:[-_.]?(?:alpha|a|beta|b|preview|pre|c|rc)[-_.]?[0-9]*)?' + // pre-release
    '(?:-[0-9]+|[-_.]?(?:post|rev|r)[-_.]?[0-9]*)?' + // post-release
    '(?:[-_.]?dev[-_.]?[0-9]*)?' + // development release
    '$',
  'i',
);

/**
 * @example isPep440Version('1.0.0-rc1') // true
 * @example isPep440Version('1.0.0-hotfix') // false
 */
export function isPep440Version(value: string): boolean {
  return PEP440.test(value.trim());
}

/**
 * The manifest fields Dify's API parses as PEP 440 versions.
 *
 * @throws InvalidManifestError naming each field that Dify's API would fail to parse.
 */
export function checkPep440Versions(manifest: {
  version: string;
  meta: { minimum_dify_version?: string | null | undefined };
}): void {
  const errors: FieldError[] = [];
  if (!isPep440Version(manifest.version)) {
    errors.push({
      path: 'version',
      message: `${manifest.version} is not a PEP 440 version (Dify's API refuses it)`,
    });
  }
  const minimum = manifest.meta.minimum_dify_version;
  if (typeof minimum === 'string' && !isPep440Version(minimum)) {
    errors.push({
      path: 'meta.minimum_dify_version',
      message: `${minimum} is not a PEP 440 version (Dify's API refuses it)`,
    });
  }
  if (errors.length > 0) {
    throw new InvalidManifestError(
      `manifest.yaml is invalid: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}.`,
      { errors },
    );
  }
}
