/**
 * Property tests: on small random catalogues (≤ 6 plugins × ≤ 4 versions, cycles and missing
 * plugins allowed) the resolver is checked against a brute-force search over every combination.
 */
import fc from 'fast-check';
import semver from 'semver';
import { describe, expect, it } from 'vitest';
import { ProblemError } from '#core/errors.ts';
import {
  type Candidate,
  type Requirement,
  type ResolveRequest,
  resolveDependencies,
} from '#core/resolver/index.ts';
import { normalizeDifyRange } from '#core/version.ts';
import { fakePort, uid } from './catalog-fixture.ts';

const PLUGINS = ['t/p0', 't/p1', 't/p2', 't/p3', 't/p4', 't/p5'];
const VERSIONS = ['0.9.0', '1.0.0', '1.1.0', '1.2.0-beta', '2.0.0', '2.1.0'];
/** Weighted towards ranges most versions satisfy, so about half the scenarios have a solution. */
const RANGES = [
  ...['*', '*', '*', '>=1.0.0', '>=1.0.0', '^1.0', '^1.0', '^2.0', '>=1.1.0', '<1.1.0'],
  ...['1.0.0', '~1.1.0', '1.0.0-2.0.0', '>=1.2.0-beta', '^0.9', '<=2.0.0'],
];
const RUNS = 300;

interface Scenario {
  catalog: Map<string, Candidate[]>;
  request: ResolveRequest;
}

/** Mostly catalogued plugins; now and then one that is not (index `size`). */
const pluginIndexArb = (size: number) =>
  fc.oneof({ weight: 25, arbitrary: fc.nat(size - 1) }, { weight: 1, arbitrary: fc.constant(size) });

const requirementArb = (size: number) =>
  fc.oneof(
    { weight: 20, arbitrary: fc.record({ plugin: pluginIndexArb(size), range: fc.constantFrom(...RANGES) }) },
    {
      weight: 1,
      arbitrary: fc.record({
        plugin: pluginIndexArb(size),
        range: fc.constantFrom(...VERSIONS.map((v) => `=${v}`)),
      }),
    },
  );

/** `plugin === size` names a plugin that is not in the catalogue. */
function toRequirement(plugin: number, range: string, size: number): Requirement {
  const pluginId = plugin === size ? 't/missing' : (PLUGINS[plugin] as string);
  if (range.startsWith('='))
    return { pluginId, range: range.slice(1), pinned: uid(pluginId, range.slice(1)) };
  return { pluginId, range };
}

const scenarioArb: fc.Arbitrary<Scenario> = fc.integer({ min: 1, max: 6 }).chain((size) =>
  fc
    .record({
      plugins: fc.array(
        fc.array(
          fc.record({
            version: fc.constantFrom(...VERSIONS),
            deps: fc.array(requirementArb(size), { maxLength: 2 }),
          }),
          { minLength: 1, maxLength: 4, size: 'max' },
        ),
        { minLength: size, maxLength: size },
      ),
      roots: fc.array(
        fc.oneof(
          {
            weight: 3,
            arbitrary: fc.record({ plugin: fc.nat(size - 1), range: fc.constantFrom('*', '>=0.9.0') }),
          },
          { weight: 2, arbitrary: requirementArb(size) },
        ),
        { minLength: 1, maxLength: 2 },
      ),
      installed: fc.array(fc.tuple(fc.nat(size - 1), fc.constantFrom(...VERSIONS)), { maxLength: 3 }),
      allowPrerelease: fc.boolean(),
    })
    .map(({ plugins, roots, installed, allowPrerelease }) => {
      const catalog = new Map<string, Candidate[]>();
      plugins.forEach((versions, index) => {
        const pluginId = PLUGINS[index] as string;
        const unique = new Map(versions.map((v) => [v.version, v.deps]));
        catalog.set(
          pluginId,
          [...unique].map(([version, deps]) => ({
            pluginId,
            version,
            uniqueIdentifier: uid(pluginId, version),
            dependencies: deps.map((d) => toRequirement(d.plugin, d.range, size)),
          })),
        );
      });
      return {
        catalog,
        request: {
          roots: roots.map((r) => toRequirement(r.plugin, r.range, size)),
          installed: new Map(installed.map(([p, v]) => [PLUGINS[p] as string, v])),
          allowPrerelease,
        },
      };
    }),
);

/** The oracle's own reading of a requirement (independent of the resolver's bitsets). */
function accepts(requirement: Requirement, candidate: Candidate, allowPrerelease: boolean): boolean {
  if (candidate.pluginId !== requirement.pluginId) return false;
  if (requirement.pinned !== undefined) return candidate.uniqueIdentifier === requirement.pinned;
  return semver.satisfies(candidate.version, normalizeDifyRange(requirement.range), {
    includePrerelease: allowPrerelease,
  });
}

