/**
 * The resolver's candidate port over the package catalog (docs/design.md#dependencies), and the
 * fetching of missing dependencies from their sources while resolving ("fetch missing deps").
 *
 * Every catalogued version of a plugin becomes a candidate whose requirements are its manifest
 * `dependencies`. A `github` dependency names a release asset, not a plugin: with a fetcher it is
 * fetched and published, then required by the unique identifier it got; without one (or when the
 * fetch fails) it stands for a plugin the catalog does not have, so the resolver explains it as
 * missing instead of failing on a version that may never be chosen.
 */
import { listInstalledPlugins } from '#adapters/dynamo/installations.ts';
import { findPackage, listPluginVersions } from '#adapters/dynamo/packages.ts';
import type { PackageRecord } from '#core/catalog.ts';
import { ConflictError, ProblemError } from '#core/errors.ts';
import { DependencySchema, type ManifestDependency } from '#core/manifest.ts';
import type { Page } from '#core/page.ts';
import {
  type Candidate,
  type CandidatePort,
  type Requirement,
  requirementFromDependency,
} from '#core/resolver/index.ts';
import { visibleTo } from '#core/trust.ts';

export type GithubDependency = Extract<ManifestDependency, { type: 'github' }>;

/** One page of a plugin's catalogued versions (the catalog repository's shape). */
export type ListVersionsPage = (
  pluginId: string,
  limit: number,
  cursor: string | undefined,
) => Promise<Page<PackageRecord>>;

/** Brings missing packages into the catalog through the ordinary publish path. */
export interface MissingFetcher {
  /** Downloads and publishes a GitHub release asset; returns its catalogued package. */
  github(dependency: GithubDependency): Promise<PackageRecord>;
  /** Downloads and publishes one exact build from the marketplace. */
  pinned(uniqueIdentifier: string): Promise<PackageRecord>;
}

export interface CatalogPortOptions {
  listPage?: ListVersionsPage;
  /**
   * The tenant the resolution is for: only the builds it trusts are candidates (docs/security.md,
   * "What a tenant trusts"). `null` (operator view) lists every build.
   */
  tenantId: string | null;
  /** Without a fetcher nothing is fetched: missing packages stay missing. */
  fetcher?: MissingFetcher;
  /** Deepest dependency level fetched (roots are level 0). Default 5. */
  maxDepth?: number;
  /** Most fetches for one request. Default 20. */
  maxFetches?: number;
}

export const DEFAULT_MAX_FETCH_DEPTH = 5;
export const DEFAULT_MAX_FETCHES = 20;
const PAGE_SIZE = 100;

/** The plugin id a github dependency stands for until it is fetched (never a real plugin id). */
export function githubPlaceholderId(dependency: GithubDependency): string {
  return `github:${dependency.repo}@${dependency.release}/${dependency.package}`;
}

/** What a fetch brought in, for the response and the logs. */
export interface FetchedPackage {
  unique_identifier: string;
  from: string;
}

/**
 * The catalog as a {@link CandidatePort}. One instance serves one resolution: it remembers the
 * records it listed (`records`), how deep each plugin sits under the request, and what it fetched.
 */
export class CatalogCandidatePort implements CandidatePort {
  /** Every record listed or fetched, by unique identifier. */
  readonly records = new Map<string, PackageRecord>();
  readonly fetched: FetchedPackage[] = [];
  private readonly listPage: ListVersionsPage;
  private readonly tenantId: string | null;
  private readonly fetcher: MissingFetcher | undefined;
  private readonly maxDepth: number;
  private readonly maxFetches: number;
  private readonly depth = new Map<string, number>();
  private readonly wantedPins = new Map<string, Set<string>>();
  private readonly githubRequirements = new Map<string, Promise<Requirement>>();
  private fetchCount = 0;

  constructor(options: CatalogPortOptions) {
    this.listPage = options.listPage ?? listPluginVersions;
    this.tenantId = options.tenantId;
    this.fetcher = options.fetcher;
    this.maxDepth = options.maxDepth ?? DEFAULT_MAX_FETCH_DEPTH;
    this.maxFetches = options.maxFetches ?? DEFAULT_MAX_FETCHES;
  }

