/**
 * `PUT /v1/tenants/{tenant_id}/auto-upgrade` (admin): replaces the settings (omitted fields take
 * their defaults) and re-indexes the tenant for the sweep. Plugins in `include_plugins` that the
 * catalog or the tenant does not have yet are accepted — they may be published or installed
 * later — and reported in `warnings`.
 */
import { findCataloguedPlugins, putAutoUpgradeSettings } from '#adapters/dynamo/auto-upgrade.ts';
import { listInstalledPlugins } from '#adapters/dynamo/installations.ts';
import {
  type AutoUpgradeSettings,
  resolveAutoUpgradeSettings,
  type SettingsWarning,
  settingsWarnings,
} from '#core/auto-upgrade/settings.ts';
import { jsonResponse } from '#shared/http-response.ts';
import { presentAutoUpgrade } from './auto-upgrade-present.ts';
import { apiHandler } from './compose.ts';
import { AutoUpgradeBody, TenantParams } from './schemas.ts';

async function includeWarnings(tenantId: string, settings: AutoUpgradeSettings): Promise<SettingsWarning[]> {
  const ids = settings.include_plugins;
  if (ids.length === 0) return [];
  const [catalogued, installations] = await Promise.all([
    findCataloguedPlugins(ids),
    listInstalledPlugins(tenantId),
  ]);
  const installed = new Set(
    installations.filter((entry) => entry.status === 'installed').map((entry) => entry.plugin_id),
  );
  return ids.flatMap((id, index): SettingsWarning[] => {
    if (!catalogued.has(id)) {
      return [{ path: `include_plugins.${index}`, message: `${id} is not in the catalog.` }];
    }
    if (!installed.has(id)) {
      return [{ path: `include_plugins.${index}`, message: `${id} is not installed on this tenant.` }];
    }
    return [];
  });
}

export const handler = apiHandler(
  { scope: 'admin', idempotent: true, params: TenantParams, body: AutoUpgradeBody },
  async ({ params, body, now }) => {
    const settings = resolveAutoUpgradeSettings(params.tenant_id, body);
    const warnings = [...settingsWarnings(settings), ...(await includeWarnings(params.tenant_id, settings))];
    const stored = await putAutoUpgradeSettings(params.tenant_id, settings, now);
    return jsonResponse(200, { ...presentAutoUpgrade(params.tenant_id, stored, now), warnings });
  },
);
