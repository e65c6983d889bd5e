/**
 * Planning (the Resolve step) and the lease rules. Pure: callers pass what is installed, the
 * package or revision targeted, and `now`.
 */
import { ConflictError, ValidationError } from '#core/errors.ts';
import { compareVersions } from '#core/version.ts';
import type { DeploymentOperation, InstalledRef, Lease, PlanStep, Revision } from './model.ts';

/** What a package contributes to a plan. */
export interface PlannedPackage {
  unique_identifier: string;
  plugin_id: string;
  version: string;
  storage_key: string;
  sha256: string;
}

export interface PlanInput {
  operation: DeploymentOperation;
  pluginId: string;
  installed: InstalledRef;
  /** install / upgrade / auto-upgrade: the target package. */
  target?: PlannedPackage;
  /** rollback: the revision to restore and its package (absent when that revision uninstalled). */
  restore?: { revision: Pick<Revision, 'revision' | 'unique_identifier'>; package?: PlannedPackage };
  /** Conditional request: `undefined` = unconditional, `null` = "nothing installed". */
  expectedCurrent?: string | null | undefined;
  hasConfig: boolean;
}

/**
 * Decides what a deployment does to its plugin.
 *
 * @example planStep({ operation: 'install', pluginId: 'a/b', installed: NONE, target, hasConfig: false }).action === 'install'
 * @throws ConflictError when `expectedCurrent` does not match, when upgrading or uninstalling what
 *   is not installed, or when there is nothing to roll back to.
 */
export function planStep(input: PlanInput): PlanStep {
  const { installed } = input;
  if (input.expectedCurrent !== undefined && input.expectedCurrent !== installed.unique_identifier) {
    throw new ConflictError(
      `expected_current is ${input.expectedCurrent ?? 'null'} but ${input.pluginId} has ${installed.unique_identifier ?? 'nothing'} installed.`,
      { extensions: { current: installed.unique_identifier } },
    );
  }
  const from = { ...installed };
  switch (input.operation) {
    case 'install':
    case 'upgrade':
    case 'auto-upgrade': {
      const target = required(input.target, 'target package');
      if (input.operation !== 'install' && installed.unique_identifier === null) {
        throw new ConflictError(`${input.pluginId} is not installed; use operation "install".`);
      }
      return {
        plugin_id: input.pluginId,
        action: changeAction(installed, target, input.hasConfig),
        from,
        to: toOf(target),
      };
    }
    case 'uninstall':
      if (installed.unique_identifier === null)
        throw new ConflictError(`${input.pluginId} is not installed.`);
      return {
        plugin_id: input.pluginId,
        action: 'uninstall',
        from,
        to: { unique_identifier: null, version: null, package_key: null, sha256: null },
      };
    case 'rollback': {
      const restore = required(input.restore, 'revision to restore');
      const step: PlanStep =
        restore.package === undefined
          ? {
              plugin_id: input.pluginId,
              action: 'uninstall',
              from,
              to: { unique_identifier: null, version: null, package_key: null, sha256: null },
            }
          : {
              plugin_id: input.pluginId,
              action:
                installed.unique_identifier === restore.package.unique_identifier
                  ? 'reconfigure'
                  : changeAction(installed, restore.package, true),
              from,
              to: toOf(restore.package),
            };
      if (step.action === 'uninstall' && installed.unique_identifier === null) {
        throw new ConflictError(
          `Revision ${restore.revision.revision} had nothing installed, and nothing is installed now.`,
        );
      }
      return { ...step, restore_revision: restore.revision.revision };
    }
  }
}

/** The revision a rollback restores: the one asked for, or the one before the current. */
export function rollbackRevisionNumber(currentRevision: number, requested: number | undefined): number {
  if (requested !== undefined) {
    if (requested < 1 || requested > currentRevision) {
      throw new ValidationError(`Revision ${requested} does not exist (the latest is ${currentRevision}).`, [
        { path: 'to_revision', message: `must be between 1 and ${currentRevision}` },
      ]);
    }
    return requested;
  }
  if (currentRevision < 2) throw new ConflictError('There is no previous revision to roll back to.');
  return currentRevision - 1;
}

function changeAction(
  installed: InstalledRef,
  target: PlannedPackage,
  hasConfig: boolean,
): PlanStep['action'] {
  if (installed.unique_identifier === null || installed.version === null) return 'install';
  if (installed.unique_identifier === target.unique_identifier) return hasConfig ? 'reconfigure' : 'keep';
  return compareVersions(target.version, installed.version) < 0 ? 'downgrade' : 'upgrade';
}

function toOf(target: PlannedPackage): PlanStep['to'] {
  return {
    unique_identifier: target.unique_identifier,
    version: target.version,
    package_key: target.storage_key,
    sha256: target.sha256,
  };
}

function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`planStep: missing ${what}`);
  return value;
}

/** A reservation made by the API covers the approval wait plus this much. */
export const RESERVATION_GRACE_SECONDS = 15 * 60;
/** The workflow's lease; renewed by every step that holds it. */
export const LEASE_SECONDS = 5 * 60;

export type LeaseState = 'free' | 'mine' | 'held' | 'expired';

/**
 * Who holds the plugin. An expired lease belongs to nobody: the next deployment may take it over
 * (and must first finish or undo the holder's half-done work).
 */
export function leaseState(lock: Lease | undefined, deploymentId: string, now: Date): LeaseState {
  if (lock === undefined) return 'free';
  if (lock.deployment_id === deploymentId) return 'mine';
  return Date.parse(lock.expires_at) > now.getTime() ? 'held' : 'expired';
}

export function leaseExpiry(now: Date, seconds: number): string {
  return new Date(now.getTime() + seconds * 1000).toISOString();
}

/**
 * The runtime desired-state generation of a tenant: the sum of its plugins' revision numbers.
 * Every applied change adds one revision, so it only grows, and a retried write computes the same
 * number (the host can ignore a generation it has already seen).
 */
export function desiredStateGeneration(revisions: Iterable<number>): number {
  let total = 0;
  for (const revision of revisions) total += revision;
  return total;
}

/**
 * The basis of a plan: the revision (0 = never installed) of every plugin in `pluginIds` as the
 * plan found it.
 *
 * @example planBasis(['a/b', 'c/d'], [{ plugin_id: 'a/b', revision: 3 }]) // { 'a/b': 3, 'c/d': 0 }
 */
export function planBasis(
  pluginIds: Iterable<string>,
  installations: ReadonlyArray<{ plugin_id: string; revision: number }>,
): Record<string, number> {
  const revisions = new Map(installations.map((item) => [item.plugin_id, item.revision]));
  const basis: Record<string, number> = {};
  for (const pluginId of [...new Set(pluginIds)].sort()) basis[pluginId] = revisions.get(pluginId) ?? 0;
  return basis;
}

/**
 * The plugins whose revision moved since the basis was taken: empty when the plan still holds.
 *
 * @example basisChanges({ 'a/b': 3 }, [{ plugin_id: 'a/b', revision: 4 }]) // ['a/b']
 */
export function basisChanges(
  basis: Readonly<Record<string, number>>,
  installations: ReadonlyArray<{ plugin_id: string; revision: number }>,
): string[] {
  const now = planBasis(Object.keys(basis), installations);
  return Object.keys(basis).filter((pluginId) => now[pluginId] !== basis[pluginId]);
}

/** How often one run may go back from Acquire to Resolve before it gives up (a busy tenant). */
export const MAX_REPLANS = 3;
