/** What a resolution means for one tenant: the steps of its install plan. */
import { compareVersions } from '#core/version.ts';
import type { PlanAction, PlanStep, Resolution } from './types.ts';

/**
 * One step per resolved plugin, in install order, comparing with what the tenant has.
 *
 * @example describePlan(resolution, new Map([['acme/y', '1.0.0']]))
 *   // [{ plugin_id: 'acme/y', from: '1.0.0', to: '1.4.0', action: 'upgrade', ... }, ...]
 */
export function describePlan(resolution: Resolution, installed: ReadonlyMap<string, string>): PlanStep[] {
  return resolution.order.map((candidate) => {
    const from = installed.get(candidate.pluginId) ?? null;
    return {
      plugin_id: candidate.pluginId,
      from,
      to: candidate.version,
      unique_identifier: candidate.uniqueIdentifier,
      action: actionFor(from, candidate.version),
    };
  });
}

function actionFor(from: string | null, to: string): PlanAction {
  if (from === null) return 'install';
  const order = compareVersions(to, from);
  return order > 0 ? 'upgrade' : order < 0 ? 'downgrade' : 'keep';
}