  /** Registers the request's requirements (level 0), so a pinned root missing here can be fetched. */
  addRoots(roots: readonly Requirement[]): void {
    for (const root of roots) this.noteRequirement(root, 0);
  }

  async versionsOf(pluginId: string): Promise<Candidate[]> {
    let records = await this.listAll(pluginId);
    const level = this.depth.get(pluginId) ?? 0;
    if (this.fetcher !== undefined) {
      const fetcher = this.fetcher;
      const missing = [...(this.wantedPins.get(pluginId) ?? [])].filter(
        (pin) => !records.some((record) => record.unique_identifier === pin),
      );
      for (const pin of missing.sort()) {
        await this.fetchBounded(pin, level, `the marketplace (${pin})`, () => fetcher.pinned(pin)).catch(
          (error: unknown) => {
            if (!(error instanceof ProblemError) || error.slug === 'dependency-unsatisfiable') throw error;
          },
        );
      }
      if (missing.length > 0) records = await this.listAll(pluginId);
    }
    const candidates: Candidate[] = [];
    // Newest first and one at a time, so fetches happen in a reproducible order.
    for (const record of records) candidates.push(await this.candidateOf(record, level));
    return candidates;
  }

  /** A catalogued package as a resolver candidate. */
  async candidateOf(record: PackageRecord, level: number): Promise<Candidate> {
    this.records.set(record.unique_identifier, record);
    const dependencies: Requirement[] = [];
    for (const raw of record.dependencies) {
      const parsed = DependencySchema.safeParse(raw);
      // Stored packages passed the manifest schema when published; an unreadable entry is ignored.
      if (!parsed.success) continue;
      const requirement =
        parsed.data.type === 'github'
          ? await this.githubRequirement(parsed.data, level + 1)
          : requirementFromDependency(parsed.data);
      this.noteRequirement(requirement, level + 1);
      dependencies.push(requirement);
    }
    return {
      pluginId: record.plugin_id,
      version: record.version,
      uniqueIdentifier: record.unique_identifier,
      dependencies,
    };
  }

  private noteRequirement(requirement: Requirement, level: number): void {
    const known = this.depth.get(requirement.pluginId);
    if (known === undefined || level < known) this.depth.set(requirement.pluginId, level);
    if (requirement.pinned !== undefined) {
      const pins = this.wantedPins.get(requirement.pluginId) ?? new Set<string>();
      pins.add(requirement.pinned);
      this.wantedPins.set(requirement.pluginId, pins);
    }
  }

  private githubRequirement(dependency: GithubDependency, level: number): Promise<Requirement> {
    const key = githubPlaceholderId(dependency);
    let pending = this.githubRequirements.get(key);
    if (pending === undefined) {
      pending = this.fetchGithub(dependency, level);
      this.githubRequirements.set(key, pending);
    }
    return pending;
  }

  private async fetchGithub(dependency: GithubDependency, level: number): Promise<Requirement> {
    const placeholder: Requirement = { pluginId: githubPlaceholderId(dependency), range: '*' };
    const fetcher = this.fetcher;
    if (fetcher === undefined) return placeholder;
    try {
      const record = await this.fetchBounded(
        dependency.package,
        level,
        `GitHub ${dependency.repo}@${dependency.release}/${dependency.package}`,
        () => fetcher.github(dependency),
      );
      return { pluginId: record.plugin_id, range: record.version, pinned: record.unique_identifier };
    } catch (error) {
      // A source that does not have the asset leaves it missing; the resolver explains the rest.
      if (error instanceof ProblemError && error.slug !== 'dependency-unsatisfiable') return placeholder;
      throw error;
    }
  }

