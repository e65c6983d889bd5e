/**
 * `.difybndl` bundles (docs/design.md#dependencies): a zip with a bundle `manifest.yaml` at its root and the
 * `.difypkg` files it embeds under `_assets/`. The manifest follows Dify's plugin daemon
 * (`pkg/entities/bundle_entities`): `type: bundle`, `author`, `name`, `version`, `labels`,
 * `description`, `icon`, `tags`, and `dependencies`, each `{type, value}`:
 * - `marketplace` — `value.marketplace_pattern: "author/name:<version or range>"`;
 * - `github` — `value.repo_pattern: "owner/repo:<release>/<asset>.difypkg"`;
 * - `package` — `value.path`: a file under `_assets/` (Dify names it by the package's checksum).
 * pluginops' own flat dependency shape (`{type: marketplace, plugin, version}` …, see
 * `DependencySchema`) is accepted too. Pure: bytes come through the {@link ByteSource} port and
 * the archive is read by the same defensive reader, with the same limits, as packages.
 */
import { z } from 'zod';
import {
  type FieldError,
  formatIssuePath,
  InvalidManifestError,
  InvalidPackageError,
  PackageTooLargeError,
} from '#core/errors.ts';
import { DependencySchema, type ManifestDependency, readYaml } from '#core/manifest.ts';
import { DIFY_VERSION_PATTERN, normalizeDifyRange } from '#core/version.ts';
import { MANIFEST_FILE, readArchive } from './package/archive.ts';
import type { ByteSource } from './package/byte-source.ts';
import { formatBytes, type PackageLimits, resolvePackageLimits } from './package/limits.ts';

export const BUNDLE_EXTENSION = '.difybndl';
export const ASSETS_PREFIX = '_assets/';

/** A dependency of a bundle, normalized: pluginops' shapes plus a package embedded in the bundle. */
export type BundleDependency = ManifestDependency | { type: 'embedded'; path: string };

export interface BundleManifest {
  type: 'bundle';
  author: string;
  name: string;
  version: string;
  dependencies: BundleDependency[];
  /** Everything else the manifest says (labels, description, icon, tags, unknown keys). */
  [key: string]: unknown;
}

export interface EmbeddedPackage {
  /** Path inside the bundle (`_assets/<path>`). */
  path: string;
  content: Buffer;
}

export interface InspectedBundle {
  manifest: BundleManifest;
  /** Every embedded package, in the order the manifest lists them, then other `_assets/*.difypkg`. */
  packages: EmbeddedPackage[];
  sha256: string;
  size: number;
}

const MARKETPLACE_PATTERN = /^([a-z0-9_-]{1,64}\/[a-z0-9_-]{1,128}):(.{1,64})$/;
const GITHUB_PATTERN =
  /^([A-Za-z0-9][A-Za-z0-9-]{0,38}\/[A-Za-z0-9._-]{1,100}):([^/]{1,255})\/([^/]{1,255})$/;

const isRange = (value: string) => {
  try {
    normalizeDifyRange(value);
    return true;
  } catch {
    return false;
  }
};

const DifyDependencySchema = z.discriminatedUnion('type', [
  z.looseObject({
    type: z.literal('marketplace'),
    value: z.looseObject({
      marketplace_pattern: z
        .string()
        .regex(MARKETPLACE_PATTERN, 'must be author/name:<version or range>')
        .refine(
          (value) => isRange(value.slice(value.indexOf(':') + 1)),
          'must end with a valid version range',
        ),
    }),
  }),
  z.looseObject({
    type: z.literal('github'),
    value: z.looseObject({
      repo_pattern: z
        .string()
        .regex(GITHUB_PATTERN, 'must be owner/repo:<release>/<asset>.difypkg')
        .refine((value) => value.endsWith('.difypkg'), 'must name a .difypkg release asset'),
    }),
  }),
  z.looseObject({
    type: z.literal('package'),
    value: z.looseObject({
      path: z
        .string()
        .min(1)
        .max(255)
        .refine(
          (value) => !value.startsWith('/') && !value.split('/').some((part) => part === '..' || part === ''),
          'must be a file name under _assets/',
        ),
    }),
  }),
]);

const BundleManifestSchema = z.looseObject({
  type: z.literal('bundle'),
  author: z.string().regex(/^[a-z0-9_-]{1,64}$/, 'must match ^[a-z0-9_-]{1,64}$'),
  name: z.string().regex(/^[a-z0-9_-]{1,128}$/, 'must match ^[a-z0-9_-]{1,128}$'),
  version: z.string().regex(DIFY_VERSION_PATTERN, 'must be a version like 1.2.3'),
  dependencies: z
    .array(z.union([DifyDependencySchema, DependencySchema]))
    .min(1, 'a bundle must list at least one dependency')
    .max(256),
});

