/**
 * The Verify rules applied to stored packages, shared by the deploy workflow's Verify step (which
 * throws the first failure) and the plans dry run (which reports every verdict).
 */
import { findPackage } from '#adapters/dynamo/packages.ts';
import { loadAllSigners } from '#adapters/dynamo/signers.ts';
import { getStoredPolicy } from '#adapters/dynamo/tenants.ts';
import { openFileByteSource } from '#adapters/file-byte-source.ts';
import { downloadObjectToFile } from '#adapters/s3/blob-store.ts';
import { withTempFile } from '#adapters/temp-file.ts';
import type { PackageRecord } from '#core/catalog.ts';
import { checkDependencies, type ResultingPackage } from '#core/deploy/dependency-check.ts';
import type { DeploymentOperation } from '#core/deploy/model.ts';
import { type CheckResult, type FreshInspection, verifyDeployment } from '#core/deploy/verify.ts';
import { inspectPackage } from '#core/package/inspect.ts';
import type { Keyring } from '#core/package/signature.ts';
import { effectivePolicy, type TenantPolicy } from '#core/policy.ts';
import { MAX_PACKAGE_BYTES } from './sources.ts';
import { stagePolicyDefaults } from './stage.ts';

export async function tenantPolicy(tenantId: string): Promise<TenantPolicy> {
  return effectivePolicy(stagePolicyDefaults(), await getStoredPolicy(tenantId));
}

/** The signers trusted now (a revoked signer no longer verifies). */
export async function currentKeyring(): Promise<Keyring> {
  return (await loadAllSigners()).map((signer) => ({
    keyId: signer.key_id,
    publicKey: signer.public_key_pem,
  }));
}

/**
 * Re-reads the stored bytes: checksum, identity and signature are judged on what would be
 * installed, not on what the catalog says.
 */
export async function inspectStoredPackage(
  record: PackageRecord,
  keyring: Keyring,
): Promise<FreshInspection> {
  const inspected = await withTempFile('verify.difypkg', async (file) => {
    await downloadObjectToFile(record.storage_key, file, MAX_PACKAGE_BYTES);
    const source = await openFileByteSource(file);
    try {
      return await inspectPackage(source, { keyring });
    } finally {
      await source.close();
    }
  });
  return {
    uniqueIdentifier: inspected.uniqueIdentifier,
    sha256: inspected.sha256,
    signature: {
      status: inspected.signature.status,
      keyId: inspected.signature.keyId,
      authorizedCategory: inspected.signature.authorizedCategory,
    },
  };
}

export interface PackageCheckInput {
  record: PackageRecord;
  keyring: Keyring;
  policy: TenantPolicy;
  operation: DeploymentOperation;
  allowDowngrade: boolean;
  installedVersion: string | null;
  /** What the tenant runs once the plan is applied (for dependency integrity). */
  resulting: readonly ResultingPackage[];
  allowPrerelease?: boolean;
}

/** Every Verify rule for one package, in the order failures are reported. */
export async function packageChecks(input: PackageCheckInput): Promise<CheckResult[]> {
  const inspected = await inspectStoredPackage(input.record, input.keyring);
  return [
    ...verifyDeployment({
      operation: input.operation,
      allowDowngrade: input.allowDowngrade,
      record: input.record,
      inspected,
      policy: input.policy,
      installedVersion: input.installedVersion,
    }),
    checkDependencies(input.record.unique_identifier, input.record.dependencies, input.resulting, {
      allowPrerelease: input.allowPrerelease ?? false,
    }),
  ];
}

/**
 * What a tenant runs after a plan: the planned packages, plus every installed plugin the plan
 * leaves alone. Sources (for `github` dependencies) are read only when some package needs them.
 */
export async function resultingPackages(
  planned: readonly PackageRecord[],
  installed: ReadonlyArray<{ plugin_id: string; unique_identifier: string | null; version: string | null }>,
  removed: ReadonlySet<string> = new Set(),
): Promise<ResultingPackage[]> {
  const needSources = planned.some((record) =>
    record.dependencies.some((dependency) => (dependency as { type?: unknown }).type === 'github'),
  );
  const resulting: ResultingPackage[] = planned.map(toResulting);
  const plannedIds = new Set(planned.map((record) => record.plugin_id));
  for (const item of installed) {
    if (item.unique_identifier === null || item.version === null) continue;
    if (plannedIds.has(item.plugin_id) || removed.has(item.plugin_id)) continue;
    const record = needSources ? await findPackage(item.unique_identifier) : undefined;
    resulting.push(
      record === undefined
        ? { plugin_id: item.plugin_id, version: item.version, unique_identifier: item.unique_identifier }
        : toResulting(record),
    );
  }
  return resulting;
}

function toResulting(record: PackageRecord): ResultingPackage {
  return {
    plugin_id: record.plugin_id,
    version: record.version,
    unique_identifier: record.unique_identifier,
    source: record.source as ResultingPackage['source'],
  };
}
