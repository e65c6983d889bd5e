/**
 * Publishing: every source (presigned upload, raw body, GitHub release, marketplace, drop folder)
 * ends here with a local file. The file is inspected (parse, checksum, signature against the
 * stage's signers), checked against the publishing tenant's policy, stored content-addressed in
 * S3, and catalogued. Same bytes again → the existing package, `created: false`.
 */

import { writeFile } from 'node:fs/promises';
import { findAuthorSigners, isAuthorGrantedTo } from '#adapters/dynamo/authors.ts';
import {
  addTenantPublisher,
  findPackage,
  findPackageBySha256,
  putPackage,
} from '#adapters/dynamo/packages.ts';
import { loadAllSigners } from '#adapters/dynamo/signers.ts';
import { getStoredPolicy } from '#adapters/dynamo/tenants.ts';
import { publishEvent } from '#adapters/events.ts';
import { openFileByteSource } from '#adapters/file-byte-source.ts';
import { putFileOnce } from '#adapters/s3/blob-store.ts';
import { withTempFile } from '#adapters/temp-file.ts';
import { ASSETS_PREFIX, BUNDLE_EXTENSION, readBundle } from '#core/bundle.ts';
import {
  type PackageRecord,
  type PackageSignature,
  packageStorageKey,
  type SourceRef,
} from '#core/catalog.ts';
import { ConflictError, InvalidManifestError, InvalidPackageError, ProblemError } from '#core/errors.ts';
import { byteSourceFromBuffer } from '#core/package/byte-source.ts';
import { type InspectedPackage, inspectPackage } from '#core/package/inspect.ts';
import type { Keyring } from '#core/package/signature.ts';
import { assertPublishAllowed, effectivePolicy } from '#core/policy.ts';
import {
  assertMayPublish,
  isVisibleTo,
  type PublishingCaller,
  publisherOf,
  supersedes,
} from '#core/trust.ts';
import { getConfig } from '#shared/config.ts';
import { stagePolicyDefaults } from './stage.ts';

export interface PublishResult {
  created: boolean;
  package: PackageRecord;
}

export async function publishPackageFile(
  filePath: string,
  source: SourceRef,
  caller: PublishingCaller,
  now: Date,
  options: { expectUniqueIdentifier?: string } = {},
): Promise<PublishResult> {
  const keyring = await stageKeyring();
  const byteSource = await openFileByteSource(filePath);
  let inspected: InspectedPackage;
  try {
    inspected = await inspectPackage(byteSource, { keyring });
  } finally {
    await byteSource.close();
  }

  if (
    options.expectUniqueIdentifier !== undefined &&
    inspected.uniqueIdentifier !== options.expectUniqueIdentifier
  ) {
    throw new InvalidPackageError(
      `The source answered ${inspected.uniqueIdentifier} for ${options.expectUniqueIdentifier}; nothing was published.`,
    );
  }

  await assertAllowed(inspected, source, caller);
  return catalogInspected(inspected, filePath, source, caller, now);
}

async function stageKeyring(): Promise<Keyring> {
  return (await loadAllSigners()).map((signer) => ({
    keyId: signer.key_id,
    publicKey: signer.public_key_pem,
  }));
}

async function assertAllowed(
  inspected: InspectedPackage,
  source: SourceRef,
  caller: PublishingCaller,
): Promise<void> {
  const author = inspected.manifest.author;
  const [boundSigners, grantedToCaller] = await Promise.all([
    findAuthorSigners(author),
    caller.tenantId === null ? Promise.resolve(false) : isAuthorGrantedTo(author, caller.tenantId),
  ]);
  assertMayPublish(
    {
      author,
      caller,
      signature: {
        status: inspected.signature.status,
        ...(inspected.signature.keyId === undefined ? {} : { key_id: inspected.signature.keyId }),
      },
    },
    { reserved: getConfig().reservedAuthors.includes(author), boundSigners, grantedToCaller },
  );
  if (caller.tenantId === null) return;
  const policy = effectivePolicy(stagePolicyDefaults(), await getStoredPolicy(caller.tenantId));
  assertPublishAllowed(policy, {
    source: source.type,
    signature: { status: inspected.signature.status, keyId: inspected.signature.keyId },
  });
}

/** Stores the inspected bytes content-addressed and catalogues the package (once). */
async function catalogInspected(
  inspected: InspectedPackage,
  filePath: string,
  source: SourceRef,
  caller: PublishingCaller,
  now: Date,
): Promise<PublishResult> {
  const existing = await findPackageBySha256(inspected.sha256);
  if (existing !== undefined) {
    const shared =
      caller.tenantId !== null && !isVisibleTo(existing, caller.tenantId)
        ? await addTenantPublisher(existing, caller.tenantId)
        : existing;
    return { created: false, package: shared };
  }

  const storageKey = packageStorageKey(inspected.sha256);
  await putFileOnce(storageKey, filePath, inspected.sha256);

  const signature: PackageSignature = { status: inspected.signature.status };
  if (inspected.signature.keyId !== undefined) signature.key_id = inspected.signature.keyId;
  if (inspected.signature.signedAt !== undefined) signature.signed_at = inspected.signature.signedAt;
  if (inspected.signature.authorizedCategory !== undefined) {
    signature.authorized_category = inspected.signature.authorizedCategory;
  }
  const manifest = inspected.manifest as unknown as Record<string, unknown>;
  const record: PackageRecord = {
    unique_identifier: inspected.uniqueIdentifier,
    plugin_id: inspected.pluginId,
    version: inspected.version,
    checksum: inspected.checksum,
    sha256: inspected.sha256,
    size: inspected.size,
    manifest,
    signature,
    source,
    dependencies: Array.isArray(manifest.dependencies) ? (manifest.dependencies as unknown[]) : [],
    storage_key: storageKey,
    published_at: now.toISOString(),
    publisher: publisherOf(caller, source, now),
  };
  const result = await putPackage(record);
  if (result.created) {
    await publishEvent('Package Published', {
      unique_identifier: record.unique_identifier,
      plugin_id: record.plugin_id,
      version: record.version,
      source: record.source.type,
      signature: record.signature.status,
      ...(caller.tenantId !== null ? { tenant_id: caller.tenantId } : {}),
    });
  }
  return result;
}