/**
 * Validates a parsed bundle manifest and normalizes its dependencies.
 *
 * @example validateBundleManifest(yaml).dependencies[0] // { type: 'marketplace', plugin: 'a/b', version: '^1.0.0' }
 * @throws InvalidManifestError naming every offending field path.
 */
export function validateBundleManifest(value: unknown): BundleManifest {
  const result = BundleManifestSchema.safeParse(value);
  if (!result.success) {
    const errors: FieldError[] = result.error.issues
      .slice(0, 50)
      .map((issue) => ({ path: formatIssuePath(issue.path), message: issue.message }));
    const summary = errors
      .slice(0, 3)
      .map((error) => `${error.path}: ${error.message}`)
      .join('; ');
    throw new InvalidManifestError(`The bundle manifest.yaml is invalid: ${summary}.`, { errors });
  }
  return { ...result.data, dependencies: result.data.dependencies.map(normalizeDependency) };
}

function normalizeDependency(
  dependency: z.output<typeof DifyDependencySchema> | ManifestDependency,
): BundleDependency {
  if (!('value' in dependency) || dependency.value === undefined) return dependency as ManifestDependency;
  const dify = dependency as z.output<typeof DifyDependencySchema>;
  switch (dify.type) {
    case 'marketplace': {
      const [, plugin, version] = MARKETPLACE_PATTERN.exec(dify.value.marketplace_pattern) as RegExpExecArray;
      return { type: 'marketplace', plugin: plugin as string, version: version as string };
    }
    case 'github': {
      const [, repo, release, asset] = GITHUB_PATTERN.exec(dify.value.repo_pattern) as RegExpExecArray;
      return { type: 'github', repo: repo as string, release: release as string, package: asset as string };
    }
    case 'package':
      return { type: 'embedded', path: dify.value.path };
  }
}

/** True when a manifest (already read as YAML) declares `type: bundle`. */
export function isBundleManifest(value: unknown): boolean {
  return typeof value === 'object' && value !== null && (value as { type?: unknown }).type === 'bundle';
}

/**
 * Reads a bundle: archive safety and size caps as for a package, the bundle manifest, and the
 * bytes of every embedded package (each at most `maxPackageBytes`, all together too, since they
 * are held in memory to be inspected one by one). Embedded packages are not inspected here.
 *
 * @throws PackageTooLargeError, UnsafeArchiveError, InvalidPackageError, InvalidManifestError.
 */
export async function readBundle(
  source: ByteSource,
  options: { limits?: Partial<PackageLimits> } = {},
): Promise<InspectedBundle> {
  const limits = resolvePackageLimits(options.limits);
  let embeddedBytes = 0;
  const archive = await readArchive(source, {
    limits,
    rawSha256: {},
    collect: (name, size) => {
      if (name === MANIFEST_FILE) return size <= limits.maxManifestBytes;
      if (!name.startsWith(ASSETS_PREFIX)) return false;
      embeddedBytes += size;
      if (embeddedBytes > limits.maxPackageBytes) {
        throw new PackageTooLargeError(
          `The bundle's embedded files exceed ${formatBytes(limits.maxPackageBytes)} together.`,
        );
      }
      return true;
    },
  });
  const manifestEntry = archive.entries.find((entry) => entry.name === MANIFEST_FILE);
  if (manifestEntry?.content === undefined) {
    throw new InvalidPackageError(`The bundle has no ${MANIFEST_FILE} at its root (or it is too large).`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(manifestEntry.content);
  } catch {
    throw new InvalidManifestError(`${MANIFEST_FILE} is not valid UTF-8 text.`);
  }
  const manifest = validateBundleManifest(readYaml(text));
  const assets = new Map(
    archive.entries.flatMap((entry) =>
      entry.content !== undefined && entry.name.startsWith(ASSETS_PREFIX)
        ? [[entry.name, entry.content]]
        : [],
    ),
  );
  const paths: string[] = [];
  for (const dependency of manifest.dependencies) {
    if (dependency.type !== 'embedded') continue;
    const path = ASSETS_PREFIX + dependency.path;
    if (!assets.has(path)) {
      throw new InvalidPackageError(`The bundle lists the package ${path}, which it does not contain.`);
    }
    if (!paths.includes(path)) paths.push(path);
  }
  for (const name of [...assets.keys()].sort()) {
    if (name.endsWith('.difypkg') && !paths.includes(name)) paths.push(name);
  }
  if (paths.length === 0 && manifest.dependencies.every((dependency) => dependency.type === 'embedded')) {
    throw new InvalidPackageError('The bundle embeds no package.');
  }
  return {
    manifest,
    packages: paths.map((path) => ({ path, content: assets.get(path) as Buffer })),
    sha256: archive.rawSha256 as string,
    size: source.size,
  };
}
