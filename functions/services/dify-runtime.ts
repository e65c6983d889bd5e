/**
 * Deploying into a Dify plugin daemon (`PLUGINOPS_RUNTIME=dify-daemon`; DESIGN §11): the
 * {@link DeployRuntime} behind the deploy workflow's Apply / Probe / Rollback and its drift check
 * at Snapshot (wired in deploy-ports.ts), the drift records and adoption ({@link DriftStore}),
 * and adoption on request (`POST /v1/tenants/{t}/runtime:sync`).
 *
 * The built-in host reads one desired-state document per tenant; a daemon is told plugin by
 * plugin. So Apply keeps writing pluginops' record first (one transaction per plugin, the truth),
 * then {@link convergeDifyDaemon} makes the daemon run what the record says for exactly the
 * plugins the deployment touched — never the others, so a change made in the Dify console to
 * another plugin is reported as drift by that plugin's next deployment, not silently reverted.
 */
import { ulid } from 'ulid';
import { createDifyDaemonRuntime, type DaemonTarget, type PluginRuntime } from '#adapters/dify-daemon.ts';
import {
  applyRevision,
  findInstallation,
  listInstalledPlugins,
  releaseLease,
  takeLease,
} from '#adapters/dynamo/installations.ts';
import { findPackage } from '#adapters/dynamo/packages.ts';
import { markCatalogPresence, recordInstallationDrift } from '#adapters/dynamo/runtime-drift.ts';
import { findTenant } from '#adapters/dynamo/tenants.ts';
import { getObjectBytes } from '#adapters/s3/blob-store.ts';
import { getConfig, type RuntimeConfig } from '#config/runtime-config.ts';
import { LEASE_SECONDS, leaseExpiry } from '#core/deploy/plan.ts';
import type { DeployRuntime, DriftStore } from '#core/deploy/ports.ts';
import { NotFoundError, ProblemError } from '#core/errors.ts';
import { domainEvent } from '#core/events.ts';
import type { Drift } from '#core/runtime-drift.ts';
import { parseUniqueIdentifier } from '#core/unique-identifier.ts';

export function usesDifyDaemon(): boolean {
  return getConfig().runtime === 'dify-daemon';
}

let cached: { config: RuntimeConfig; runtime: PluginRuntime } | undefined;

/** Module-scope daemon client; rebuilt after `resetConfigCache()`. The key is never logged. */
export function difyRuntime(): PluginRuntime {
  const config = getConfig();
  if (cached?.config !== config) {
    if (config.difyDaemonUrl === undefined || config.difyDaemonKey === undefined) {
      throw new ProblemError(
        'runtime-failed',
        'PLUGINOPS_RUNTIME is dify-daemon, but PLUGINOPS_DIFY_DAEMON_URL or PLUGINOPS_DIFY_DAEMON_KEY is not set.',
      );
    }
    cached = {
      config,
      runtime: createDifyDaemonRuntime({
        url: config.difyDaemonUrl,
        apiKey: config.difyDaemonKey,
        taskTimeoutMs: config.difyDaemonTaskTimeoutMs,
      }),
    };
  }
  return cached.runtime;
}

/** The Dify tenant (workspace) id of a pluginops tenant, or the problem that it has none. */
export async function requireDifyTenant(tenantId: string): Promise<string> {
  const tenant = await findTenant(tenantId);
  if (tenant === undefined) throw new NotFoundError(`Tenant "${tenantId}" does not exist.`);
  if (tenant.dify_tenant_id === null) {
    throw new ProblemError(
      'dify-tenant-missing',
      `Tenant ${tenantId} has no dify_tenant_id: with the Dify plugin daemon runtime it cannot be deployed to. ` +
        `Set it with PATCH /v1/tenants/${tenantId} {"dify_tenant_id": "<the Dify workspace UUID>"}.`,
    );
  }
  return tenant.dify_tenant_id;
}

/** Checked at Resolve: with the daemon runtime a tenant needs its Dify tenant id before anything is planned. */
export async function assertRuntimeTarget(tenantId: string): Promise<void> {
  if (usesDifyDaemon()) await requireDifyTenant(tenantId);
}

/**
 * Makes the daemon run what pluginops recorded for `pluginIds` (every installed plugin when
 * omitted). Idempotent: plugins the daemon already runs as recorded cost one list call.
 * @throws DifyDaemonError (`runtime-failed`) with the daemon's message.
 */
export async function convergeDifyDaemon(tenantId: string, pluginIds?: readonly string[]): Promise<void> {
  const difyTenant = await requireDifyTenant(tenantId);
  const ids = pluginIds ?? (await listInstalledPlugins(tenantId)).map((item) => item.plugin_id);
  for (const pluginId of ids) {
    const installation = await findInstallation(tenantId, pluginId);
    let target: DaemonTarget | null = null;
    if (installation?.status === 'installed' && installation.unique_identifier !== null) {
      const packageKey = installation.package_key;
      const uid = installation.unique_identifier;
      target = {
        unique_identifier: uid,
        loadBytes: async () => {
          if (packageKey === null) {
            throw new ProblemError(
              'runtime-failed',
              `${uid} was adopted from Dify and is not in the catalog, and the Dify plugin daemon no longer has it; publish the package to deploy it again.`,
            );
          }
          return getObjectBytes(packageKey);
        },
      };
    }
    await difyRuntime().converge(difyTenant, pluginId, target);
  }
}

/**
 * The deploy workflow's runtime over the daemon: `sync` converges exactly the plugins the caller
 * changed (the record is the truth; the installed list is the built-in host's business), `probe`
 * asks the daemon's list, `assertTarget` needs the tenant's `dify_tenant_id`, and `list` lets
 * Snapshot find drift.
 */
