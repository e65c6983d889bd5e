/**
 * Planning a deployment from the catalog and the tenant's installations and history — one
 * implementation, used by the API (to refuse at once what cannot work, and to show the plan in the
 * 202 answer, never fetching) and by the workflow's Resolve step, which alone makes the plan the
 * run carries out: it may fetch missing dependencies (only for a requester with `packages:write`),
 * and it freezes the result with its basis. Acquire does not plan again: it only confirms the basis
 * under the lease (functions/services/deploy-workflow.ts).
 */
import { findInstallation, findRevision } from '#adapters/dynamo/installations.ts';
import { findPackage } from '#adapters/dynamo/packages.ts';
import type { PackageRecord } from '#core/catalog.ts';
import type { InstalledRef, PlanStep } from '#core/deploy/model.ts';
import { type PlannedPackage, planBasis, planStep, rollbackRevisionNumber } from '#core/deploy/plan.ts';
import type { DeployPlanner, PlanOptions, PlanRequest, StoredInstallation } from '#core/deploy/ports.ts';
import { NotFoundError } from '#core/errors.ts';
import { resolveDependencies } from '#core/resolver/index.ts';
import { isVisibleTo } from '#core/trust.ts';
import { parseUniqueIdentifier } from '#core/unique-identifier.ts';
import { assertNoDependents, CatalogCandidatePort } from './dependencies.ts';
import { catalogFetcher } from './dependencies-fetch.ts';

export type { PlanRequest } from '#core/deploy/ports.ts';

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

function pluginOf(request: PlanRequest): string {
  const pluginId = request.target.plugin_id;
  if (pluginId === undefined) throw new Error('a deployment names its plugin');
  return pluginId;
}

/**
 * The plan step for one plugin against what is installed now. `target` is the package already
 * chosen (install/upgrade by range), else the request's unique identifier is looked up.
 */
export async function resolvePlanStep(
  request: PlanRequest,
  installation: StoredInstallation | undefined,
  target?: PackageRecord,
): Promise<PlanStep> {
  const pluginId = pluginOf(request);
  const installed = installedRefOf(installation);
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
      const record = target ?? (uid === undefined ? undefined : await requirePackage(uid, request.tenant_id));
      if (record === undefined) throw new Error('resolvePlanStep: no target package');
      return planStep({ ...base, target: plannedPackageOf(record) });
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
 * The whole plan (DESIGN notes: docs/design.md): for install, upgrade and auto-upgrade the target
 * build — named exactly, or the highest catalogued version in the requested range — and everything
 * it depends on, dependencies first; other operations change their one plugin. The basis lists
 * every plugin the plan changes or relies on (an uninstall relies on every installed plugin: any of
 * them may depend on it).
 */
export async function planDeployment(
  request: PlanRequest,
  options: PlanOptions,
): Promise<{ steps: PlanStep[]; order: string[]; basis: Record<string, number>; fetched: string[] }> {
  const pluginId = pluginOf(request);
  const installations = new Map(options.installations.map((item) => [item.plugin_id, item]));
  if (request.operation === 'uninstall' || request.operation === 'rollback') {
    const step = await resolvePlanStep(request, installations.get(pluginId));
    const relied = request.operation === 'uninstall' ? [...installations.keys()] : [];
    return {
      steps: [step],
      order: [pluginId],
      basis: planBasis([pluginId, ...relied], options.installations),
      fetched: [],
    };
  }
  const installedVersions = new Map<string, string>();
  for (const item of installations.values()) {
    if (item.status === 'installed' && item.version !== null)
      installedVersions.set(item.plugin_id, item.version);
  }
  // Only builds this tenant trusts are candidates (docs/security.md); fetching only when allowed.
  const port = new CatalogCandidatePort({
    tenantId: request.tenant_id,
    ...(options.fetchMissing
      ? { fetcher: catalogFetcher({ tenantId: request.tenant_id }, options.now) }
      : {}),
  });
  const uid = request.target.unique_identifier;
  const root =
    uid === undefined
      ? { pluginId, range: request.target.version ?? '*' }
      : { pluginId, range: parseUniqueIdentifier(uid).version, pinned: uid };
  port.addRoots([root]);
  const resolution = await resolveDependencies(port, { roots: [root], installed: installedVersions }).catch(
    async (error: unknown) => {
      // An exact build the tenant cannot see (or that does not exist) is a 404, not an
      // unsatisfiable plan; looked up only when the plan fails, so a plan costs no extra read.
      if (uid !== undefined) await requirePackage(uid, request.tenant_id);
      throw error;
    },
  );
  const steps: PlanStep[] = [];
  // The resolution lists every package the target needs, installed ones it keeps included, so
  // the plan's own plugins are all it relies on.
  for (const candidate of resolution.order) {
    const record =
      port.records.get(candidate.uniqueIdentifier) ?? (await requirePackage(candidate.uniqueIdentifier));
    const installation = installations.get(candidate.pluginId);
    if (candidate.pluginId === pluginId) {
      steps.push(await resolvePlanStep(request, installation, record));
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
  const order = steps.map((step) => step.plugin_id);
  return {
    steps,
    order,
    basis: planBasis(order, options.installations),
    fetched: port.fetched.map((item) => item.unique_identifier),
  };
}

/** The planner port over the catalog (functions/core/deploy/ports.ts). */
export function catalogPlanner(): DeployPlanner {
  return {
    plan: planDeployment,
    assertNoDependents,
  };
}

/** Whether a plan step is one of the deployment's dependencies rather than its target. */
export function isDependencyStep(deployment: { target: { plugin_id?: string } }, step: PlanStep): boolean {
  return deployment.target.plugin_id !== undefined && step.plugin_id !== deployment.target.plugin_id;
}

/** The current installation of one plugin (for the API's fail-fast check). */
export { findInstallation };
