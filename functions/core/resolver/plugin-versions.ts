/**
 * One plugin's catalogue as the solver sees it: its candidates ordered highest version first, and
 * the requirement → candidate-set matching, computed once per distinct requirement.
 */
import semver from 'semver';
import { compareVersions, normalizeDifyRange } from '#core/version.ts';
import type { Candidate, Requirement } from './types.ts';
import { emptySet, fullSet, isEmptySet, setKey, setOf, type VersionSet } from './version-set.ts';

/** How the solver names the request itself in terms and sentences. */
export const ROOT_ID = '(request)';

export interface MatchOptions {
  /** Let ranges match pre-releases they do not name. */
  includePrerelease: boolean;
}

export class PluginVersions {
  readonly id: string;
  readonly isRoot: boolean;
  /** Highest version first; equal versions by unique identifier. */
  readonly candidates: ReadonlyArray<Candidate>;
  readonly full: VersionSet;
  /** setKey → how a requirement wrote that set (`^1.4`, a pinned identifier): used in explanations. */
  readonly labels = new Map<string, string>();
  private readonly parsed: ReadonlyArray<semver.SemVer | null>;
  private readonly matches = new Map<string, VersionSet>();
  private dependers: Map<string, VersionSet> | undefined;

  constructor(id: string, candidates: ReadonlyArray<Candidate>, isRoot = false) {
    this.id = id;
    this.isRoot = isRoot;
    const seen = new Set<string>();
    const unique: Candidate[] = [];
    for (const candidate of candidates) {
      if (candidate.pluginId !== id) {
        throw new Error(`Candidate port returned ${candidate.uniqueIdentifier} when asked for ${id}.`);
      }
      if (seen.has(candidate.uniqueIdentifier)) continue;
      seen.add(candidate.uniqueIdentifier);
      unique.push(candidate);
    }
    unique.sort(
      (a, b) =>
        compareVersions(b.version, a.version) ||
        (a.uniqueIdentifier < b.uniqueIdentifier ? -1 : a.uniqueIdentifier > b.uniqueIdentifier ? 1 : 0),
    );
    this.candidates = unique;
    this.full = fullSet(unique.length);
    // Loose parsing reads Dify's leading zeros (`01.2.3`); `_` in a pre-release is not semver, so
    // such a version matches only a range that spells it exactly (see `matchSet`).
    this.parsed = unique.map((c) => semver.parse(c.version, { loose: true }));
  }

  get size(): number {
    return this.candidates.length;
  }

  candidateAt(position: number): Candidate {
    const candidate = this.candidates[position];
    if (candidate === undefined) throw new Error(`No candidate at position ${position} of ${this.id}.`);
    return candidate;
  }

  /** The candidates a requirement accepts. */
  matchSet(requirement: Requirement, options: MatchOptions): VersionSet {
    const key = requirementKey(requirement);
    const cached = this.matches.get(key);
    if (cached !== undefined) return cached;
    let set: VersionSet;
    let label: string;
    if (requirement.pinned !== undefined) {
      const pinned = requirement.pinned;
      label = pinned;
      set = setOf(
        this.size,
        this.candidates.flatMap((c, position) => (c.uniqueIdentifier === pinned ? [position] : [])),
      );
    } else {
      const written = requirement.range.trim();
      label = written;
      const range = compiledRange(written, options);
      set = setOf(
        this.size,
        this.parsed.flatMap((version, position) => {
          const hit = version === null ? this.candidateAt(position).version === written : range.test(version);
          return hit ? [position] : [];
        }),
      );
    }
    this.matches.set(key, set);
    const setLabel = setKey(set);
    if (!isEmptySet(set) && !this.labels.has(setLabel)) this.labels.set(setLabel, label);
    return set;
  }

  /** The candidates of this plugin that declare `requirement` (same plugin, range and pin). */
  dependersOf(requirement: Requirement): VersionSet {
    if (this.dependers === undefined) {
      const positions = new Map<string, number[]>();
      this.candidates.forEach((candidate, position) => {
        for (const dependency of candidate.dependencies) {
          const key = requirementKey(dependency);
          const list = positions.get(key);
          if (list === undefined) positions.set(key, [position]);
          else if (list[list.length - 1] !== position) list.push(position);
        }
      });
      this.dependers = new Map([...positions].map(([key, list]) => [key, setOf(this.size, list)]));
    }
    return this.dependers.get(requirementKey(requirement)) ?? emptySet(this.size);
  }
}

/** Two requirements with equal keys accept exactly the same candidates. */
export function requirementKey(requirement: Requirement): string {
  return requirement.pinned !== undefined
    ? `${requirement.pluginId}@=${requirement.pinned}`
    : `${requirement.pluginId}@~${requirement.range.trim()}`;
}

const rangeCache = new Map<string, semver.Range>();
const RANGE_CACHE_LIMIT = 10_000;

function compiledRange(written: string, options: MatchOptions): semver.Range {
  const key = `${options.includePrerelease ? 'p' : 'r'}${written}`;
  let range = rangeCache.get(key);
  if (range === undefined) {
    range = new semver.Range(normalizeDifyRange(written), {
      loose: true,
      includePrerelease: options.includePrerelease,
    });
    if (rangeCache.size >= RANGE_CACHE_LIMIT) rangeCache.clear();
    rangeCache.set(key, range);
  }
  return range;
}
