/** A tenant's auto-upgrade runs, settled against how their deployments ended (core/auto-upgrade/run-settle.ts). */
import { listUpgradeRuns } from '#adapters/dynamo/auto-upgrade.ts';
import { findDeployment } from '#adapters/dynamo/deployments.ts';
import { type DeploymentOutcome, settleRun } from '#core/auto-upgrade/run-settle.ts';
import type { UpgradeRunSummary } from '#core/auto-upgrade/run-summary.ts';
import type { Page } from '#core/page.ts';

export async function listSettledUpgradeRuns(
  tenantId: string,
  limit: number,
  cursor: string | undefined,
): Promise<Page<UpgradeRunSummary>> {
  const page = await listUpgradeRuns(tenantId, limit, cursor);
  const ids = page.items.flatMap((run) => run.upgraded.flatMap((entry) => entry.deployment_id ?? []));
  const outcomes = new Map<string, DeploymentOutcome>();
  for (const id of new Set(ids)) {
    const deployment = await findDeployment(tenantId, id);
    if (deployment !== undefined) {
      outcomes.set(id, {
        status: deployment.status,
        ...(deployment.error === undefined ? {} : { error: deployment.error }),
      });
    }
  }
  return { ...page, items: page.items.map((run) => settleRun(run, outcomes)) };
}
