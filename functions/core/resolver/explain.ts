/**
 * Turns the derivation tree of a failed solve into plain sentences, following the shape of Dart
 * pub's PubGrub report (`solver.md`, "Error Reporting"): external facts are stated, derived facts
 * are concluded from them, and a derived fact used more than once gets a line number so later
 * sentences can point back at it instead of repeating its proof.
 *
 *   x 2.0.0 depends on y ^1.4, and z 1.0.0 depends on y ^2.0, so x 2.0.0 and z 1.0.0 cannot be
 *   installed together.
 *   So, because the request requires both x ^2.0 and z ^1.0, the request cannot be satisfied.
 */

import { isPrerelease } from '#core/version.ts';
import type { Cause, Incompatibility, Term } from './incompatibility.ts';
import type { PluginVersions } from './plugin-versions.ts';
import { complement, countMembers, hasMember, isSubset, setKey, type VersionSet } from './version-set.ts';

type ConflictCause = Extract<Cause, { kind: 'conflict' }>;
type DependencyCause = Extract<Cause, { kind: 'dependency' }>;

const MAX_LISTED_VERSIONS = 5;

/** Sentences explaining why `failure` (an incompatibility blaming the request alone) holds. */
export function explainFailure(failure: Incompatibility): string[] {
  if (failure.cause.kind !== 'conflict') return [`${capitalize(describe(failure))}.`];
  return new ReportWriter(failure).write();
}

class ReportWriter {
  private readonly derivations = new Map<Incompatibility, number>();
  private readonly lineNumbers = new Map<Incompatibility, number>();
  private readonly lines: Array<{ text: string; number: number | undefined }> = [];
  private readonly root: Incompatibility;
  private readonly referenced = new Set<number>();

  constructor(root: Incompatibility) {
    this.root = root;
    this.countDerivations(root);
  }

  write(): string[] {
    this.visit(this.root, true);
    // Only lines that a later line points back at keep their number, renumbered in reading order.
    const final = new Map<number, number>();
    for (const { number } of this.lines) {
      if (number !== undefined && this.referenced.has(number)) final.set(number, final.size + 1);
    }
    return this.lines.map(({ text, number }) => {
      const body = capitalize(text.replace(/⟦(\d+)⟧/g, (_, n: string) => String(final.get(Number(n)))));
      const kept = number === undefined ? undefined : final.get(number);
      return kept === undefined ? body : `(${kept}) ${body}`;
    });
  }

  /** A back reference to a numbered line, resolved in `write`. */
  private ref(line: number): string {
    this.referenced.add(line);
    return `⟦${line}⟧`;
  }

  private countDerivations(incompatibility: Incompatibility): void {
    // Iterative: derivation trees of large conflicts can be deeper than the call stack.
    const stack = [incompatibility];
    while (stack.length > 0) {
      const current = stack.pop() as Incompatibility;
      const seen = this.derivations.get(current) ?? 0;
      this.derivations.set(current, seen + 1);
      if (seen === 0 && current.cause.kind === 'conflict')
        stack.push(current.cause.other, current.cause.conflict);
    }
  }

