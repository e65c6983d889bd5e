/**
 * Auto-upgrade settings, the sweep's slot index and per-tenant run summaries.
 *
 * The settings item carries GSI2 attributes (`UPGRADE_SLOT#<slot>` / tenant id) only while
 * auto-upgrade is enabled; disabling removes them, so the sweep — which only ever queries the
 * slot partition of its window, never scans — cannot see a disabled tenant. Every placement comes
 * from `slotKeysFor` in `#core/auto-upgrade/schedule.ts` (see there for the DST decision).
 */
import { GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { SlotEntry } from '#core/auto-upgrade/records.ts';
import type { UpgradeRunSummary } from '#core/auto-upgrade/run-summary.ts';
import { type SlotPlacement, slotKeysFor } from '#core/auto-upgrade/schedule.ts';
import { type AutoUpgradeSettings, defaultAutoUpgradeSettings } from '#core/auto-upgrade/settings.ts';
import type { Page } from '#core/page.ts';
import { batchGetItems } from './batch-get.ts';
import { documentClientInstance, mainTableName } from './client.ts';
import { isConditionalFailure, putIfAbsent } from './conditions.ts';
import { keys } from './keys.ts';
import { queryIndexPage, queryPrefixPage } from './query-page.ts';

/** Run summaries are kept this long (DynamoDB TTL), then expire on their own. */
export const UPGRADE_RUN_RETENTION_DAYS = 90;

export interface StoredAutoUpgrade {
  tenant_id: string;
  settings: AutoUpgradeSettings;
  /** Next due instant (RFC 3339), `null` while disabled. */
  next_run_at: string | null;
  /** UTC quarter-hour slot the tenant is indexed under, `null` while disabled. */
  slot: number | null;
  /** Incremented by every save; the sweep's re-index is conditioned on it. */
  revision: number;
  updated_at: string;
  /** Written by {@link ensureDefaultAutoUpgradeSettings}, not by the tenant. */
  is_default: boolean;
}

function toStored(item: Record<string, unknown>): StoredAutoUpgrade {
  return {
    tenant_id: item.tenant_id as string,
    settings: item.settings as AutoUpgradeSettings,
    next_run_at: (item.next_run_at as string | undefined) ?? null,
    slot: (item.slot as number | undefined) ?? null,
    revision: (item.revision as number | undefined) ?? 0,
    updated_at: item.updated_at as string,
    is_default: item.is_default === true,
  };
}

export async function findAutoUpgradeSettings(tenantId: string): Promise<StoredAutoUpgrade | undefined> {
  const { Item } = await documentClientInstance().send(
    new GetCommand({ TableName: mainTableName(), Key: keys.autoUpgrade(tenantId) }),
  );
  return Item === undefined ? undefined : toStored(Item);
}

/** The SET/REMOVE clauses that put the item under `placement`'s slot, or out of the index. */
function placementUpdate(tenantId: string, placement: SlotPlacement | undefined) {
  if (placement === undefined) {
    return { set: [] as string[], remove: ['GSI2PK', 'GSI2SK', 'next_run_at', 'slot'], values: {} };
  }
  const index = keys.autoUpgradeSlotIndex(placement.slot, tenantId);
  return {
    set: ['GSI2PK = :gsi2pk', 'GSI2SK = :gsi2sk', 'next_run_at = :next', 'slot = :slot'],
    remove: [] as string[],
    values: {
      ':gsi2pk': index.GSI2PK,
      ':gsi2sk': index.GSI2SK,
      ':next': placement.next_run_at.toISOString(),
      ':slot': placement.slot,
    },
  };
}

/**
 * Replaces the tenant's settings and re-indexes it from `now` (the next due instant at or after the
 * save). Saving the same settings twice leaves the same document (only `revision` and
 * `updated_at` move).
 */
export async function putAutoUpgradeSettings(
  tenantId: string,
  settings: AutoUpgradeSettings,
  now: Date,
): Promise<StoredAutoUpgrade> {
  const placement = placementUpdate(tenantId, slotKeysFor(settings, now));
  const set = [
    '#type = :type',
    'tenant_id = :tenant',
    'settings = :settings',
    'updated_at = :now',
    'revision = if_not_exists(revision, :zero) + :one',
    ...placement.set,
  ];
  const remove = ` REMOVE ${['is_default', ...placement.remove].join(', ')}`;
  const { Attributes } = await documentClientInstance().send(
    new UpdateCommand({
      TableName: mainTableName(),
      Key: keys.autoUpgrade(tenantId),
      UpdateExpression: `SET ${set.join(', ')}${remove}`,
      ExpressionAttributeNames: { '#type': 'type' },
      ExpressionAttributeValues: {
        ':type': 'auto_upgrade',
        ':tenant': tenantId,
        ':settings': settings,
        ':now': now.toISOString(),
        ':zero': 0,
        ':one': 1,
        ...placement.values,
      },
      ReturnValues: 'ALL_NEW',
    }),
  );
  return toStored(Attributes ?? {});
}

/**
 * Indexes a tenant that never saved settings with its defaults (`fix_only`, so it is enabled), so
 * the sweep finds it without scanning tenants. Call it when a tenant is created (and once for
 * tenants created before auto-upgrade existed). Does nothing when settings exist: a tenant's own
 * save always wins.
 */
export async function ensureDefaultAutoUpgradeSettings(tenantId: string, now: Date): Promise<boolean> {
  const settings = defaultAutoUpgradeSettings(tenantId);
  const placement = slotKeysFor(settings, now);
  return putIfAbsent({
    ...keys.autoUpgrade(tenantId),
    ...(placement === undefined
      ? {}
      : {
          ...keys.autoUpgradeSlotIndex(placement.slot, tenantId),
          next_run_at: placement.next_run_at.toISOString(),
          slot: placement.slot,
        }),
    type: 'auto_upgrade',
    tenant_id: tenantId,
    settings,
    is_default: true,
    revision: 1,
    updated_at: now.toISOString(),
  });
}

/**
 * One page of the tenants indexed under a UTC quarter-hour slot (a GSI2 query, never a scan). The
 * sweep double-checks each with `isSweepDue` before acting: the index is eventually consistent.
 */
export async function querySlot(
  slot: number,
  cursor: string | undefined,
  limit = 100,
): Promise<{ items: SlotEntry[]; next_cursor: string | null }> {
  const partition = keys.autoUpgradeSlotPartition(slot);
  const page = await queryIndexPage({
    partition: { index: partition.index, attribute: 'GSI2PK', value: partition.GSI2PK },
    scope: `upgrade-slot:${slot}`,
    limit,
    cursor,
  });
  return {
    items: page.items.map((item) => {
      const stored = toStored(item);
      return {
        tenant_id: stored.tenant_id,
        settings: stored.settings,
        next_run_at: stored.next_run_at === null ? undefined : new Date(stored.next_run_at),
        revision: stored.revision,
      };
    }),
    next_cursor: page.next_cursor,
  };
}

/**
 * Moves a tenant the sweep just evaluated to the slot of its next run after `after` (the end of
 * the evaluated window). Timeline: the sweep read the entry at `entry.revision`; if the tenant
 * saved new settings since, that save already placed it (from its own save time) and must win, so
 * the update only applies while the revision is unchanged. Returns false when it lost that race.
 */
export async function advanceAutoUpgradeSchedule(entry: SlotEntry, after: Date): Promise<boolean> {
  const placement = placementUpdate(entry.tenant_id, slotKeysFor(entry.settings, after));
  const remove = placement.remove.length > 0 ? ` REMOVE ${placement.remove.join(', ')}` : '';
  const set = placement.set.length > 0 ? `SET ${placement.set.join(', ')}` : '';
  try {
    await documentClientInstance().send(
      new UpdateCommand({
        TableName: mainTableName(),
        Key: keys.autoUpgrade(entry.tenant_id),
        UpdateExpression: `${set}${remove}`.trim(),
        ConditionExpression: 'revision = :revision',
        ExpressionAttributeValues: { ...placement.values, ':revision': entry.revision },
      }),
    );
    return true;
  } catch (error) {
    if (isConditionalFailure(error)) return false;
    throw error;
  }
}

/** Records a sweep's summary for a tenant; writing the same `run_at` again overwrites (idempotent). */
export async function putUpgradeRun(tenantId: string, summary: UpgradeRunSummary): Promise<void> {
  const runAt = new Date(summary.run_at);
  await documentClientInstance().send(
    new PutCommand({
      TableName: mainTableName(),
      Item: {
        ...keys.upgradeRun(tenantId, runAt.toISOString()),
        type: 'upgrade_run',
        tenant_id: tenantId,
        summary,
        expires_at_epoch: Math.floor(runAt.getTime() / 1000) + UPGRADE_RUN_RETENTION_DAYS * 86_400,
      },
    }),
  );
}

/** The tenant's run summaries, newest first (ISO timestamps sort chronologically). */
export async function listUpgradeRuns(
  tenantId: string,
  limit: number,
  cursor: string | undefined,
): Promise<Page<UpgradeRunSummary>> {
  const page = await queryPrefixPage({
    partition: keys.upgradeRunsPartition(tenantId),
    scope: `upgrade-runs:${tenantId}`,
    limit,
    cursor,
    newestFirst: true,
  });
  return {
    items: page.items.map((item) => item.summary as UpgradeRunSummary),
    next_cursor: page.next_cursor,
  };
}

/** Which of `pluginIds` have a catalog entry (batched GetItems of the plugin items). */
export async function findCataloguedPlugins(pluginIds: readonly string[]): Promise<Set<string>> {
  const items = await batchGetItems(
    pluginIds.map((id) => keys.plugin(id)),
    { projection: 'plugin_id' },
  );
  return new Set(items.map((item) => item.plugin_id as string));
}
