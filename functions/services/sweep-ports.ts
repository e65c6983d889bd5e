/** The sweep's ports wired to the real adapters (DynamoDB, the deploy use-case, EventBridge). */
import {
  advanceAutoUpgradeSchedule,
  listUpgradeRuns,
  putUpgradeRun,
  querySlot,
} from '#adapters/dynamo/auto-upgrade.ts';
import { findDeployment, listDeployments } from '#adapters/dynamo/deployments.ts';
import { listInstalledPlugins } from '#adapters/dynamo/installations.ts';
import { findDeprecation } from '#adapters/dynamo/marketplace.ts';
import { listPluginVersions } from '#adapters/dynamo/packages.ts';
import {
  claimUpgradeAlert,
  closeWave,
  createRollout,
  findRollouts,
  putSweepRun,
  recordWaveDeployment,
} from '#adapters/dynamo/sweep-store.ts';
import { getStoredPolicy } from '#adapters/dynamo/tenants.ts';
import { publishEvent } from '#adapters/events.ts';
import type { CatalogVersion } from '#core/auto-upgrade/plan.ts';
import type { Deployment, DeploymentStatus } from '#core/deploy/model.ts';
import { visibleTo } from '#core/trust.ts';
import { startDeployment } from './deploy.ts';
import { tenantCanaryPolicy } from './stage.ts';
import { SWEEP_ACTOR, type SweepPorts } from './sweep.ts';

const PAGE = 100;

async function listCatalog(pluginId: string, tenantId: string): Promise<CatalogVersion[]> {
  const versions: CatalogVersion[] = [];
  let cursor: string | undefined;
  do {
    const page = await listPluginVersions(pluginId, PAGE, cursor);
    for (const record of visibleTo(page.items, tenantId)) {
      versions.push({
        version: record.version,
        unique_identifier: record.unique_identifier,
        published_at: record.published_at,
      });
    }
    cursor = page.next_cursor ?? undefined;
  } while (cursor !== undefined);
  return versions;
}

async function listByStatus(tenantId: string, status: DeploymentStatus): Promise<Deployment[]> {
  const found: Deployment[] = [];
  let cursor: string | undefined;
  do {
    const page = await listDeployments(tenantId, { status, limit: PAGE, cursor });
    found.push(...page.items.filter((deployment) => deployment.operation === 'auto-upgrade'));
    cursor = page.next_cursor ?? undefined;
  } while (cursor !== undefined);
  return found;
}

export function sweepPorts(): SweepPorts {
  return {
    clock: () => new Date(),
    querySlot: (slot, cursor) => querySlot(slot, cursor),
    async listInstalled(tenantId) {
      return (await listInstalledPlugins(tenantId)).flatMap((entry) =>
        entry.unique_identifier === null || entry.version === null
          ? []
          : [
              {
                plugin_id: entry.plugin_id,
                unique_identifier: entry.unique_identifier,
                version: entry.version,
                status: entry.status,
                ...(entry.hold === undefined ? {} : { hold: entry.hold }),
              },
            ],
      );
    },
    listCatalog,
    findDeprecation,
    async listFailedAutoUpgrades(tenantId) {
      const [failed, rolledBack] = await Promise.all([
        listByStatus(tenantId, 'failed'),
        listByStatus(tenantId, 'rolled_back'),
      ]);
      return [...failed, ...rolledBack];
    },
    async canaryPolicy(tenantId) {
      return tenantCanaryPolicy(await getStoredPolicy(tenantId));
    },
    async lastRun(tenantId) {
      return (await listUpgradeRuns(tenantId, 1, undefined)).items[0];
    },
    async startDeployment(tenantId, request, now) {
      // Auto-upgrade is the system's own doing: it may bring missing dependencies.
      return startDeployment(tenantId, SWEEP_ACTOR, request, now, { mayFetch: true });
    },
    async deploymentStatus(tenantId, deploymentId) {
      const deployment = await findDeployment(tenantId, deploymentId);
      if (deployment === undefined) return undefined;
      return {
        status: deployment.status,
        ...(deployment.error === undefined ? {} : { error: deployment.error }),
      };
    },
    advanceSchedule: (entry, after) => advanceAutoUpgradeSchedule(entry, after),
    putUpgradeRun: (tenantId, summary) => putUpgradeRun(tenantId, summary),
    findRollouts,
    createRollout,
    recordWaveDeployment,
    closeWave,
    claimUpgradeAlert,
    publishAlert: async (alert, now) => {
      await publishEvent('Auto-upgrade Alert', { ...alert }, now);
    },
    putSweepRun,
  };
}
