/**
 * The PubGrub solving loop: unit propagation, decision making and conflict resolution with
 * learned incompatibilities. It follows Dart pub's `solver.md` step by step; comments name the
 * step. The only I/O is asking the candidate port for a plugin's catalogue, once per plugin.
 */
import { ProblemError } from '#core/errors.ts';
import { compareVersions } from '#core/version.ts';
import { explainFailure } from './explain.ts';
import {
  type Incompatibility,
  intersectTerms,
  isEmptyTerm,
  isFailure,
  makeIncompatibility,
  negate,
  negativeTerm,
  positiveTerm,
  type Term,
} from './incompatibility.ts';
import { type Assignment, PartialSolution } from './partial-solution.ts';
import { PluginVersions, ROOT_ID, requirementKey } from './plugin-versions.ts';
import type { Candidate, CandidatePort, Requirement, ResolveRequest } from './types.ts';
import { countMembers, membersOf } from './version-set.ts';

export const DEFAULT_MAX_PACKAGES = 500;
export const DEFAULT_MAX_STEPS = 100_000;

const ROOT_VERSION = '0.0.0';

export class Solver {
  private readonly port: CandidatePort;
  private readonly request: ResolveRequest;
  private readonly maxPackages: number;
  private readonly maxSteps: number;
  private readonly plugins = new Map<string, PluginVersions>();
  private readonly incompatibilities = new Map<PluginVersions, Incompatibility[]>();
  /** Dependency incompatibilities already added, per depender and requirement key. */
  private readonly added = new Map<PluginVersions, Set<string>>();
  private readonly solution = new PartialSolution();
  private readonly root: PluginVersions;
  private steps = 0;

  constructor(port: CandidatePort, request: ResolveRequest) {
    this.port = port;
    this.request = request;
    this.maxPackages = request.limits?.maxPackages ?? DEFAULT_MAX_PACKAGES;
    this.maxSteps = request.limits?.maxSteps ?? DEFAULT_MAX_STEPS;
    const rootCandidate: Candidate = {
      pluginId: ROOT_ID,
      version: ROOT_VERSION,
      uniqueIdentifier: ROOT_ID,
      dependencies: request.roots,
    };
    this.root = new PluginVersions(ROOT_ID, [rootCandidate], true);
  }

  /** Chosen candidates by plugin id (the request itself excluded). */
  async solve(): Promise<Map<string, Candidate>> {
    // Step 0: "the request is required" — the one incompatibility that is not about dependencies.
    const rootRequired = makeIncompatibility([negativeTerm(this.root, this.root.full)], { kind: 'root' });
    if (rootRequired === undefined) throw new Error('unreachable: the root incompatibility is never vacuous');
    this.addIncompatibility(rootRequired);

    let next: PluginVersions | undefined = this.root;
    while (next !== undefined) {
      this.propagate(next);
      next = await this.decide();
    }

    const chosen = new Map<string, Candidate>();
    for (const [plugin, position] of this.solution.decided()) {
      if (!plugin.isRoot) chosen.set(plugin.id, plugin.candidateAt(position));
    }
    return chosen;
  }

  /** Unit propagation: derive what the incompatibilities force, starting from `start`'s. */
  private propagate(start: PluginVersions): void {
    const changed = new Set<PluginVersions>([start]);
    while (changed.size > 0) {
      const plugin = changed.values().next().value as PluginVersions;
      changed.delete(plugin);
      const list = this.incompatibilities.get(plugin) ?? [];
      // Newest first: learned incompatibilities are the most general.
      for (let i = list.length - 1; i >= 0; i -= 1) {
        const incompatibility = list[i] as Incompatibility;
        const result = this.propagateOne(incompatibility);
        if (result === 'conflict') {
          const learned = this.resolveConflict(incompatibility);
          const derived = this.propagateOne(learned);
          changed.clear();
          if (derived instanceof PluginVersions) changed.add(derived);
          break;
        }
        if (result instanceof PluginVersions) changed.add(result);
      }
    }
  }

