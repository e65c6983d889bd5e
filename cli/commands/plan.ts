/**
 * `pluginops plan <tenant> <unique_identifier|author/name@range>... [--checklist]`: what a
 * deployment would do (the server's dry run, `POST /v1/tenants/{t}/plans`), and with
 * `--checklist` the deployment verification checklist for each package (see cli/checklist.ts).
 * A server without the plan route still gets the checklist; plain `plan` then says so and exits 6.
 */
import type { Command } from 'commander';
import type {
  Deployment,
  Installation,
  PackageRecord,
  Page,
  Revision,
  TenantPolicy,
} from '#cli/api-types.ts';
import {
  CHECKLIST_ITEMS,
  type ChecklistItem,
  checklistFailed,
  type DependencyFinding,
  evaluateChecklist,
  type Fact,
} from '#cli/checklist.ts';
import { ApiClient, pluginPath, tenantPath } from '#cli/client.ts';
import { listInstallations } from '#cli/commands/status.ts';
import { shortIdentifier } from '#cli/deployment-view.ts';
import {
  CliExitError,
  type CliIo,
  EXIT_CODES,
  envOf,
  printJson,
  printTable,
  RemoteProblemError,
} from '#cli/output.ts';
import { resolveProfile } from '#cli/profiles.ts';
import {
  connect,
  isUniqueIdentifierText,
  parseTenantId,
  type RemoteOptions,
  remoteCommand,
} from '#cli/remote-command.ts';
import { type Problem, ValidationError } from '#core/errors.ts';
import { satisfiesRange } from '#core/version.ts';

/** Members of a plan's `checks[]` entry that are not check verdicts. */
const NOT_VERDICTS = new Set(['unique_identifier', 'ok', 'publisher']);

interface PlanOptions extends RemoteOptions {
  checklist: boolean;
  stagingTenant?: string;
  stagingProfile?: string;
}

export type PlanOutcome =
  | { kind: 'plan'; plan: Record<string, unknown> }
  | { kind: 'unavailable'; reason: string }
  | { kind: 'problem'; problem: Problem; error: RemoteProblemError };

export interface PackageChecklist {
  unique_identifier: string;
  plugin_id: string;
  target: string;
  items: ChecklistItem[];
}