export function difyDaemonRuntime(): DeployRuntime {
  return {
    async sync(tenantId, _installed, _now, pluginIds) {
      await convergeDifyDaemon(tenantId, pluginIds);
      return 'written';
    },
    probe: async (tenantId, pluginId, uniqueIdentifier) =>
      difyRuntime().probe(await requireDifyTenant(tenantId), pluginId, uniqueIdentifier),
    assertTarget: async (tenantId) => {
      await requireDifyTenant(tenantId);
    },
    list: async (tenantId) =>
      (await difyRuntime().list(await requireDifyTenant(tenantId))).map((item) => ({
        plugin_id: item.plugin_id,
        unique_identifier: item.plugin_unique_identifier,
      })),
  };
}

/** Drift records on installations, and adoption of what the daemon runs (DynamoDB). */
export function difyDriftStore(): DriftStore {
  return {
    recordInstallation: recordInstallationDrift,
    adopt: (tenantId, pluginId, uniqueIdentifier, holder, actor, now) =>
      adoptPlugin(tenantId, pluginId, uniqueIdentifier, holder, actor, now),
  };
}

export interface AdoptedPlugin {
  plugin_id: string;
  unique_identifier: string | null;
  revision: number;
  changed: boolean;
  in_catalog: boolean;
}

/**
 * Records `uniqueIdentifier` (null: not installed) as the plugin's installed state, as an
 * `adopted` revision, under the lease `holder` holds. A plugin already recorded so is unchanged.
 */
async function adoptPlugin(
  tenantId: string,
  pluginId: string,
  uniqueIdentifier: string | null,
  holder: string,
  actor: string,
  now: Date,
): Promise<AdoptedPlugin> {
  const installation = await findInstallation(tenantId, pluginId);
  const record = uniqueIdentifier === null ? undefined : await findPackage(uniqueIdentifier);
  const inCatalog = uniqueIdentifier === null || record !== undefined;
  const current = installation?.status === 'installed' ? installation.unique_identifier : null;
  if (current === uniqueIdentifier) {
    await recordInstallationDrift(tenantId, pluginId, null);
    return {
      plugin_id: pluginId,
      unique_identifier: uniqueIdentifier,
      revision: installation?.revision ?? 0,
      changed: false,
      in_catalog: inCatalog,
    };
  }
  const { revision } = await applyRevision({
    tenantId,
    pluginId,
    deploymentId: holder,
    expectedRevision: installation?.revision ?? 0,
    state: {
      unique_identifier: uniqueIdentifier,
      version: uniqueIdentifier === null ? null : parseUniqueIdentifier(uniqueIdentifier).version,
      package_key: record?.storage_key ?? null,
      sha256: record?.sha256 ?? null,
      config_sealed: uniqueIdentifier === null ? null : (installation?.config_sealed ?? null),
      config_digest: uniqueIdentifier === null ? null : (installation?.config_digest ?? null),
    },
    revision: {
      unique_identifier: uniqueIdentifier,
      previous_unique_identifier: current,
      version: uniqueIdentifier === null ? null : parseUniqueIdentifier(uniqueIdentifier).version,
      operation: 'adopted',
      actor,
      deployment_id: holder,
      config_digest: uniqueIdentifier === null ? null : (installation?.config_digest ?? null),
      outcome: 'succeeded',
      created_at: now.toISOString(),
    },
    now,
    events: [
      domainEvent(
        'Installation Changed',
        `${holder}/${pluginId}/${(installation?.revision ?? 0) + 1}`,
        {
          tenant_id: tenantId,
          plugin_id: pluginId,
          deployment_id: holder,
          revision: (installation?.revision ?? 0) + 1,
          unique_identifier: uniqueIdentifier,
          previous_unique_identifier: current,
          adopted: true,
        },
        now,
      ),
    ],
  });
  await markCatalogPresence(tenantId, pluginId, inCatalog);
  await recordInstallationDrift(tenantId, pluginId, null);
  return {
    plugin_id: pluginId,
    unique_identifier: uniqueIdentifier,
    revision,
    changed: true,
    in_catalog: inCatalog,
  };
}

/**
 * `POST /v1/tenants/{t}/runtime:sync`: what the daemon runs becomes pluginops' installed state,
 * plugin by plugin under a short lease (a plugin being deployed right now answers 409).
 */
export async function syncFromDifyDaemon(
  tenantId: string,
  actor: string,
  now: Date,
): Promise<AdoptedPlugin[]> {
  if (!usesDifyDaemon()) {
    throw new ProblemError(
      'validation-failed',
      'runtime:sync needs the Dify plugin daemon runtime (PLUGINOPS_RUNTIME=dify-daemon).',
    );
  }
  const difyTenant = await requireDifyTenant(tenantId);
  const observed = await difyRuntime().list(difyTenant);
  const recorded = await listInstalledPlugins(tenantId);
  const pluginIds = [
    ...new Set([...observed.map((item) => item.plugin_id), ...recorded.map((item) => item.plugin_id)]),
  ].sort();
  const holder = `sync-${ulid(now.getTime())}`;
  const results: AdoptedPlugin[] = [];
  for (const pluginId of pluginIds) {
    const runs = observed.find((item) => item.plugin_id === pluginId)?.plugin_unique_identifier ?? null;
    await takeLease(
      tenantId,
      pluginId,
      { deployment_id: holder, expires_at: leaseExpiry(now, LEASE_SECONDS), phase: 'acquired' },
      now,
    );
    try {
      results.push(await adoptPlugin(tenantId, pluginId, runs, holder, actor, now));
    } finally {
      await releaseLease(tenantId, pluginId, holder);
    }
  }
  return results;
}

export type { Drift };