  /** Derives the negation of the one inconclusive term, or reports a conflict. */
  private propagateOne(incompatibility: Incompatibility): PluginVersions | 'conflict' | 'none' {
    let unsatisfied: Term | undefined;
    for (const term of incompatibility.terms) {
      const relation = this.solution.relation(term);
      if (relation === 'contradicted') return 'none';
      if (relation === 'inconclusive') {
        if (unsatisfied !== undefined) return 'none';
        unsatisfied = term;
      }
    }
    if (unsatisfied === undefined) return 'conflict';
    this.solution.derive(negate(unsatisfied), incompatibility);
    return unsatisfied.plugin;
  }

  /**
   * Conflict resolution: walk back through the causes of the satisfying assignments, resolving
   * incompatibilities together, until the result lets us backjump; learn it. A result that blames
   * the request alone is the proof that no solution exists.
   */
  private resolveConflict(conflict: Incompatibility): Incompatibility {
    let incompatibility = conflict;
    let isNew = false;
    while (!isFailure(incompatibility)) {
      this.step();
      let mostRecentTerm: Term | undefined;
      let mostRecentSatisfier: Assignment | undefined;
      let difference: Term | undefined;
      let previousSatisfierLevel = 1;
      for (const term of incompatibility.terms) {
        const satisfier = this.solution.satisfier(term);
        if (mostRecentSatisfier === undefined) {
          mostRecentTerm = term;
          mostRecentSatisfier = satisfier;
        } else if (mostRecentSatisfier.index < satisfier.index) {
          previousSatisfierLevel = Math.max(previousSatisfierLevel, mostRecentSatisfier.level);
          mostRecentTerm = term;
          mostRecentSatisfier = satisfier;
          difference = undefined;
        } else {
          previousSatisfierLevel = Math.max(previousSatisfierLevel, satisfier.level);
        }
        if (mostRecentTerm === term) {
          // The satisfier may say more than the term needs; what it adds beyond the term must
          // have been satisfied earlier, which bounds how far we can jump back.
          const rest = intersectTerms(mostRecentSatisfier.term, negate(term));
          difference = isEmptyTerm(rest) ? undefined : rest;
          if (difference !== undefined) {
            previousSatisfierLevel = Math.max(
              previousSatisfierLevel,
              this.solution.satisfier(negate(difference)).level,
            );
          }
        }
      }
      if (mostRecentSatisfier === undefined || mostRecentTerm === undefined) break;

      if (previousSatisfierLevel < mostRecentSatisfier.level || mostRecentSatisfier.cause === undefined) {
        this.solution.backtrack(previousSatisfierLevel);
        if (isNew) this.addIncompatibility(incompatibility);
        return incompatibility;
      }

      const cause = mostRecentSatisfier.cause;
      const satisfiedPlugin = mostRecentSatisfier.term.plugin;
      const terms = [
        ...incompatibility.terms.filter((t) => t !== mostRecentTerm),
        ...cause.terms.filter((t) => t.plugin !== satisfiedPlugin),
      ];
      if (difference !== undefined) terms.push(negate(difference));
      const resolved = makeIncompatibility(terms, {
        kind: 'conflict',
        conflict: incompatibility,
        other: cause,
      });
      if (resolved === undefined)
        throw new Error('PubGrub invariant broken: a derived incompatibility is vacuous.');
      incompatibility = resolved;
      isNew = true;
    }
    const explanation = explainFailure(incompatibility);
    throw new ProblemError('dependency-unsatisfiable', explanation.join('\n'), {
      extensions: { explanation },
    });
  }

  /**
   * Decision making: pick the undecided required plugin with the fewest allowed candidates (ties by
   * plugin id), choose its installed version when allowed, else its highest allowed one, and add
   * the dependencies of that version as incompatibilities. Returns the plugin to propagate from, or
   * undefined when every required plugin has a version: a solution.
   */
  private async decide(): Promise<PluginVersions | undefined> {
    let best: { plugin: PluginVersions; allowed: Term; count: number } | undefined;
    for (const [plugin, allowed] of this.solution.undecided()) {
      const count = countMembers(allowed.set);
      if (best === undefined || count < best.count || (count === best.count && plugin.id < best.plugin.id)) {
        best = { plugin, allowed, count };
      }
    }
    if (best === undefined) return undefined;
    this.step();
    const { plugin, allowed } = best;
    const position = this.pickPosition(plugin, allowed);

    const added = await this.addDependencies(plugin, position);
    // If a dependency is already ruled out, deciding would only conflict at once; propagation
    // will exclude this version instead.
    const conflicts = added.some((incompatibility) =>
      incompatibility.terms.every(
        (term) => term.plugin === plugin || this.solution.relation(term) === 'satisfied',
      ),
    );
    if (!conflicts) this.solution.decide(plugin, position);
    return plugin;
  }

