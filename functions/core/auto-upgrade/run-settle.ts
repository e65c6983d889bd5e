/**
 * A run summary as its deployments turned out. The sweep records an upgrade when it *starts* the
 * deployment; Verify (or a later step) may still refuse it. Reading a run settles it: an upgrade
 * whose deployment ended `failed`, `rolled_back` or `rejected` is listed under `failed` with the
 * deployment's problem, never under `upgraded`.
 */
import type { UpgradeRunSummary } from './run-summary.ts';

export interface DeploymentOutcome {
  status: string;
  error?: { type: string; detail: string } | undefined;
}

const REFUSED: ReadonlySet<string> = new Set(['failed', 'rolled_back', 'rejected']);

/**
 * @example settleRun(run, new Map([['01J…', { status: 'failed', error: { type, detail } }]]))
 */
export function settleRun(
  run: UpgradeRunSummary,
  outcomes: ReadonlyMap<string, DeploymentOutcome>,
): UpgradeRunSummary {
  const upgraded: UpgradeRunSummary['upgraded'] = [];
  const failed: UpgradeRunSummary['failed'] = [...run.failed];
  for (const entry of run.upgraded) {
    const outcome = entry.deployment_id === undefined ? undefined : outcomes.get(entry.deployment_id);
    if (outcome === undefined || !REFUSED.has(outcome.status)) {
      upgraded.push(entry);
      continue;
    }
    failed.push({
      ...entry,
      problem: outcome.error ?? {
        type: 'urn:pluginops:problem:internal',
        detail: `Deployment ${outcome.status}.`,
      },
    });
  }
  return { ...run, upgraded, failed };
}