  private visit(incompatibility: Incompatibility, conclusion = false): void {
    const cause = incompatibility.cause as ConflictCause;
    const numbered = conclusion || (this.derivations.get(incompatibility) ?? 0) > 1;
    const conjunction = numbered ? 'so, because' : 'and because';
    const text = describe(incompatibility);
    const { conflict, other } = cause;

    if (isDerived(conflict) && isDerived(other)) {
      const conflictLine = this.lineNumbers.get(conflict);
      const otherLine = this.lineNumbers.get(other);
      if (conflictLine !== undefined && otherLine !== undefined) {
        this.emit(
          incompatibility,
          `${statePair(conflict, other, this.ref(conflictLine), this.ref(otherLine))}, so ${text}.`,
          numbered,
        );
      } else if (conflictLine !== undefined || otherLine !== undefined) {
        const [withLine, withoutLine, line] =
          conflictLine !== undefined
            ? [conflict, other, conflictLine]
            : [other, conflict, otherLine as number];
        this.visit(withoutLine);
        this.emit(
          incompatibility,
          `${conjunction} ${describe(withLine)} (${this.ref(line)}), ${text}.`,
          numbered,
        );
      } else if (isSingleLine(conflict) || isSingleLine(other)) {
        const [first, second] = isSingleLine(other) ? [conflict, other] : [other, conflict];
        this.visit(first);
        this.visit(second);
        this.emit(incompatibility, `thus, ${text}.`, numbered);
      } else {
        this.visit(conflict, true);
        this.visit(other);
        this.emit(
          incompatibility,
          `${conjunction} ${describe(conflict)} (${this.ref(this.lineNumbers.get(conflict) as number)}), ${text}.`,
          numbered,
        );
      }
    } else if (isDerived(conflict) || isDerived(other)) {
      const [derived, external] = isDerived(conflict) ? [conflict, other] : [other, conflict];
      const derivedLine = this.lineNumbers.get(derived);
      if (derivedLine !== undefined) {
        this.emit(
          incompatibility,
          `${statePair(external, derived, undefined, this.ref(derivedLine))}, so ${text}.`,
          numbered,
        );
      } else if (this.isCollapsible(derived)) {
        const inner = derived.cause as ConflictCause;
        const [innerDerived, innerExternal] = isDerived(inner.conflict)
          ? [inner.conflict, inner.other]
          : [inner.other, inner.conflict];
        this.visit(innerDerived);
        this.emit(
          incompatibility,
          `${conjunction} ${joinFacts(innerExternal, external)}, ${text}.`,
          numbered,
        );
      } else {
        this.visit(derived);
        this.emit(incompatibility, `${conjunction} ${describe(external)}, ${text}.`, numbered);
      }
    } else {
      this.emit(incompatibility, `${statePair(conflict, other)}, so ${text}.`, numbered);
    }
  }

  /** A derived fact used once whose proof adds exactly one external fact can be folded into its user. */
  private isCollapsible(incompatibility: Incompatibility): boolean {
    if ((this.derivations.get(incompatibility) ?? 0) > 1) return false;
    const cause = incompatibility.cause as ConflictCause;
    if (isDerived(cause.conflict) === isDerived(cause.other)) return false;
    const complex = isDerived(cause.conflict) ? cause.conflict : cause.other;
    return !this.lineNumbers.has(complex);
  }

  private emit(incompatibility: Incompatibility, text: string, numbered: boolean): void {
    let number: number | undefined;
    if (numbered) {
      number = this.lineNumbers.size + 1;
      this.lineNumbers.set(incompatibility, number);
    }
    this.lines.push({ text, number });
  }
}

function isDerived(incompatibility: Incompatibility): boolean {
  return incompatibility.cause.kind === 'conflict';
}

function isSingleLine(incompatibility: Incompatibility): boolean {
  const cause = incompatibility.cause as ConflictCause;
  return !isDerived(cause.conflict) && !isDerived(cause.other);
}

/** "A, and B" — or one clause when both are dependencies of the same thing. */
function statePair(a: Incompatibility, b: Incompatibility, lineA?: string, lineB?: string): string {
  const merged = lineA === undefined && lineB === undefined ? mergeDependencies(a, b) : undefined;
  if (merged !== undefined) return merged;
  return `${describe(a)}${reference(lineA)}, and ${describe(b)}${reference(lineB)}`;
}

function joinFacts(a: Incompatibility, b: Incompatibility): string {
  return mergeDependencies(a, b) ?? `${describe(a)} and ${describe(b)}`;
}

function reference(line: string | undefined): string {
  return line === undefined ? '' : ` (${line})`;
}

/**
 * One clause for two plain dependencies when they chain or share a depender:
 * "x 1.0.0 depends on y ^1 which depends on z ^2", "x 1.0.0 depends on both y ^1 and z ^2".
 */
