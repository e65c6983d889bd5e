/**
 * Dependency resolution (docs/design.md#dependencies): which version of every required plugin to
 * install, and in which order. Pure: candidates come through a port; nothing here touches the
 * network or a clock.
 */
import { ValidationError } from '#core/errors.ts';
import type { ManifestDependency } from '#core/manifest.ts';
import { parseUniqueIdentifier } from '#core/unique-identifier.ts';
import { normalizeDifyRange } from '#core/version.ts';
import { orderForInstall } from './install-order.ts';
import { Solver } from './solver.ts';
import type { CandidatePort, Requirement, Resolution, ResolveRequest } from './types.ts';

/**
 * Resolves `request.roots` and everything they depend on with PubGrub: the highest versions that
 * satisfy every constraint, keeping the tenant's installed version whenever it satisfies them.
 * Pre-releases are picked only when a range names one or `allowPrerelease` is set; a `pinned`
 * requirement accepts exactly that build.
 *
 * @example
 *   const { order } = await resolveDependencies(catalogPort, {
 *     roots: [{ pluginId: 'acme/search', range: '^1.2' }],
 *     installed: new Map([['acme/http', '1.0.3']]),
 *   });
 * @throws ProblemError `dependency-unsatisfiable` whose detail (and `explanation` extension, one
 *   sentence per line) says why no solution exists, or that the problem exceeds `limits`.
 * @throws ProblemError `dependency-cycle` when the chosen versions depend on each other in a cycle
 *   (`cycle` extension: `['a', 'b', 'a']`).
 * @throws ValidationError when a range is not a valid version range.
 */
export async function resolveDependencies(port: CandidatePort, request: ResolveRequest): Promise<Resolution> {
  for (const root of request.roots) validateRequirement(root);
  const chosen = await new Solver(port, request).solve();
  const order = orderForInstall(chosen);
  return { packages: new Map(order.map((c) => [c.pluginId, c])), order };
}

/**
 * The requirement a manifest dependency makes. A `github` dependency names a release asset, not a
 * plugin: fetch and publish it first, then require it by its unique identifier (`pinned`).
 *
 * @throws ValidationError for a `github` dependency or a malformed range.
 */
export function requirementFromDependency(dependency: ManifestDependency): Requirement {
  switch (dependency.type) {
    case 'marketplace':
      return { pluginId: dependency.plugin, range: normalizeDifyRange(dependency.version) };
    case 'package': {
      const parsed = parseUniqueIdentifier(dependency.unique_identifier);
      return { pluginId: parsed.pluginId, range: parsed.version, pinned: dependency.unique_identifier };
    }
    case 'github':
      throw new ValidationError(
        `The github dependency ${dependency.repo}@${dependency.release}/${dependency.package} must be fetched ` +
          'and published before it can be resolved; require it by its unique identifier.',
      );
  }
}

function validateRequirement(requirement: Requirement): void {
  if (requirement.pinned !== undefined) {
    const parsed = parseUniqueIdentifier(requirement.pinned);
    if (parsed.pluginId !== requirement.pluginId) {
      throw new ValidationError(
        `The pinned identifier ${requirement.pinned} does not belong to plugin ${requirement.pluginId}.`,
      );
    }
    return;
  }
  normalizeDifyRange(requirement.range);
}
