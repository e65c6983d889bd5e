/**
 * `POST /v1/tenants/{t}/plans`: a dry run of installing plugins with their dependencies. Resolves
 * against the catalog, compares with what the tenant has, and runs the Verify rules on every
 * package the plan would change. Nothing is installed, no lease is taken, and nothing is written:
 * missing dependencies are explained, and fetched from their sources into the catalog only with
 * `fetch_missing: true` from a caller holding `packages:write`.
 */
import { listInstalledPlugins } from '#adapters/dynamo/installations.ts';
import type { PackageRecord, Publisher } from '#core/catalog.ts';
import type { CheckName, CheckResult } from '#core/deploy/verify.ts';
import { PROBLEM_TYPE_PREFIX, ValidationError } from '#core/errors.ts';
import { describePlan, type PlanStep, type Requirement, resolveDependencies } from '#core/resolver/index.ts';
import { isUniqueIdentifier, parseUniqueIdentifier } from '#core/unique-identifier.ts';
import { CatalogCandidatePort, type FetchedPackage } from './dependencies.ts';
import { catalogFetcher } from './dependencies-fetch.ts';
import { currentKeyring, packageChecks, resultingPackages, tenantPolicy } from './deploy-verify.ts';

export interface PlanRequest {
  install: string[];
  allow_prerelease?: boolean | undefined;
  /** Fetch and publish missing dependencies from their sources (needs `packages:write`). */
  fetch_missing?: boolean | undefined;
}

export interface CheckVerdict {
  status: 'pass' | 'fail';
  detail: string;
  /** The problem type a deployment would fail with. */
  type?: string;
}

export type PackageChecks = { unique_identifier: string; ok: boolean; publisher: Publisher | null } & Record<
  CheckName,
  CheckVerdict
>;

export interface InstallPlan {
  steps: PlanStep[];
  /** Unique identifiers in install order (dependencies first). */
  order: string[];
  checks: PackageChecks[];
  /** Packages brought into the catalog to resolve this plan. */
  fetched: FetchedPackage[];
}

const PLUGIN_RANGE = /^([a-z0-9_-]{1,64}\/[a-z0-9_-]{1,128})(?:@(.{1,128}))?$/;

/**
 * One install spec as a requirement: a unique identifier pins that build; `author/name@range`
 * (or just `author/name`, any version) asks for the highest satisfying version.
 *
 * @example requirementFromSpec('acme/search@^1.2') // { pluginId: 'acme/search', range: '^1.2' }
 */
export function requirementFromSpec(spec: string, index = 0): Requirement {
  // The guard narrows to string, which would leave `never` for the other branch.
  if (isUniqueIdentifier(spec as unknown)) {
    const parsed = parseUniqueIdentifier(spec);
    return { pluginId: parsed.pluginId, range: parsed.version, pinned: spec };
  }
  const match = PLUGIN_RANGE.exec(spec.trim());
  if (match === null) {
    throw new ValidationError(
      `"${spec.slice(0, 80)}" is neither a unique identifier nor author/name@range.`,
      [
        {
          path: `body.install.${index}`,
          message: 'must be author/name:version@checksum or author/name@range',
        },
      ],
    );
  }
  return { pluginId: match[1] as string, range: match[2] ?? '*' };
}

export async function planInstall(
  tenantId: string,
  request: PlanRequest,
  caller: { tenantId: string | null },
  now: Date,
): Promise<InstallPlan> {
  const roots = request.install.map((spec, index) => requirementFromSpec(spec, index));
  const installations = (await listInstalledPlugins(tenantId)).filter(
    (item) => item.status === 'installed' && item.version !== null,
  );
  const installed = new Map(installations.map((item) => [item.plugin_id, item.version as string]));
  // A plan is a dry run: it writes nothing unless asked to fetch (and the handler checked the scope).
  const port = new CatalogCandidatePort({
    tenantId,
    ...(request.fetch_missing === true ? { fetcher: catalogFetcher(caller, now) } : {}),
  });
  port.addRoots(roots);
  const allowPrerelease = request.allow_prerelease ?? false;
  const resolution = await resolveDependencies(port, { roots, installed, allowPrerelease });
  const steps = describePlan(resolution, installed);
  const records = resolution.order.map((candidate) => port.records.get(candidate.uniqueIdentifier));
  const planned = records.filter((record): record is PackageRecord => record !== undefined);
  const resulting = await resultingPackages(planned, installations);
  const policy = await tenantPolicy(tenantId);
  const keyring = await currentKeyring();
  const checks: PackageChecks[] = [];
  for (const step of steps) {
    if (step.action === 'keep') continue;
    const record = port.records.get(step.unique_identifier);
    if (record === undefined) continue;
    const results = await packageChecks({
      record,
      keyring,
      policy,
      operation: 'install',
      allowDowngrade: false,
      installedVersion: step.from,
      resulting,
      allowPrerelease,
    });
    checks.push(verdicts(step.unique_identifier, results, record.publisher ?? null));
  }
  return {
    steps,
    order: resolution.order.map((candidate) => candidate.uniqueIdentifier),
    checks,
    fetched: port.fetched,
  };
}

function verdicts(
  uniqueIdentifier: string,
  results: readonly CheckResult[],
  publisher: Publisher | null,
): PackageChecks {
  const entry: Record<string, unknown> = {
    unique_identifier: uniqueIdentifier,
    ok: results.every((result) => result.ok),
    publisher,
  };
  for (const result of results) {
    entry[result.check] = {
      status: result.ok ? 'pass' : 'fail',
      detail: result.detail,
      ...(result.slug === undefined || result.ok ? {} : { type: PROBLEM_TYPE_PREFIX + result.slug }),
    };
  }
  return entry as PackageChecks;
}