function mergeDependencies(a: Incompatibility, b: Incompatibility): string | undefined {
  if (a.cause.kind !== 'dependency' || b.cause.kind !== 'dependency') return undefined;
  if (a.cause.problem !== undefined || b.cause.problem !== undefined) return undefined;
  const chained = chainDependencies(a, b) ?? chainDependencies(b, a);
  if (chained !== undefined) return chained;
  if (a.cause.depender !== b.cause.depender) return undefined;
  const subjectA = dependencySubject(a, a.cause);
  if (subjectA !== dependencySubject(b, b.cause)) return undefined;
  const verb = a.cause.depender.isRoot ? 'requires' : 'depends on';
  return `${subjectA} ${verb} both ${dependencyObject(a, a.cause)} and ${dependencyObject(b, b.cause)}`;
}

/** "first's depender depends on y S which depends on z" when every version in S declares second. */
function chainDependencies(first: Incompatibility, second: Incompatibility): string | undefined {
  const a = first.cause;
  const b = second.cause;
  if (a.kind !== 'dependency' || b.kind !== 'dependency') return undefined;
  if (a.dependee !== b.depender || b.depender.isRoot) return undefined;
  const required = first.terms.find((t) => t.plugin === a.dependee && t.none);
  const dependers = second.terms.find((t) => t.plugin === b.depender && !t.none);
  if (required === undefined || dependers === undefined) return undefined;
  if (!isSubset(complement(required.set, required.plugin.full), dependers.set)) return undefined;
  const verb = a.depender.isRoot ? 'requires' : 'depends on';
  return `${dependencySubject(first, a)} ${verb} ${dependencyObject(first, a)} which depends on ${dependencyObject(second, b)}`;
}

/** One incompatibility as a clause (no final period). */
export function describe(incompatibility: Incompatibility): string {
  const cause = incompatibility.cause;
  if (cause.kind === 'root') return 'the request must be satisfied';
  if (cause.kind === 'dependency') return describeDependency(incompatibility, cause);
  return describeDerived(incompatibility.terms);
}

function describeDependency(incompatibility: Incompatibility, cause: DependencyCause): string {
  const subject = dependencySubject(incompatibility, cause);
  const verb = cause.depender.isRoot ? 'requires' : 'depends on';
  const { requirement, dependee } = cause;
  if (cause.problem === 'missing') {
    return `${subject} ${verb} ${requirement.pinned ?? requirement.pluginId}, which is not in the catalog`;
  }
  if (cause.problem === 'no-match') {
    const listed = dependee.candidates.slice(0, MAX_LISTED_VERSIONS).map((c) => c.version);
    const more = dependee.size > MAX_LISTED_VERSIONS ? ', …' : '';
    return (
      `${subject} ${verb} ${requirement.pluginId} ${requirement.range.trim()}, which no catalogued version ` +
      `of ${requirement.pluginId} satisfies (catalogued: ${listed.join(', ')}${more})`
    );
  }
  return `${subject} ${verb} ${dependencyObject(incompatibility, cause)}`;
}

function dependencySubject(incompatibility: Incompatibility, cause: DependencyCause): string {
  if (cause.depender.isRoot) return 'the request';
  const term = incompatibility.terms.find((t) => t.plugin === cause.depender && !t.none);
  return term === undefined ? cause.depender.id : describeSet(term.plugin, term.set, 'subject');
}

function dependencyObject(incompatibility: Incompatibility, cause: DependencyCause): string {
  const term = incompatibility.terms.find((t) => t.plugin === cause.dependee && t.none);
  if (term === undefined) {
    const { requirement } = cause;
    return requirement.pinned ?? `${requirement.pluginId} ${requirement.range.trim()}`;
  }
  return describeSet(term.plugin, complement(term.set, term.plugin.full), 'object');
}

