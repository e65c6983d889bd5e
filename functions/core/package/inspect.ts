/**
 * `inspectPackage`: the single entry point that turns an untrusted `.difypkg` into facts the rest
 * of pluginops relies on (identifier, manifest, signature). The API upload handler, the drop-folder
 * task, the CLI and the tests all go through it.
 */

import { type FieldError, InvalidManifestError, InvalidPackageError } from '#core/errors.ts';
import { type Manifest, PLUGIN_KINDS, parseManifest } from '#core/manifest.ts';
import { checkPep440Versions } from '#core/pep440.ts';
import { derivePluginCategory, type PluginCategory } from '#core/plugin-category.ts';
import { formatUniqueIdentifier, pluginIdOf } from '#core/unique-identifier.ts';
import { type ArchiveContents, type ArchiveEntry, MANIFEST_FILE, readArchive } from './archive.ts';
import type { ByteSource } from './byte-source.ts';
import { computeDifyChecksum } from './checksum.ts';
import { checkDeclarations, isDeclarationCandidate } from './declarations.ts';
import { type PackageLimits, resolvePackageLimits } from './limits.ts';
import {
  type Keyring,
  type SignatureResult,
  VERIFICATION_FILE,
  verifyPackageSignature,
} from './signature.ts';

export interface InspectOptions {
  /** Signers to check the signature against; an empty keyring makes every signature `invalid`. */
  readonly keyring: Keyring;
  /** Overrides of {@link DEFAULT_PACKAGE_LIMITS}. */
  readonly limits?: Partial<PackageLimits>;
  /** Tuning: hash raw bytes on a worker thread from this size (see `raw-sha256.ts`). */
  readonly workerThresholdBytes?: number;
}

export interface InspectedPackage {
  /** `author/name:version@checksum`, exactly as Dify computes it for the same file. */
  readonly uniqueIdentifier: string;
  /** `author/name`. */
  readonly pluginId: string;
  readonly version: string;
  /** Dify's checksum (hex SHA-256 over sorted name and content digests). */
  readonly checksum: string;
  /** Hex SHA-256 of the package file: its content address in storage. */
  readonly sha256: string;
  /** Package size in bytes. */
  readonly size: number;
  /** Number of entries (files) in the archive. */
  readonly entries: number;
  /** Sum of the inflated entry sizes. */
  readonly unpackedSize: number;
  readonly manifest: Manifest;
  /** Dify's category: tool > model > datasource > agent-strategy > trigger > extension. */
  readonly category: PluginCategory;
  readonly signature: SignatureResult;
}

/** `.verification.dify.json` is a one-line JSON object; anything larger is not Dify's. */
const MAX_VERIFICATION_FILE_BYTES = 64 * 1024;

/**
 * Reads the package once (streaming, never the whole file in memory) and checks it: archive
 * safety and size caps, required files, the manifest schema, that the icon(s) and every declared
 * plugin file exist, then computes Dify's checksum and verifies the signature. The raw SHA-256 is
 * computed in the same single read of the file (on a worker thread for large packages).
 *
 * A bad or missing signature does not fail inspection: `signature.status` reports it and the
 * tenant policy decides.
 *
 * @throws PackageTooLargeError (`package-too-large`), UnsafeArchiveError (`unsafe-archive`),
 *   InvalidPackageError (`invalid-package`), InvalidManifestError (`invalid-manifest`). A failing
 *   `source.read` is rethrown unchanged.
 * @example
 * const pkg = await inspectPackage(byteSourceFromBuffer(body), { keyring });
 * pkg.uniqueIdentifier // 'langgenius/demo:0.0.1@3f5a…'
 */