  private pickPosition(plugin: PluginVersions, allowed: Term): number {
    const installed = this.request.installed.get(plugin.id);
    const members = membersOf(allowed.set);
    if (installed !== undefined) {
      const match = members.find((p) => sameVersion(plugin.candidateAt(p).version, installed));
      if (match !== undefined) return match;
    }
    const highest = members[0];
    if (highest === undefined)
      throw new Error(`PubGrub invariant broken: ${plugin.id} has no allowed version.`);
    return highest;
  }

  /** Adds "depender versions that declare r ⇒ dependee ∈ match(r)" for each requirement r. */
  private async addDependencies(plugin: PluginVersions, position: number): Promise<Incompatibility[]> {
    const candidate = plugin.candidateAt(position);
    await this.load(candidate.dependencies.map((d) => d.pluginId));
    let seen = this.added.get(plugin);
    if (seen === undefined) {
      seen = new Set();
      this.added.set(plugin, seen);
    }
    const result: Incompatibility[] = [];
    for (const requirement of candidate.dependencies) {
      const key = requirementKey(requirement);
      if (seen.has(key)) continue;
      seen.add(key);
      const incompatibility = this.dependencyIncompatibility(plugin, requirement);
      if (incompatibility === undefined) continue;
      this.addIncompatibility(incompatibility);
      result.push(incompatibility);
    }
    return result;
  }

  private dependencyIncompatibility(
    plugin: PluginVersions,
    requirement: Requirement,
  ): Incompatibility | undefined {
    const dependee = this.plugins.get(requirement.pluginId);
    if (dependee === undefined) throw new Error(`unreachable: ${requirement.pluginId} was not loaded`);
    const accepted = dependee.matchSet(requirement, {
      includePrerelease: this.request.allowPrerelease === true,
    });
    const dependers = plugin.dependersOf(requirement);
    const problem =
      dependee.size === 0 || (requirement.pinned !== undefined && countMembers(accepted) === 0)
        ? 'missing'
        : countMembers(accepted) === 0
          ? 'no-match'
          : undefined;
    return makeIncompatibility([positiveTerm(plugin, dependers), negativeTerm(dependee, accepted)], {
      kind: 'dependency',
      depender: plugin,
      dependee,
      requirement,
      problem,
    });
  }

  /** Fetches the catalogues of plugins not seen yet, in parallel, within the package limit. */
  private async load(pluginIds: ReadonlyArray<string>): Promise<void> {
    const missing = [...new Set(pluginIds)].filter((id) => !this.plugins.has(id)).sort();
    if (missing.length === 0) return;
    if (this.plugins.size + missing.length > this.maxPackages) {
      throw tooLarge(
        `the dependency graph reaches more than ${this.maxPackages} plugins (limit maxPackages)`,
        'maxPackages',
      );
    }
    const catalogues = await Promise.all(missing.map((id) => this.port.versionsOf(id)));
    missing.forEach((id, index) => {
      this.plugins.set(id, new PluginVersions(id, catalogues[index] ?? []));
    });
  }

  private addIncompatibility(incompatibility: Incompatibility): void {
    for (const term of incompatibility.terms) {
      const list = this.incompatibilities.get(term.plugin);
      if (list === undefined) this.incompatibilities.set(term.plugin, [incompatibility]);
      else list.push(incompatibility);
    }
  }

  private step(): void {
    this.steps += 1;
    if (this.steps > this.maxSteps) {
      throw tooLarge(
        `solving took more than ${this.maxSteps} steps (limit maxSteps); the constraints are too tangled to search exhaustively`,
        'maxSteps',
      );
    }
  }
}

function sameVersion(a: string, b: string): boolean {
  if (a === b) return true;
  try {
    return compareVersions(a, b) === 0;
  } catch {
    return false;
  }
}

function tooLarge(reason: string, limit: 'maxPackages' | 'maxSteps'): ProblemError {
  const sentence = `The dependency problem is too large to solve: ${reason}.`;
  return new ProblemError('dependency-unsatisfiable', sentence, {
    extensions: { explanation: [sentence], limit },
  });
}
