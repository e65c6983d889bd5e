/**
 * Which installed plugins of a tenant the sweep upgrades, and why it leaves the others alone.
 * Pure: the sweep loads installations, catalog versions and failure counts, this decides.
 */

import type { PluginDeprecation } from '#core/marketplace/declaration.ts';
import { preferredBuild } from '#core/marketplace/latest.ts';
import { parseUniqueIdentifier } from '#core/unique-identifier.ts';
import { compareVersions, pickUpgradeCandidate } from '#core/version.ts';
import type { AutoUpgradeSettings } from './settings.ts';

/** Failed auto-upgrade attempts of one target after which the sweep stops trying it. */
export const MAX_AUTO_UPGRADE_ATTEMPTS = 3;

export const SKIP_REASONS = [
  'disabled',
  'not-included',
  'excluded',
  'up-to-date',
  'held',
  'prerelease-only',
  'retries-exhausted',
  /** An operator deprecated the plugin (Dify's marketplace `status: deleted`): never upgraded to. */
  'deprecated',
  // Decided by the sweep, not by the planner:
  /** Another deployment holds the plugin (409); tried again at the next run. */
  'busy',
  /** The rollout of the target was halted after its canary wave failed; an operator resumes it. */
  'halted',
  /** The target's canary wave has not reported yet; this tenant gets it at a later run. */
  'canary-pending',
] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

export interface InstalledPlugin {
  plugin_id: string;
  unique_identifier: string;
  version: string;
  /**
   * Set by a rollback of a failed deployment: the unique identifier that failed. The sweep does not
   * go back to it, nor to anything at or below its version, until the hold is cleared; a newer
   * release (the fix) is allowed.
   */
  hold?: { unique_identifier: string } | null | undefined;
}

/** One catalogued build of a plugin. */
export interface CatalogVersion {
  version: string;
  unique_identifier: string;
  /** When the build was published: of several builds of one version, the first published wins. */
  published_at?: string | undefined;
}

export interface PlanAutoUpgradesInput {
  settings: Pick<
    AutoUpgradeSettings,
    'strategy_setting' | 'upgrade_mode' | 'include_plugins' | 'exclude_plugins' | 'allow_prerelease'
  >;
  installed: readonly InstalledPlugin[];
  /**
   * Catalogued builds per plugin id. When one version has several builds, the one that stands for
   * the version is chosen by the marketplace's rule (`core/marketplace/latest.ts`: first
   * published; without `published_at`, the first listed).
   */
  catalog: ReadonlyMap<string, readonly CatalogVersion[]>;
  /** Plugins an operator deprecated; the sweep never upgrades them. */
  deprecations?: ReadonlyMap<string, Pick<PluginDeprecation, 'reason' | 'alternative_plugin_id'>>;
  /** Failed auto-upgrade attempts per target unique identifier. */
  failures: ReadonlyMap<string, number>;
}

export interface PlannedUpgrade {
  plugin_id: string;
  /** Installed unique identifier. */
  from: string;
  /** Target unique identifier. */
  to: string;
  from_version: string;
  to_version: string;
}

export interface SkippedPlugin {
  plugin_id: string;
  reason: SkipReason;
  /** The target that would have been chosen (`held`, `retries-exhausted`). */
  candidate?: string;
  /** Why, in a sentence, when the reason alone does not say (set by the sweep). */
  detail?: string;
}

export interface AutoUpgradePlan {
  upgrade: PlannedUpgrade[];
  skipped: SkippedPlugin[];
}