  private async fetchBounded(
    what: string,
    level: number,
    from: string,
    fetch: () => Promise<PackageRecord>,
  ): Promise<PackageRecord> {
    if (level > this.maxDepth) {
      throw new ProblemError(
        'dependency-unsatisfiable',
        `${what} is missing ${level} levels below the request; missing dependencies are fetched at most ${this.maxDepth} levels deep.`,
        { extensions: { limit: 'maxFetchDepth' } },
      );
    }
    if (this.fetchCount >= this.maxFetches) {
      throw new ProblemError(
        'dependency-unsatisfiable',
        `${what} is missing, but this request already fetched ${this.maxFetches} packages, the most one request may fetch; publish the dependencies first.`,
        { extensions: { limit: 'maxFetches' } },
      );
    }
    this.fetchCount += 1;
    const record = await fetch();
    this.records.set(record.unique_identifier, record);
    this.fetched.push({ unique_identifier: record.unique_identifier, from });
    return record;
  }

  private async listAll(pluginId: string): Promise<PackageRecord[]> {
    const records: PackageRecord[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.listPage(pluginId, PAGE_SIZE, cursor);
      records.push(...visibleTo(page.items, this.tenantId));
      cursor = page.next_cursor ?? undefined;
    } while (cursor !== undefined);
    return records;
  }
}

/** An installed plugin whose package declares a dependency on another plugin. */
export interface Dependent {
  plugin_id: string;
  version: string;
  unique_identifier: string;
}

/**
 * The tenant's installed plugins that depend on `pluginId` (by plugin id, by pinned build, or by
 * the GitHub release asset `pluginId`'s installed package was published from), by plugin id.
 */
export async function findDependents(
  tenantId: string,
  pluginId: string,
  catalog: { find: (uniqueIdentifier: string) => Promise<PackageRecord | undefined> } = { find: findPackage },
): Promise<Dependent[]> {
  const installations = (await listInstalledPlugins(tenantId)).filter(
    (item) => item.status === 'installed' && item.unique_identifier !== null && item.version !== null,
  );
  const target = installations.find((item) => item.plugin_id === pluginId);
  const targetRecord =
    target?.unique_identifier == null ? undefined : await catalog.find(target.unique_identifier);
  const dependents: Dependent[] = [];
  for (const item of installations) {
    if (item.plugin_id === pluginId || item.unique_identifier === null) continue;
    const record = await catalog.find(item.unique_identifier);
    if (record === undefined) continue;
    if (record.dependencies.some((raw) => dependsOn(raw, pluginId, targetRecord))) {
      dependents.push({
        plugin_id: item.plugin_id,
        version: item.version as string,
        unique_identifier: item.unique_identifier,
      });
    }
  }
  return dependents.sort((a, b) => (a.plugin_id < b.plugin_id ? -1 : a.plugin_id > b.plugin_id ? 1 : 0));
}

function dependsOn(raw: unknown, pluginId: string, targetRecord: PackageRecord | undefined): boolean {
  const parsed = DependencySchema.safeParse(raw);
  if (!parsed.success) return false;
  const dependency = parsed.data;
  switch (dependency.type) {
    case 'marketplace':
      return dependency.plugin === pluginId;
    case 'package':
      return dependency.unique_identifier.startsWith(`${pluginId}:`);
    case 'github': {
      const source = targetRecord?.source;
      return (
        source?.type === 'github' &&
        source.repo.toLowerCase() === dependency.repo.toLowerCase() &&
        source.release === dependency.release &&
        source.asset === dependency.package
      );
    }
  }
}

/**
 * Refuses to uninstall a plugin others depend on (409 `conflict` naming them) unless forced.
 *
 * @example "acme/b 1.2.0 and acme/c 0.3.0 depend on acme/a; uninstall them first or set force: true."
 */
export async function assertNoDependents(tenantId: string, pluginId: string): Promise<void> {
  const dependents = await findDependents(tenantId, pluginId);
  if (dependents.length === 0) return;
  const names = dependents.map((item) => `${item.plugin_id} ${item.version}`);
  const list =
    names.length === 1 ? names[0] : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
  throw new ConflictError(
    `${list} ${names.length === 1 ? 'depends' : 'depend'} on ${pluginId}; uninstall ${names.length === 1 ? 'it' : 'them'} first or set force: true.`,
    { extensions: { dependents } },
  );
}