export function planCommand(io: CliIo): Command {
  return remoteCommand('plan')
    .description(
      'Dry-run a deployment (what would change), optionally with the deployment verification checklist',
    )
    .argument('<tenant>', 'tenant id', parseTenantId)
    .argument(
      '<targets...>',
      'unique identifiers, or author/name@<semver range> (resolved against the catalog)',
    )
    .option(
      '--checklist',
      'evaluate the deployment verification checklist for each package (exit 5 if an automatic check fails)',
      false,
    )
    .option(
      '--staging-tenant <tenant>',
      'checklist "tested in staging": the tenant that must run the identifier',
      parseTenantId,
    )
    .option('--staging-profile <name>', 'the profile of the staging stage (default: the same connection)')
    .action(async (tenant: string, targets: string[], options: PlanOptions) => {
      for (const target of targets) parseTarget(target);
      const client = await connect(io, options);
      const outcome = await requestPlan(client, tenant, targets);
      if (!options.checklist) {
        if (outcome.kind === 'problem') throw outcome.error;
        if (outcome.kind === 'unavailable') {
          throw new CliExitError(
            `error[plans-unavailable] ${outcome.reason} Nothing was planned; run with --checklist for the checks the CLI can make itself.`,
            EXIT_CODES.notFound,
          );
        }
        if (options.json) printJson(io, { tenant_id: tenant, targets, plan: outcome.plan });
        else printPlan(io, outcome.plan);
        const rejected = planRejects(outcome.plan);
        if (rejected.length > 0) {
          throw new CliExitError(
            `error[plan-checks-failed] the deployment would be refused: ${rejected.join('; ')}`,
            EXIT_CODES.deploymentFailed,
          );
        }
        return;
      }

      const staging =
        options.stagingTenant === undefined
          ? undefined
          : {
              tenant: options.stagingTenant,
              client:
                options.stagingProfile === undefined
                  ? client
                  : new ApiClient(
                      await resolveProfile(
                        options.stagingProfile,
                        envOf(io),
                        (line) => io.stderr(`${line}\n`),
                        options.requestTimeout,
                      ),
                    ),
            };
      const checklists: PackageChecklist[] = [];
      for (const target of targets) {
        checklists.push(await checklistFor(client, tenant, target, outcome, staging));
      }
      const failed = checklists.some((entry) => checklistFailed(entry.items));
      if (options.json) {
        printJson(io, {
          tenant_id: tenant,
          targets,
          plan: outcome.kind === 'plan' ? outcome.plan : null,
          ...(outcome.kind === 'unavailable' ? { plan_unavailable: outcome.reason } : {}),
          ...(outcome.kind === 'problem' ? { plan_problem: outcome.problem } : {}),
          checklist: checklists,
          passed: !failed,
        });
      } else {
        if (outcome.kind === 'plan') printPlan(io, outcome.plan);
        else if (outcome.kind === 'unavailable') io.stderr(`note: ${outcome.reason}\n`);
        else
          io.stderr(
            `plan: error[${outcome.error.slug}] ${outcome.problem.title}: ${outcome.problem.detail}\n`,
          );
        for (const entry of checklists) printChecklist(io, entry);
      }
      if (failed) {
        const failing = checklists.flatMap((entry) =>
          entry.items
            .filter((item) => item.automatic && item.status === 'fail')
            .map((item) => `${shortIdentifier(entry.unique_identifier)} ${item.id}`),
        );
        throw new CliExitError(
          `error[checklist-failed] automatic checks failed: ${failing.join(', ')}`,
          EXIT_CODES.deploymentFailed,
        );
      }
    });
}

/** A target is a unique identifier or `author/name@range`; anything else is bad input. */
export function parseTarget(
  target: string,
): { uniqueIdentifier: string } | { pluginId: string; range: string } {
  if (isUniqueIdentifierText(target)) return { uniqueIdentifier: target };
  const match = /^([a-z0-9_-]{1,64}\/[a-z0-9_-]{1,128})@(.+)$/.exec(target);
  if (match?.[1] !== undefined && match[2] !== undefined) return { pluginId: match[1], range: match[2] };
  throw new ValidationError(`"${target}" is neither a unique identifier nor author/name@<range>.`, [
    { path: 'targets', message: target },
  ]);
}

async function requestPlan(client: ApiClient, tenant: string, targets: string[]): Promise<PlanOutcome> {
  try {
    const { body } = await client.post<Record<string, unknown>>(`${tenantPath(tenant)}/plans`, {
      json: { install: targets },
    });
    return { kind: 'plan', plan: body };
  } catch (error) {
    if (!(error instanceof RemoteProblemError)) throw error;
    const { status, detail } = error.problem;
    // The gateway's answer for a route it does not have (a stage older than the plan API).
    if (status === 405 || (status === 404 && /^No route/.test(detail))) {
      return {
        kind: 'unavailable',
        reason: `${client.describe()} has no plan API (POST ${tenantPath(tenant)}/plans answered ${status}).`,
      };
    }
    if (status === 422) return { kind: 'problem', problem: error.problem, error };
    throw error;
  }
}

async function checklistFor(
  client: ApiClient,
  tenant: string,
  target: string,
  outcome: PlanOutcome,
  staging: { tenant: string; client: ApiClient } | undefined,
): Promise<PackageChecklist> {
  const uniqueIdentifier = plannedIdentifier(target, outcome) ?? (await resolveTarget(client, target));
  const pkg = (await client.get<PackageRecord>(`/v1/packages/${encodeURIComponent(uniqueIdentifier)}`)).body;
  const items = evaluateChecklist({
    package: pkg,
    policy: await readPolicy(client, tenant),
    dependencies: await dependencyFindings(client, tenant, pkg, outcome),
    ...(staging === undefined ? {} : { staging: await stagingFact(staging, pkg.plugin_id) }),
    current: await currentFact(client, tenant, pkg.plugin_id),
  });
  return { unique_identifier: uniqueIdentifier, plugin_id: pkg.plugin_id, target, items };
}

