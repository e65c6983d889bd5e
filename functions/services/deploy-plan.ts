/**
 * Resolving what a deployment does, from the catalog and the tenant's installation and history.
 * Used twice on purpose: by the API (so a request that cannot work fails fast with a 4xx) and by
 * the workflow's Resolve and Acquire steps (the authoritative plan, made again under the lease).
 */
import { findInstallation, findRevision, type StoredInstallation } from '#adapters/dynamo/installations.ts';
import { findPackage } from '#adapters/dynamo/packages.ts';
import type { PackageRecord } from '#core/catalog.ts';
import type { Deployment, InstalledRef, PlanStep } from '#core/deploy/model.ts';
import { type PlannedPackage, planStep, rollbackRevisionNumber } from '#core/deploy/plan.ts';
import { NotFoundError } from '#core/errors.ts';

export function installedRefOf(installation: StoredInstallation | undefined): InstalledRef {
  return {
    unique_identifier: installation?.unique_identifier ?? null,
    version: installation?.version ?? null,
    revision: installation?.revision ?? 0,
  };
}

export function plannedPackageOf(record: PackageRecord): PlannedPackage {
  return {
    unique_identifier: record.unique_identifier,
    plugin_id: record.plugin_id,
    version: record.version,
    storage_key: record.storage_key,
    sha256: record.sha256,
  };
}

export async function requirePackage(uniqueIdentifier: string): Promise<PackageRecord> {
  const record = await findPackage(uniqueIdentifier);
  if (record === undefined) throw new NotFoundError(`Package ${uniqueIdentifier} is not in the catalog.`);
  return record;
}

export type PlanRequest = Pick<
  Deployment,
  'tenant_id' | 'operation' | 'target' | 'expected_current' | 'has_config'
> & { target: { plugin_id?: string } };

/**
 * The plan step for a deployment against what is installed now (`installation` when the caller
 * already read it).
 */
export async function resolvePlanStep(
  request: PlanRequest,
  installation?: StoredInstallation,
): Promise<PlanStep> {
  const pluginId = request.target.plugin_id;
  if (pluginId === undefined) throw new Error('resolvePlanStep: the deployment has no plugin_id');
  const current = installation ?? (await findInstallation(request.tenant_id, pluginId));
  const installed = installedRefOf(current);
  const base = {
    operation: request.operation,
    pluginId,
    installed,
    expectedCurrent: request.expected_current,
    hasConfig: request.has_config,
  };
  switch (request.operation) {
    case 'install':
    case 'upgrade':
    case 'auto-upgrade': {
      const uid = request.target.unique_identifier;
      if (uid === undefined) throw new Error('resolvePlanStep: install without unique_identifier');
      return planStep({ ...base, target: plannedPackageOf(await requirePackage(uid)) });
    }
    case 'uninstall':
      return planStep(base);
    case 'rollback': {
      const number = rollbackRevisionNumber(installed.revision, request.target.to_revision);
      const revision = await findRevision(request.tenant_id, pluginId, number);
      if (revision === undefined)
        throw new NotFoundError(`Revision ${number} of ${pluginId} does not exist.`);
      const restored =
        revision.unique_identifier === null ? undefined : await requirePackage(revision.unique_identifier);
      return planStep({
        ...base,
        restore: {
          revision,
          ...(restored === undefined ? {} : { package: plannedPackageOf(restored) }),
        },
      });
    }
  }
}
