/**
 * The "latest" rule, shared by the marketplace protocol (batch answers, the manifest snapshot, the
 * path-form download) and pluginops' own auto-upgrade (`core/auto-upgrade/plan.ts`):
 *
 * 1. **One build per version.** A version may have several builds (same `author/name:version`,
 *    different checksums — e.g. re-signed). The build that stands for the version is the one
 *    published **first** (earliest `published_at`, ties broken by the smaller unique identifier).
 *    (Builds without a publication time keep the order they are given in.)
 *    It never changes once a version is served, so a later re-publish cannot swap the bytes
 *    behind `…/{org}/{name}/{version}/download`.
 * 2. **Latest version.** The highest version by semver precedence that is not a pre-release; only
 *    when every version is a pre-release, the highest pre-release.
 */
import { isPrerelease, versionSortKey } from '#core/version.ts';

export interface CatalogBuild {
  version: string;
  unique_identifier: string;
  /** RFC 3339; builds without one sort after those with one. */
  published_at?: string | undefined;
}

/**
 * The build that stands for `version` (rule 1), or `undefined` when none has that version.
 *
 * @example preferredBuild(builds, '1.2.0')?.unique_identifier
 */
export function preferredBuild<T extends CatalogBuild>(builds: readonly T[], version: string): T | undefined {
  let best: T | undefined;
  for (const build of builds) {
    if (build.version !== version) continue;
    if (best === undefined || comparePublication(build, best) < 0) best = build;
  }
  return best;
}

/**
 * The plugin's latest build (rules 1 and 2), or `undefined` for no builds.
 *
 * @example latestBuild([{ version: '1.0.0', … }, { version: '1.1.0-beta', … }])?.version // '1.0.0'
 */
export function latestBuild<T extends CatalogBuild>(builds: readonly T[]): T | undefined {
  const versions = [...new Set(builds.map((build) => build.version))];
  const stable = versions.filter((version) => !isPrerelease(version));
  const pool = stable.length > 0 ? stable : versions;
  let top: { version: string; key: string } | undefined;
  for (const version of pool) {
    const key = versionSortKey(version);
    if (top === undefined || key > top.key) top = { version, key };
  }
  return top === undefined ? undefined : preferredBuild(builds, top.version);
}

function comparePublication(a: CatalogBuild, b: CatalogBuild): number {
  // Without publication times, the order given stands (the earlier listed build wins).
  if (a.published_at === undefined && b.published_at === undefined) return 0;
  const at = a.published_at ?? '\uffff';
  const bt = b.published_at ?? '\uffff';
  if (at !== bt) return at < bt ? -1 : 1;
  return a.unique_identifier < b.unique_identifier ? -1 : a.unique_identifier > b.unique_identifier ? 1 : 0;
}
