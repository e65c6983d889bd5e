/**
 * Dependency integrity (Verify, docs/design.md#deploy-workflow): every dependency a package
 * declares is met by what the tenant will run once the plan is applied. Pure: the caller passes the
 * package's declared dependencies and the tenant's resulting set of packages.
 */
import semver from 'semver';
import { DependencySchema, type ManifestDependency } from '#core/manifest.ts';
import { normalizeDifyRange } from '#core/version.ts';
import type { CheckResult } from './verify.ts';

/** One package the tenant will run after the plan (planned or kept as installed). */
export interface ResultingPackage {
  plugin_id: string;
  version: string;
  unique_identifier: string;
  /** Where it was published from: matches `github` dependencies (repo, release, asset). */
  source?: { type: string; repo?: string; release?: string; asset?: string };
}

/**
 * Checks each declared dependency against the resulting packages: a `marketplace` range must be
 * satisfied by the installed version of that plugin, a `package` identifier must be installed
 * exactly, a `github` asset must be installed from that very release asset.
 *
 * @example checkDependencies('a/x:1.0.0@…', [{ type: 'marketplace', plugin: 'a/y', version: '^1' }], state)
 */
export function checkDependencies(
  uniqueIdentifier: string,
  declared: readonly unknown[],
  resulting: readonly ResultingPackage[],
  options: { allowPrerelease?: boolean } = {},
): CheckResult {
  const byPlugin = new Map(resulting.map((item) => [item.plugin_id, item]));
  const unmet: string[] = [];
  for (const raw of declared) {
    const parsed = DependencySchema.safeParse(raw);
    if (!parsed.success) {
      unmet.push(`an unreadable dependency ${JSON.stringify(raw).slice(0, 120)}`);
      continue;
    }
    const problem = unmetReason(parsed.data, byPlugin, resulting, options.allowPrerelease ?? false);
    if (problem !== undefined) unmet.push(problem);
  }
  if (unmet.length === 0) {
    return {
      check: 'dependencies',
      ok: true,
      detail: declared.length === 0 ? 'no dependencies' : `all ${declared.length} dependencies are met`,
    };
  }
  return {
    check: 'dependencies',
    ok: false,
    slug: 'dependency-unsatisfiable',
    detail: `${uniqueIdentifier} has unmet dependencies: ${unmet.join('; ')}.`,
  };
}

function unmetReason(
  dependency: ManifestDependency,
  byPlugin: ReadonlyMap<string, ResultingPackage>,
  resulting: readonly ResultingPackage[],
  allowPrerelease: boolean,
): string | undefined {
  switch (dependency.type) {
    case 'marketplace': {
      const present = byPlugin.get(dependency.plugin);
      if (present === undefined) return `${dependency.plugin} ${dependency.version} is not installed`;
      if (!satisfies(present.version, dependency.version, allowPrerelease)) {
        return `${dependency.plugin} ${dependency.version} is needed, ${present.version} would be installed`;
      }
      return undefined;
    }
    case 'package': {
      const present = resulting.some((item) => item.unique_identifier === dependency.unique_identifier);
      return present ? undefined : `${dependency.unique_identifier} is not installed`;
    }
    case 'github': {
      const present = resulting.some(
        (item) =>
          item.source?.type === 'github' &&
          item.source.repo?.toLowerCase() === dependency.repo.toLowerCase() &&
          item.source.release === dependency.release &&
          item.source.asset === dependency.package,
      );
      return present
        ? undefined
        : `no installed package comes from GitHub ${dependency.repo}@${dependency.release}/${dependency.package}`;
    }
  }
}

function satisfies(version: string, range: string, includePrerelease: boolean): boolean {
  const parsed = semver.parse(version, { loose: true });
  // A Dify version semver cannot read (`1.0.0-rc_1`) matches only a range that spells it.
  if (parsed === null) return version === range.trim();
  return new semver.Range(normalizeDifyRange(range), { loose: true, includePrerelease }).test(parsed);
}