/**
 * Decides the auto-upgrades of one tenant. For each installed plugin, in order:
 * 1. `disabled` when the strategy is `disabled`;
 * 2. `not-included` (mode `partial`, not in `include_plugins`) / `excluded` (mode `exclude`, in
 *    `exclude_plugins`);
 * 3. the candidate is {@link pickUpgradeCandidate} with the strategy (`fix_only`: same
 *    major.minor, higher patch; `latest`: highest newer) — never a lower or equal version. None:
 *    `prerelease-only` when only pre-releases are newer and the tenant did not opt in, else
 *    `up-to-date`;
 *    (An operator-deprecated plugin is skipped as `deprecated` before any candidate is chosen.)
 * 4. `held` when a hold rules out every candidate (see {@link InstalledPlugin.hold});
 * 5. `retries-exhausted` when the chosen target already failed {@link MAX_AUTO_UPGRADE_ATTEMPTS}
 *    times.
 *
 * @example planAutoUpgrades({ settings, installed: [{ plugin_id: 'a/b', version: '1.0.0', … }],
 *   catalog: new Map([['a/b', [{ version: '1.0.1', unique_identifier: 'a/b:1.0.1@…' }]]]),
 *   failures: new Map() }).upgrade // [{ plugin_id: 'a/b', from: …, to: 'a/b:1.0.1@…', … }]
 * @throws ValidationError when an installed version is not Dify-shaped.
 */
export function planAutoUpgrades(input: PlanAutoUpgradesInput): AutoUpgradePlan {
  const { settings } = input;
  const plan: AutoUpgradePlan = { upgrade: [], skipped: [] };
  const include = new Set(settings.include_plugins);
  const exclude = new Set(settings.exclude_plugins);
  for (const installed of input.installed) {
    const skip = (reason: SkipReason, candidate?: string) =>
      plan.skipped.push({
        plugin_id: installed.plugin_id,
        reason,
        ...(candidate === undefined ? {} : { candidate }),
      });
    if (settings.strategy_setting === 'disabled') {
      skip('disabled');
      continue;
    }
    if (settings.upgrade_mode === 'partial' && !include.has(installed.plugin_id)) {
      skip('not-included');
      continue;
    }
    if (settings.upgrade_mode === 'exclude' && exclude.has(installed.plugin_id)) {
      skip('excluded');
      continue;
    }
    const deprecation = input.deprecations?.get(installed.plugin_id);
    if (deprecation !== undefined) {
      const alternative = deprecation.alternative_plugin_id
        ? ` Switch to ${deprecation.alternative_plugin_id} instead.`
        : '';
      plan.skipped.push({
        plugin_id: installed.plugin_id,
        reason: 'deprecated',
        detail: `${installed.plugin_id} is deprecated: ${deprecation.reason}${alternative}`,
      });
      continue;
    }
    const builds = input.catalog.get(installed.plugin_id) ?? [];
    const strategy = settings.strategy_setting;
    const allowPrerelease = settings.allow_prerelease;
    const versions = builds.map((build) => build.version);
    const best = pickUpgradeCandidate(installed.version, versions, strategy, { allowPrerelease });
    if (best === undefined) {
      const prereleaseOnly =
        !allowPrerelease &&
        pickUpgradeCandidate(installed.version, versions, strategy, { allowPrerelease: true }) !== undefined;
      skip(prereleaseOnly ? 'prerelease-only' : 'up-to-date');
      continue;
    }
    let target = best;
    const held = installed.hold?.unique_identifier;
    if (held !== undefined) {
      const heldVersion = parseUniqueIdentifier(held).version;
      const beyondHold = versions.filter((version) => compareVersions(version, heldVersion) > 0);
      const allowed = pickUpgradeCandidate(installed.version, beyondHold, strategy, { allowPrerelease });
      if (allowed === undefined) {
        skip('held', held);
        continue;
      }
      target = allowed;
    }
    const build = preferredBuild(
      builds.filter((candidate) => candidate.unique_identifier !== held),
      target,
    );
    if (build === undefined) {
      skip('held', held);
      continue;
    }
    if ((input.failures.get(build.unique_identifier) ?? 0) >= MAX_AUTO_UPGRADE_ATTEMPTS) {
      skip('retries-exhausted', build.unique_identifier);
      continue;
    }
    plan.upgrade.push({
      plugin_id: installed.plugin_id,
      from: installed.unique_identifier,
      to: build.unique_identifier,
      from_version: installed.version,
      to_version: build.version,
    });
  }
  return plan;
}