/**
 * The exact build the server's plan chose for a target, so the checklist judges what a deployment
 * of this plan would install (the plan may keep an installed version, pick an older one to satisfy
 * a dependency, or pick one of several builds of a version). Undefined when there is no plan.
 */
export function plannedIdentifier(target: string, outcome: PlanOutcome): string | undefined {
  const parsed = parseTarget(target);
  if ('uniqueIdentifier' in parsed) return parsed.uniqueIdentifier;
  if (outcome.kind !== 'plan' || !Array.isArray(outcome.plan.steps)) return undefined;
  const steps = outcome.plan.steps as Array<{ plugin_id?: unknown; unique_identifier?: unknown }>;
  const step = steps.find((entry) => entry.plugin_id === parsed.pluginId);
  return typeof step?.unique_identifier === 'string' ? step.unique_identifier : undefined;
}

/**
 * Without a server plan (an older stage, or a plan the server refused): `author/name@range` → the
 * newest catalog version that satisfies it (pre-releases only if the range names one).
 */
async function resolveTarget(client: ApiClient, target: string): Promise<string> {
  const parsed = parseTarget(target);
  if ('uniqueIdentifier' in parsed) return parsed.uniqueIdentifier;
  const versions = await catalogVersions(client, parsed.pluginId);
  const match = versions.find((pkg) => satisfiesRange(pkg.version, parsed.range));
  if (match === undefined) {
    throw new RemoteProblemError(
      {
        type: 'urn:pluginops:problem:not-found',
        title: 'Not found',
        status: 404,
        detail: `No version of ${parsed.pluginId} in the catalog satisfies ${parsed.range} (have: ${versions.map((pkg) => pkg.version).join(', ') || 'none'}).`,
      },
      EXIT_CODES.notFound,
    );
  }
  return match.unique_identifier;
}

async function catalogVersions(client: ApiClient, pluginId: string): Promise<PackageRecord[]> {
  try {
    return (
      await client.get<Page<PackageRecord>>(`/v1/plugins/${pluginPath(pluginId)}/versions`, {
        query: { limit: 100 },
      })
    ).body.items;
  } catch (error) {
    if (error instanceof RemoteProblemError && error.problem.status === 404) return [];
    throw error;
  }
}

async function readPolicy(client: ApiClient, tenant: string): Promise<Fact<TenantPolicy>> {
  try {
    return (await client.get<TenantPolicy>(`${tenantPath(tenant)}/policy`)).body;
  } catch (error) {
    if (error instanceof RemoteProblemError && error.problem.status === 403) {
      return {
        unavailable: 'the tenant policy is not readable with this key (needs scope read on the tenant)',
      };
    }
    throw error;
  }
}

async function dependencyFindings(
  client: ApiClient,
  tenant: string,
  pkg: PackageRecord,
  outcome: PlanOutcome,
): Promise<Fact<{ via: 'plan' | 'catalog'; findings: DependencyFinding[] }>> {
  if (outcome.kind === 'problem') {
    return {
      via: 'plan',
      findings: [{ dependency: 'plan', status: 'missing', detail: outcome.problem.detail }],
    };
  }
  if (outcome.kind === 'plan') {
    const checks = Array.isArray(outcome.plan.checks)
      ? (outcome.plan.checks as Array<Record<string, unknown>>)
      : [];
    const check = checks.find((entry) => entry.unique_identifier === pkg.unique_identifier);
    if (check !== undefined && check.dependencies !== undefined) {
      const { ok, detail } = verdictOf(check.dependencies);
      return {
        via: 'plan',
        findings: ok ? [] : [{ dependency: 'dependencies', status: 'missing', detail }],
      };
    }
  }
  const declared = (
    pkg.dependencies.length > 0 ? pkg.dependencies : (pkg.manifest.dependencies ?? [])
  ) as Array<Record<string, string>>;
  const installed = await listInstallations(client, tenant);
  const findings: DependencyFinding[] = [];
  for (const dependency of declared) findings.push(await findDependency(client, dependency, installed));
  return { via: 'catalog', findings };
}