// ── Bundles ─────────────────────────────────────────────────────────────────────────────────────

/** A published bundle: the bundle itself is not catalogued, the packages it embeds are. */
export interface BundleSummary {
  author: string;
  name: string;
  version: string;
  sha256: string;
  size: number;
  manifest: Record<string, unknown>;
  /** The bundle's dependencies; embedded packages are named by the identifier they got. */
  dependencies: unknown[];
}

export type PublishOutcome =
  | ({ kind: 'package' } & PublishResult)
  | { kind: 'bundle'; created: boolean; bundle: BundleSummary; packages: PackageRecord[] };

/**
 * Publishes whatever the file is: a `.difybndl` bundle (by file name or by its manifest's
 * `type: bundle`) or a plain package.
 */
export async function publishFile(
  filePath: string,
  source: SourceRef,
  caller: PublishingCaller,
  now: Date,
  options: { expectUniqueIdentifier?: string; filename?: string | undefined } = {},
): Promise<PublishOutcome> {
  if (options.filename?.toLowerCase().endsWith(BUNDLE_EXTENSION)) {
    return publishBundleFile(filePath, source, caller, now);
  }
  try {
    return { kind: 'package', ...(await publishPackageFile(filePath, source, caller, now, options)) };
  } catch (error) {
    // A bundle fails the package manifest schema on `type` only; try it as a bundle then.
    const onType = error instanceof InvalidManifestError && error.errors?.some((e) => e.path === 'type');
    if (!onType || options.expectUniqueIdentifier !== undefined) throw error;
    try {
      return await publishBundleFile(filePath, source, caller, now);
    } catch (bundleError) {
      const notBundle =
        bundleError instanceof InvalidManifestError && bundleError.errors?.some((e) => e.path === 'type');
      throw notBundle ? error : bundleError;
    }
  }
}

/**
 * Publishes every package a bundle embeds, all or nothing: each is inspected and checked against
 * the publisher's policy (and against the catalog for a conflicting build) before the first one is
 * stored, so an invalid embedded package leaves the catalog untouched.
 */
export async function publishBundleFile(
  filePath: string,
  source: SourceRef,
  caller: PublishingCaller,
  now: Date,
): Promise<Extract<PublishOutcome, { kind: 'bundle' }>> {
  const keyring = await stageKeyring();
  const byteSource = await openFileByteSource(filePath);
  let bundle: Awaited<ReturnType<typeof readBundle>>;
  try {
    bundle = await readBundle(byteSource);
  } finally {
    await byteSource.close();
  }
  const { manifest } = bundle;
  const bundleRef = `${manifest.author}/${manifest.name}:${manifest.version}`;
  const embeddedSource: SourceRef = { ...source, bundle: bundleRef };
  const inspectedAll: Array<{ path: string; content: Buffer; inspected: InspectedPackage }> = [];
  for (const embedded of bundle.packages) {
    try {
      const inspected = await inspectPackage(byteSourceFromBuffer(embedded.content), { keyring });
      await assertAllowed(inspected, embeddedSource, caller);
      inspectedAll.push({ ...embedded, inspected });
    } catch (error) {
      throw inBundle(error, embedded.path);
    }
  }
  for (const { path, inspected } of inspectedAll) {
    const existing = await findPackage(inspected.uniqueIdentifier);
    const genuine = { sha256: inspected.sha256, signature: { status: inspected.signature.status } };
    if (existing !== undefined && existing.sha256 !== inspected.sha256 && !supersedes(genuine, existing)) {
      throw new ConflictError(
        `${path}: ${inspected.uniqueIdentifier} is already published from different bytes; nothing from the bundle was published.`,
      );
    }
  }
  const packages: PackageRecord[] = [];
  let created = false;
  for (const { content, inspected } of inspectedAll) {
    const result = await withTempFile('embedded.difypkg', async (file) => {
      await writeFile(file, content);
      return catalogInspected(inspected, file, embeddedSource, caller, now);
    });
    created ||= result.created;
    packages.push(result.package);
  }
  const byPath = new Map(inspectedAll.map((item) => [item.path, item.inspected.uniqueIdentifier]));
  return {
    kind: 'bundle',
    created,
    bundle: {
      author: manifest.author,
      name: manifest.name,
      version: manifest.version,
      sha256: bundle.sha256,
      size: bundle.size,
      manifest: { ...manifest },
      dependencies: manifest.dependencies.map((dependency) =>
        dependency.type === 'embedded'
          ? {
              type: 'package',
              unique_identifier: byPath.get(`${ASSETS_PREFIX}${dependency.path}`),
              path: dependency.path,
            }
          : dependency,
      ),
    },
    packages,
  };
}

/** The same problem, saying which embedded package it is about. */
function inBundle(error: unknown, path: string): unknown {
  if (!(error instanceof ProblemError)) return error;
  return new ProblemError(error.slug, `${path}: ${error.message} Nothing from the bundle was published.`, {
    ...(error.errors === undefined ? {} : { errors: error.errors }),
    extensions: { ...error.extensions, bundle_path: path },
    cause: error,
  });
}
