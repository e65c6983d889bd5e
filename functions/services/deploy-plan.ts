/**
 * Resolving what a deployment does, from the catalog and the tenant's installation and history.
 * Used twice on purpose: by the API (so a request that cannot work fails fast with a 4xx) and by
 * the workflow's Resolve and Acquire steps (the authoritative plan, made again under the lease).
 */
import {
  findInstallation,
  findRevision,
  listInstalledPlugins,
  type StoredInstallation,
} from '#adapters/dynamo/installations.ts';
import { findPackage } from '#adapters/dynamo/packages.ts';
import type { PackageRecord } from '#core/catalog.ts';
import type { Deployment, DeploymentPlan, InstalledRef, PlanStep } from '#core/deploy/model.ts';
import { type PlannedPackage, planStep, rollbackRevisionNumber } from '#core/deploy/plan.ts';
import { NotFoundError } from '#core/errors.ts';
import { resolveDependencies } from '#core/resolver/index.ts';
import { isVisibleTo } from '#core/trust.ts';
import { parseUniqueIdentifier } from '#core/unique-identifier.ts';
import { CatalogCandidatePort } from './dependencies.ts';
import { catalogFetcher } from './dependencies-fetch.ts';

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

/** The catalogued package; with `forTenant`, only a build that tenant trusts (others are a 404). */
export async function requirePackage(uniqueIdentifier: string, forTenant?: string): Promise<PackageRecord> {
  const record = await findPackage(uniqueIdentifier);
  if (record === undefined || (forTenant !== undefined && !isVisibleTo(record, forTenant)))
    throw new NotFoundError(`Package ${uniqueIdentifier} is not in the catalog.`);
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
      return planStep({ ...base, target: plannedPackageOf(await requirePackage(uid, request.tenant_id)) });
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

/**
 * The whole plan of a deployment (DESIGN §6, §7): for install, upgrade and auto-upgrade the target
 * build and everything it depends on, resolved against the catalog (missing dependencies are
 * fetched from their sources) and what the tenant has, dependencies first; other operations change
 * their one plugin. The target's step is planned exactly as a single-plugin deployment's.
 */
export async function resolveDeploymentPlan(request: PlanRequest, now: Date): Promise<DeploymentPlan> {
  const pluginId = request.target.plugin_id;
  const uid = request.target.unique_identifier;
  if (pluginId === undefined) throw new Error('resolveDeploymentPlan: the deployment has no plugin_id');
  if (request.operation === 'uninstall' || request.operation === 'rollback' || uid === undefined) {
    const step = await resolvePlanStep(request);
    return { steps: [step], order: [step.plugin_id] };
  }
  const installations = new Map(
    (await listInstalledPlugins(request.tenant_id)).map((item) => [item.plugin_id, item]),
  );
  const installedVersions = new Map<string, string>();
  for (const item of installations.values()) {
    if (item.status === 'installed' && item.version !== null)
      installedVersions.set(item.plugin_id, item.version);
  }
  const port = new CatalogCandidatePort({
    tenantId: request.tenant_id,
    fetcher: catalogFetcher({ tenantId: request.tenant_id }, now),
  });
  const root = { pluginId, range: parseUniqueIdentifier(uid).version, pinned: uid };
  port.addRoots([root]);
  const resolution = await resolveDependencies(port, { roots: [root], installed: installedVersions });
  const steps: PlanStep[] = [];
  for (const candidate of resolution.order) {
    const record =
      port.records.get(candidate.uniqueIdentifier) ?? (await requirePackage(candidate.uniqueIdentifier));
    const installation = installations.get(candidate.pluginId);
    if (candidate.pluginId === pluginId) {
      steps.push(await resolvePlanStep(request, installation));
      continue;
    }
    const installed = installedRefOf(installation);
    steps.push(
      planStep({
        operation: installed.unique_identifier === null ? 'install' : 'upgrade',
        pluginId: candidate.pluginId,
        installed,
        target: plannedPackageOf(record),
        hasConfig: false,
      }),
    );
  }
  return { steps, order: steps.map((step) => step.plugin_id) };
}

/** Whether a plan step is one of the deployment's dependencies rather than its target. */
export function isDependencyStep(deployment: Pick<Deployment, 'target'>, step: PlanStep): boolean {
  return deployment.target.plugin_id !== undefined && step.plugin_id !== deployment.target.plugin_id;
}