function describeDerived(terms: ReadonlyArray<Term>): string {
  const involvesRequest = terms.some((t) => t.plugin.isRoot && !t.none);
  const visible = terms.filter((t) => !(t.plugin.isRoot && !t.none));
  const positives = visible.filter((t) => !t.none);
  const negatives = visible
    .filter((t) => t.none)
    .map((t) => describeSet(t.plugin, complement(t.set, t.plugin.full), 'object'));
  if (visible.length === 0) return 'the request cannot be satisfied';

  if (positives.length === 0) {
    if (involvesRequest) return `the request requires ${negatives.join(' or ')}`;
    return negatives.length === 1
      ? `${negatives[0]} must be installed`
      : `at least one of ${negatives.join(' or ')} must be installed`;
  }
  if (negatives.length === 0) {
    const [only] = positives;
    if (positives.length === 1 && only !== undefined) {
      return countMembers(only.set) === only.plugin.size && only.plugin.size > 1
        ? `no version of ${only.plugin.id} can be installed`
        : `${describeSet(only.plugin, only.set, 'subject')} cannot be installed`;
    }
    return `${joinAnd(positives.map((t) => describeSet(t.plugin, t.set, 'subject')))} cannot be installed together`;
  }
  const subjects = positives.map((t) => describeSet(t.plugin, t.set, 'subject'));
  return positives.length === 1
    ? `${subjects[0]} requires ${negatives.join(' or ')}`
    : `installing ${joinAnd(subjects)} requires ${negatives.join(' or ')}`;
}

/**
 * Names a set of one plugin's candidates: `x 2.0.0`, `y ^1.4` (as a requirement wrote it),
 * `every version of x`, or version bounds over the catalogue (`x >=1.2.0 <=1.4.0 || 2.0.0`).
 * `object` prefers the written requirement; `subject` prefers concrete versions.
 */
function describeSet(plugin: PluginVersions, set: VersionSet, style: 'subject' | 'object'): string {
  if (plugin.isRoot) return 'the request';
  const count = countMembers(set);
  const label = plugin.labels.get(setKey(set));
  const labelled =
    label === undefined ? undefined : label.startsWith(`${plugin.id}:`) ? label : `${plugin.id} ${label}`;
  if (style === 'object' && labelled !== undefined) return labelled;
  if (count === plugin.size && plugin.size > 1) {
    return style === 'subject' ? `every version of ${plugin.id}` : `any version of ${plugin.id}`;
  }
  if (count === 1) {
    const position = plugin.candidates.findIndex((_, p) => hasMember(set, p));
    return `${plugin.id} ${plugin.candidateAt(position).version}`;
  }
  if (labelled !== undefined) return labelled;
  if (count === 0) return `no version of ${plugin.id}`;
  return `${plugin.id} ${describeRuns(plugin, set)}`;
}

/**
 * Maximal runs of consecutive catalogued versions, lowest first. A pre-release outside the set
 * does not break a run: a bound written without a pre-release tag excludes it anyway.
 */
function describeRuns(plugin: PluginVersions, set: VersionSet): string {
  const lowest = plugin.size - 1;
  const runs: Array<[number, number]> = [];
  let open: [number, number] | undefined;
  for (let p = lowest; p >= 0; p -= 1) {
    if (hasMember(set, p)) {
      if (open === undefined) open = [p, p];
      else open[1] = p;
    } else if (open !== undefined && !isPrerelease(plugin.candidateAt(p).version)) {
      runs.push(open);
      open = undefined;
    }
  }
  if (open !== undefined) runs.push(open);
  return runs
    .map(([low, high]) => {
      const lo = plugin.candidateAt(low).version;
      const hi = plugin.candidateAt(high).version;
      if (low === high) return lo;
      if (low === lowest) return `<=${hi}`;
      if (high === 0) return `>=${lo}`;
      return `>=${lo} <=${hi}`;
    })
    .join(' || ');
}

function joinAnd(items: ReadonlyArray<string>): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/** Capitalizes a sentence unless it starts with a plugin id, which is lowercase by definition. */
function capitalize(text: string): string {
  const firstWord = text.split(' ', 1)[0] ?? '';
  if (firstWord.includes('/') || text.length === 0) return text;
  return (text[0] as string).toUpperCase() + text.slice(1);
}
