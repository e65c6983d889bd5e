/**
 * Terms and incompatibilities, PubGrub's vocabulary (Weizenbaum 2018, "PubGrub: next-generation
 * version solving"), over finite candidate sets.
 *
 * A term constrains one plugin. It is the set of "worlds" it allows for that plugin: a subset of
 * its candidates (`set`) plus, when `none` is true, the world where the plugin is not installed.
 * PubGrub's positive term `x ∈ S` is `{set: S, none: false}`; its negative term `not x ∈ S` is
 * `{set: ∁S, none: true}`. With that encoding negation, intersection and the subset test are plain
 * set operations and never need to know which kind a term is.
 */
import type { PluginVersions } from './plugin-versions.ts';
import type { Requirement } from './types.ts';
import {
  areDisjoint,
  complement,
  intersect,
  isEmptySet,
  isSubset,
  sameSet,
  singletonOf,
  type VersionSet,
} from './version-set.ts';

export interface Term {
  plugin: PluginVersions;
  set: VersionSet;
  /** The term also holds when the plugin is not installed (PubGrub's negative term). */
  none: boolean;
}

/** Why an incompatibility holds; `conflict` ones were derived and form the explanation's tree. */
export type Cause =
  | { kind: 'root' }
  | {
      kind: 'dependency';
      depender: PluginVersions;
      dependee: PluginVersions;
      requirement: Requirement;
      /** `missing`: the plugin or pinned build is not catalogued; `no-match`: no catalogued version fits. */
      problem: 'missing' | 'no-match' | undefined;
    }
  | { kind: 'conflict'; conflict: Incompatibility; other: Incompatibility };

/** A set of terms that must not all hold at once. */
export interface Incompatibility {
  readonly terms: ReadonlyArray<Term>;
  readonly cause: Cause;
}

export function positiveTerm(plugin: PluginVersions, set: VersionSet): Term {
  return { plugin, set, none: false };
}

/** `not plugin ∈ set`. */
export function negativeTerm(plugin: PluginVersions, set: VersionSet): Term {
  return { plugin, set: complement(set, plugin.full), none: true };
}

export function decisionTerm(plugin: PluginVersions, position: number): Term {
  return positiveTerm(plugin, singletonOf(plugin.size, position));
}

/** Anything: the plugin at any version, or not installed. */
export function universalTerm(plugin: PluginVersions): Term {
  return { plugin, set: plugin.full, none: true };
}

export function negate(term: Term): Term {
  return { plugin: term.plugin, set: complement(term.set, term.plugin.full), none: !term.none };
}

export function intersectTerms(a: Term, b: Term): Term {
  return { plugin: a.plugin, set: intersect(a.set, b.set), none: a.none && b.none };
}

/** Every world `a` allows, `b` allows too (PubGrub: `a` satisfies `b`). */
export function isSubTerm(a: Term, b: Term): boolean {
  return isSubset(a.set, b.set) && (!a.none || b.none);
}

export function termsDisjoint(a: Term, b: Term): boolean {
  return areDisjoint(a.set, b.set) && !(a.none && b.none);
}

export function isEmptyTerm(term: Term): boolean {
  return !term.none && isEmptySet(term.set);
}

export function isUniversalTerm(term: Term): boolean {
  return term.none && sameSet(term.set, term.plugin.full);
}

/**
 * Builds an incompatibility: terms on the same plugin are intersected (both must hold for the
 * conflict), and terms that always hold are dropped. Returns undefined when a term can never hold,
 * since such an incompatibility can never be violated.
 */
export function makeIncompatibility(terms: ReadonlyArray<Term>, cause: Cause): Incompatibility | undefined {
  const byPlugin = new Map<PluginVersions, Term>();
  for (const term of terms) {
    const previous = byPlugin.get(term.plugin);
    byPlugin.set(term.plugin, previous === undefined ? term : intersectTerms(previous, term));
  }
  const kept: Term[] = [];
  for (const term of byPlugin.values()) {
    if (isEmptyTerm(term)) return undefined;
    if (!isUniversalTerm(term)) kept.push(term);
  }
  return { terms: kept, cause };
}

/** The request can never be satisfied: no terms left, or only "the request itself". */
export function isFailure(incompatibility: Incompatibility): boolean {
  const [first, ...rest] = incompatibility.terms;
  return first === undefined || (rest.length === 0 && first.plugin.isRoot && !first.none);
}