export async function inspectPackage(source: ByteSource, options: InspectOptions): Promise<InspectedPackage> {
  const limits = resolvePackageLimits(options.limits);
  let judged: ContentsJudgement | undefined;
  // One sequential read of the file serves both the entries and the raw SHA-256.
  const archive: ArchiveContents = await readArchive(source, {
    limits,
    collect: (name, size) =>
      name === MANIFEST_FILE ||
      (name === VERIFICATION_FILE && size <= MAX_VERIFICATION_FILE_BYTES) ||
      isDeclarationCandidate(name, size),
    rawSha256:
      options.workerThresholdBytes === undefined
        ? {}
        : { workerThresholdBytes: options.workerThresholdBytes },
    // Judged while the worker finishes the last CRC-32s and the raw hash; used only once
    // readArchive has verified everything (it rethrows a failure here only after its own checks).
    onEntriesRead: (entries, comment) => {
      judged = judgeContents(entries, comment, options.keyring);
    },
  });
  const { manifest, checksum, signature } =
    judged ?? judgeContents(archive.entries, archive.comment, options.keyring);
  const { author, name, version } = manifest;
  return {
    uniqueIdentifier: formatUniqueIdentifier({ author, name, version, checksum }),
    pluginId: pluginIdOf({ author, name }),
    version,
    checksum,
    sha256: archive.rawSha256 as string,
    size: source.size,
    entries: archive.entries.length,
    unpackedSize: archive.unpackedSize,
    manifest,
    category: derivePluginCategory(manifest),
    signature,
  };
}

interface ContentsJudgement {
  readonly manifest: Manifest;
  readonly checksum: string;
  readonly signature: SignatureResult;
}

/**
 * Everything decided from the entries' contents and digests: the verification file's size, the
 * manifest, referenced files, versions and declarations, then the checksum and the signature.
 */
function judgeContents(
  entries: ReadonlyArray<ArchiveEntry>,
  comment: Buffer,
  keyring: Keyring,
): ContentsJudgement {
  const verification = entries.find((entry) => entry.name === VERIFICATION_FILE);
  if (verification !== undefined && verification.content === undefined) {
    throw new InvalidPackageError(
      `${VERIFICATION_FILE} is larger than ${MAX_VERIFICATION_FILE_BYTES} bytes.`,
    );
  }
  const manifest: Manifest = parseManifest(decodeManifest(contentOf(entries, MANIFEST_FILE)));
  checkReferencedFiles(manifest, new Set(entries.map((entry) => entry.name)));
  checkPep440Versions(manifest);
  checkDeclarations(manifest, new Map(entries.map((entry) => [entry.name, entry.content])));

  const checksum = computeDifyChecksum(entries);
  const signature = verifyPackageSignature(
    {
      comment,
      digests: entries.map((entry) => entry.sha256),
      ...withVerificationFile(contentOf(entries, VERIFICATION_FILE)),
    },
    keyring,
  );
  return { manifest, checksum, signature };
}

function contentOf(entries: ReadonlyArray<ArchiveEntry>, name: string): Buffer | undefined {
  return entries.find((entry) => entry.name === name)?.content;
}

function withVerificationFile(content: Buffer | undefined): { verificationFile?: Buffer } {
  return content === undefined ? {} : { verificationFile: content };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeManifest(content: Buffer | undefined): string {
  if (content === undefined)
    throw new InvalidPackageError(`The package has no ${MANIFEST_FILE} at its root.`);
  try {
    return utf8.decode(content);
  } catch {
    throw new InvalidManifestError(`${MANIFEST_FILE} is not valid UTF-8 text.`, {
      errors: [{ path: '(root)', message: 'must be UTF-8 text' }],
    });
  }
}

/**
 * The icon (and dark icon) must exist under `_assets/` — Dify resolves `icon: icon.svg` to
 * `_assets/icon.svg` — and every declaration file listed under `plugins.*` must exist at the exact
 * path given (Dify opens it by that path; no normalization).
 */
function checkReferencedFiles(manifest: Manifest, names: ReadonlySet<string>): void {
  const errors: FieldError[] = [];
  const icons = [
    ['icon', manifest.icon],
    ['icon_dark', manifest.icon_dark],
  ] as const;
  for (const [path, icon] of icons) {
    if (icon === undefined || icon === null) continue;
    if (!names.has(`_assets/${icon}`)) {
      errors.push({ path, message: `_assets/${icon} does not exist in the package` });
    }
  }
  for (const kind of PLUGIN_KINDS) {
    (manifest.plugins[kind] ?? []).forEach((file, index) => {
      if (!names.has(file))
        errors.push({ path: `plugins.${kind}.${index}`, message: `${file} does not exist in the package` });
    });
  }
  if (errors.length > 0) {
    const summary = errors.map((e) => `${e.path}: ${e.message}`).join('; ');
    throw new InvalidManifestError(`manifest.yaml references missing files: ${summary}.`, { errors });
  }
}