async function findDependency(
  client: ApiClient,
  dependency: Record<string, string>,
  installed: readonly Installation[],
): Promise<DependencyFinding> {
  switch (dependency.type) {
    case 'package': {
      const uid = dependency.unique_identifier ?? '';
      const name = `package ${shortIdentifier(uid)}`;
      try {
        await client.get(`/v1/packages/${encodeURIComponent(uid)}`);
        return { dependency: name, status: 'found', detail: 'in the catalog' };
      } catch (error) {
        if (error instanceof RemoteProblemError && error.problem.status === 404) {
          return { dependency: name, status: 'missing', detail: 'not in the catalog' };
        }
        throw error;
      }
    }
    case 'marketplace': {
      const plugin = dependency.plugin ?? '';
      const range = dependency.version ?? '*';
      const name = `${plugin} ${range}`;
      const have = installed.find((item) => item.plugin_id === plugin && item.status === 'installed');
      if (have?.version != null && satisfiesRange(have.version, range)) {
        return { dependency: name, status: 'found', detail: `installed ${have.version}` };
      }
      const match = (await catalogVersions(client, plugin)).find((pkg) => satisfiesRange(pkg.version, range));
      if (match !== undefined)
        return { dependency: name, status: 'found', detail: `catalog has ${match.version}` };
      return {
        dependency: name,
        status: 'unverifiable',
        detail: "not in this stage's catalog; deploy fetches it from the marketplace",
      };
    }
    case 'github':
      return {
        dependency: `github ${dependency.repo}@${dependency.release}`,
        status: 'unverifiable',
        detail: `${dependency.package} is fetched from GitHub at deploy time`,
      };
    default:
      return { dependency: JSON.stringify(dependency), status: 'missing', detail: 'unknown dependency type' };
  }
}

async function stagingFact(
  staging: { tenant: string; client: ApiClient },
  pluginId: string,
): Promise<Fact<{ tenant: string; installation: Installation | undefined }>> {
  try {
    const items = await listInstallations(staging.client, staging.tenant);
    return { tenant: staging.tenant, installation: items.find((item) => item.plugin_id === pluginId) };
  } catch (error) {
    if (error instanceof RemoteProblemError && [401, 403, 404].includes(error.problem.status)) {
      return {
        unavailable: `staging tenant ${staging.tenant} at ${staging.client.describe()}: ${error.problem.detail}`,
      };
    }
    throw error;
  }
}

async function currentFact(
  client: ApiClient,
  tenant: string,
  pluginId: string,
): Promise<Fact<{ installation: Installation | undefined; lastDeployment: Deployment | undefined }>> {
  const installation = (await listInstallations(client, tenant)).find((item) => item.plugin_id === pluginId);
  if (installation === undefined || installation.status !== 'installed')
    return { installation, lastDeployment: undefined };
  const revisions = await client.get<Page<Revision>>(
    `${tenantPath(tenant)}/installations/${pluginPath(pluginId)}/revisions`,
    {
      query: { limit: 1 },
    },
  );
  const deploymentId = revisions.body.items[0]?.deployment_id;
  if (deploymentId === undefined) return { installation, lastDeployment: undefined };
  try {
    const { body } = await client.get<Deployment>(
      `${tenantPath(tenant)}/deployments/${encodeURIComponent(deploymentId)}`,
    );
    return { installation, lastDeployment: body };
  } catch (error) {
    if (error instanceof RemoteProblemError && error.problem.status === 404)
      return { installation, lastDeployment: undefined };
    throw error;
  }
}

