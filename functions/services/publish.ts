/**
 * Publishing: every source (presigned upload, raw body, GitHub release, marketplace, drop folder)
 * ends here with a local file. The file is inspected (parse, checksum, signature against the
 * stage's signers), checked against the publishing tenant's policy, stored content-addressed in
 * S3, and catalogued. Same bytes again → the existing package, `created: false`.
 */
import type { Caller } from '#adapters/dynamo/api-keys.ts';
import { findPackageBySha256, putPackage } from '#adapters/dynamo/packages.ts';
import { loadAllSigners } from '#adapters/dynamo/signers.ts';
import { getStoredPolicy } from '#adapters/dynamo/tenants.ts';
import { publishEvent } from '#adapters/events.ts';
import { openFileByteSource } from '#adapters/file-byte-source.ts';
import { putFileOnce } from '#adapters/s3/blob-store.ts';
import {
  type PackageRecord,
  type PackageSignature,
  packageStorageKey,
  type SourceRef,
} from '#core/catalog.ts';
import { InvalidPackageError } from '#core/errors.ts';
import { inspectPackage } from '#core/package/inspect.ts';
import { assertPublishAllowed, effectivePolicy } from '#core/policy.ts';
import { stagePolicyDefaults } from './stage.ts';

export interface PublishResult {
  created: boolean;
  package: PackageRecord;
}

export async function publishPackageFile(
  filePath: string,
  source: SourceRef,
  caller: Pick<Caller, 'tenantId'>,
  now: Date,
  options: { expectUniqueIdentifier?: string } = {},
): Promise<PublishResult> {
  const signers = await loadAllSigners();
  const byteSource = await openFileByteSource(filePath);
  let inspected: Awaited<ReturnType<typeof inspectPackage>>;
  try {
    inspected = await inspectPackage(byteSource, {
      keyring: signers.map((signer) => ({ keyId: signer.key_id, publicKey: signer.public_key_pem })),
    });
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

  if (caller.tenantId !== null) {
    const policy = effectivePolicy(stagePolicyDefaults(), await getStoredPolicy(caller.tenantId));
    assertPublishAllowed(policy, {
      source: source.type,
      signature: { status: inspected.signature.status, keyId: inspected.signature.keyId },
    });
  }

  const existing = await findPackageBySha256(inspected.sha256);
  if (existing !== undefined) return { created: false, package: existing };

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
