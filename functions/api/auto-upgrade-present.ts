/** The auto-upgrade settings document as the API returns it (GET and PUT). */
import type { StoredAutoUpgrade } from '#adapters/dynamo/auto-upgrade.ts';
import { nextRunAt } from '#core/auto-upgrade/schedule.ts';
import { type AutoUpgradeSettings, defaultAutoUpgradeSettings } from '#core/auto-upgrade/settings.ts';

export interface AutoUpgradeDocument extends AutoUpgradeSettings {
  next_run_at: string | null;
  is_default: boolean;
  updated_at: string | null;
}

/**
 * Stored settings, or the tenant's defaults when it never saved any. `next_run_at` is computed
 * from `now` rather than read back, so it shows the schedule even while a missed sweep is still
 * to catch up.
 */
export function presentAutoUpgrade(
  tenantId: string,
  stored: StoredAutoUpgrade | undefined,
  now: Date,
): AutoUpgradeDocument {
  const settings = stored?.settings ?? defaultAutoUpgradeSettings(tenantId);
  return {
    ...settings,
    next_run_at: nextRunAt(settings, now)?.toISOString() ?? null,
    is_default: stored === undefined || stored.is_default,
    updated_at: stored === undefined || stored.is_default ? null : stored.updated_at,
  };
}