function violations(chosen: ReadonlyMap<string, Candidate>, scenario: Scenario): string[] {
  const allow = scenario.request.allowPrerelease === true;
  const problems: string[] = [];
  const check = (who: string, requirement: Requirement) => {
    const candidate = chosen.get(requirement.pluginId);
    if (candidate === undefined || !accepts(requirement, candidate, allow)) {
      problems.push(`${who} needs ${requirement.pluginId} ${requirement.pinned ?? requirement.range}`);
    }
  };
  for (const root of scenario.request.roots) check('request', root);
  for (const candidate of chosen.values()) {
    for (const dependency of candidate.dependencies) check(candidate.uniqueIdentifier, dependency);
  }
  return problems;
}

/** Every assignment of "not installed" or one version to each plugin; the first that works. */
function bruteForce(scenario: Scenario): Map<string, Candidate> | undefined {
  const plugins = [...scenario.catalog.entries()];
  const chosen = new Map<string, Candidate>();
  const search = (index: number): boolean => {
    if (index === plugins.length) return violations(chosen, scenario).length === 0;
    const [pluginId, candidates] = plugins[index] as [string, Candidate[]];
    chosen.delete(pluginId);
    if (search(index + 1)) return true;
    for (const candidate of candidates) {
      chosen.set(pluginId, candidate);
      if (search(index + 1)) return true;
    }
    chosen.delete(pluginId);
    return false;
  };
  return search(0) ? new Map(chosen) : undefined;
}

async function attempt(scenario: Scenario, reverse = false) {
  try {
    return {
      resolution: await resolveDependencies(fakePort(scenario.catalog, { reverse }), scenario.request),
    };
  } catch (error) {
    if (error instanceof ProblemError) return { error };
    throw error;
  }
}

describe('resolveDependencies — properties', () => {
  it('returns only solutions that satisfy every constraint, in dependency order', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (scenario) => {
        const { resolution } = await attempt(scenario);
        if (resolution === undefined) return;
        expect(violations(resolution.packages, scenario)).toEqual([]);
        const position = new Map(resolution.order.map((c, i) => [c.pluginId, i]));
        for (const [i, candidate] of resolution.order.entries()) {
          for (const dependency of candidate.dependencies) {
            expect(position.get(dependency.pluginId)).toBeLessThan(i);
          }
        }
        expect([...resolution.packages.values()]).toEqual(resolution.order);
      }),
      { numRuns: RUNS },
    );
  });

  it('declares a request unsatisfiable exactly when brute force finds no solution', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (scenario) => {
        const { resolution, error } = await attempt(scenario);
        const oracle = bruteForce(scenario);
        if (oracle === undefined) {
          expect(error?.slug).toBe('dependency-unsatisfiable');
          expect(error?.message.length).toBeGreaterThan(0);
        } else {
          // A solution exists, so the resolver finds one — or one whose chosen versions form a cycle.
          expect(error === undefined || error.slug === 'dependency-cycle').toBe(true);
          if (error !== undefined) {
            const cycle = error.extensions?.cycle as string[];
            for (let i = 0; i + 1 < cycle.length; i += 1) {
              const declares = scenario.catalog
                .get(cycle[i] as string)
                ?.some((c) => c.dependencies.some((d) => d.pluginId === cycle[i + 1]));
              expect(declares).toBe(true);
            }
          } else {
            expect(violations(resolution?.packages ?? new Map(), scenario)).toEqual([]);
          }
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('keeps a solution that the tenant already has installed', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (scenario) => {
        const first = await attempt(scenario);
        if (first.resolution === undefined) return;
        const installed = new Map(first.resolution.order.map((c) => [c.pluginId, c.version]));
        const again = await attempt({ ...scenario, request: { ...scenario.request, installed } });
        expect(again.resolution?.order.map((c) => c.uniqueIdentifier)).toEqual(
          first.resolution.order.map((c) => c.uniqueIdentifier),
        );
      }),
      { numRuns: RUNS },
    );
  });

  it('is deterministic: the port’s order never changes the outcome', async () => {
    await fc.assert(
      fc.asyncProperty(scenarioArb, async (scenario) => {
        const forward = await attempt(scenario);
        const backward = await attempt(scenario, true);
        expect(backward.resolution?.order.map((c) => c.uniqueIdentifier)).toEqual(
          forward.resolution?.order.map((c) => c.uniqueIdentifier),
        );
        expect(backward.error?.message).toEqual(forward.error?.message);
      }),
      { numRuns: RUNS },
    );
  });
});