/** `unique_identifier name` of every plan check that fails. */
export function planRejects(plan: Record<string, unknown>): string[] {
  const checks = Array.isArray(plan.checks) ? (plan.checks as Array<Record<string, unknown>>) : [];
  return checks.flatMap((check) =>
    Object.entries(check)
      .filter(([name, value]) => !NOT_VERDICTS.has(name) && !verdictOf(value).ok)
      .map(([name]) => `${shortIdentifier(String(check.unique_identifier))} ${name}`),
  );
}

/** A plan check value: `{status: "pass"|"fail", detail}` today; booleans and strings are read too. */
export function verdictOf(value: unknown): { ok: boolean; detail: string } {
  if (value === true || value === false) return { ok: value, detail: String(value) };
  if (typeof value === 'string')
    return { ok: /^(ok|pass|passed|satisfied|resolved)$/i.test(value), detail: value };
  if (typeof value === 'object' && value !== null) {
    const { status, detail } = value as { status?: unknown; detail?: unknown };
    return {
      ok: /^(ok|pass|passed)$/i.test(String(status)),
      detail: typeof detail === 'string' ? detail : JSON.stringify(value),
    };
  }
  return { ok: false, detail: JSON.stringify(value) };
}

function describeSide(side: unknown): string | undefined {
  if (side === null || side === undefined) return undefined;
  if (typeof side === 'string') return shortIdentifier(side);
  const record = side as { unique_identifier?: string | null; version?: string | null };
  if (record.unique_identifier) return shortIdentifier(record.unique_identifier);
  return record.version ?? undefined;
}

function printPlan(io: CliIo, plan: Record<string, unknown>): void {
  const steps = Array.isArray(plan.steps) ? (plan.steps as Array<Record<string, unknown>>) : [];
  printTable(
    io,
    ['plugin', 'action', 'from', 'to'],
    steps.map((step) => [
      String(step.plugin_id),
      String(step.action),
      describeSide(step.from),
      describeSide(step.to),
    ]),
    '(nothing to do)',
  );
  if (Array.isArray(plan.order) && plan.order.length > 0) {
    io.stdout(`order: ${plan.order.map((entry) => shortIdentifier(String(entry))).join(' → ')}\n`);
  }
  if (Array.isArray(plan.fetched) && plan.fetched.length > 0) {
    io.stdout(
      `fetched: ${plan.fetched.map((entry) => (typeof entry === 'string' ? shortIdentifier(entry) : JSON.stringify(entry))).join(', ')}\n`,
    );
  }
  const checks = Array.isArray(plan.checks) ? (plan.checks as Array<Record<string, unknown>>) : [];
  for (const check of checks) {
    const failing = Object.entries(check)
      .filter(([name]) => !NOT_VERDICTS.has(name))
      .map(([name, value]) => [name, verdictOf(value)] as const)
      .filter(([, verdict]) => !verdict.ok);
    const uid = shortIdentifier(String(check.unique_identifier));
    if (failing.length === 0) io.stdout(`checks: ${uid}: all pass\n`);
    for (const [name, verdict] of failing) io.stdout(`checks: ${uid}: ${name} FAILS — ${verdict.detail}\n`);
  }
}

function printChecklist(io: CliIo, entry: PackageChecklist): void {
  io.stdout(`\nchecklist for ${entry.unique_identifier}\n`);
  const width = Math.max(...CHECKLIST_ITEMS.map((item) => item.id.length));
  for (const item of entry.items) {
    const mark = item.status === 'pass' ? '[x]' : item.status === 'fail' ? '[!]' : '[ ]';
    io.stdout(
      `  ${mark} ${item.status.padEnd(6)} ${item.automatic ? 'auto  ' : 'manual'} ${item.id.padEnd(width)}  ${item.title_zh} — ${item.detail}\n`,
    );
  }
}
