/**
 * PubGrub's partial solution: the ordered list of decisions ("install x 2.0.0") and derivations
 * ("x must be in S, because of incompatibility I"), each at a decision level, with the running
 * intersection per plugin so relations are one subset test.
 */
import type { Incompatibility, Term } from './incompatibility.ts';
import { decisionTerm, intersectTerms, isSubTerm, termsDisjoint, universalTerm } from './incompatibility.ts';
import type { PluginVersions } from './plugin-versions.ts';

export interface Assignment {
  readonly term: Term;
  readonly level: number;
  /** Undefined for a decision; the incompatibility that forced it for a derivation. */
  readonly cause: Incompatibility | undefined;
  readonly index: number;
  /** Intersection of this plugin's assignments up to and including this one. */
  readonly accumulated: Term;
}

export type Relation = 'satisfied' | 'contradicted' | 'inconclusive';

export class PartialSolution {
  private readonly assignments: Assignment[] = [];
  private readonly byPlugin = new Map<PluginVersions, Assignment[]>();
  private readonly decisions = new Map<PluginVersions, number>();
  /** Plugins whose accumulated term is positive but that have no decision: the next choices. */
  private readonly pending = new Set<PluginVersions>();
  private currentLevel = 0;

  get level(): number {
    return this.currentLevel;
  }

  decide(plugin: PluginVersions, position: number): void {
    this.currentLevel += 1;
    this.decisions.set(plugin, position);
    this.push(decisionTerm(plugin, position), undefined);
  }

  derive(term: Term, cause: Incompatibility): void {
    this.push(term, cause);
  }

  /** Undoes every assignment above `level`. */
  backtrack(level: number): void {
    while (this.assignments.length > 0) {
      const last = this.assignments[this.assignments.length - 1] as Assignment;
      if (last.level <= level) break;
      this.assignments.pop();
      this.byPlugin.get(last.term.plugin)?.pop();
      if (last.cause === undefined) this.decisions.delete(last.term.plugin);
      this.track(last.term.plugin, this.accumulated(last.term.plugin));
    }
    this.currentLevel = level;
  }

  /** What the assignments so far say about the plugin (universal when nothing). */
  accumulated(plugin: PluginVersions): Term {
    const list = this.byPlugin.get(plugin);
    const last = list?.[list.length - 1];
    return last === undefined ? universalTerm(plugin) : last.accumulated;
  }

  relation(term: Term): Relation {
    const accumulated = this.accumulated(term.plugin);
    if (isSubTerm(accumulated, term)) return 'satisfied';
    if (termsDisjoint(accumulated, term)) return 'contradicted';
    return 'inconclusive';
  }

  /** The earliest assignment after which `term` is satisfied. */
  satisfier(term: Term): Assignment {
    for (const assignment of this.byPlugin.get(term.plugin) ?? []) {
      if (isSubTerm(assignment.accumulated, term)) return assignment;
    }
    throw new Error(`PubGrub invariant broken: no assignment satisfies a term on ${term.plugin.id}.`);
  }

  decisionOf(plugin: PluginVersions): number | undefined {
    return this.decisions.get(plugin);
  }

  /** Plugins that must be installed but have no version picked yet. */
  *undecided(): Generator<[PluginVersions, Term]> {
    for (const plugin of this.pending) yield [plugin, this.accumulated(plugin)];
  }

  *decided(): Generator<[PluginVersions, number]> {
    yield* this.decisions;
  }

  private push(term: Term, cause: Incompatibility | undefined): void {
    const previous = this.accumulated(term.plugin);
    const assignment: Assignment = {
      term,
      level: this.currentLevel,
      cause,
      index: this.assignments.length,
      accumulated: intersectTerms(previous, term),
    };
    this.assignments.push(assignment);
    const list = this.byPlugin.get(term.plugin);
    if (list === undefined) this.byPlugin.set(term.plugin, [assignment]);
    else list.push(assignment);
    this.track(term.plugin, assignment.accumulated);
  }

  private track(plugin: PluginVersions, accumulated: Term): void {
    if (!accumulated.none && !this.decisions.has(plugin)) this.pending.add(plugin);
    else this.pending.delete(plugin);
  }
}
