/** Response shapes of deployments, installations and revisions: sealed config never leaves. */
import type { StoredInstallation, StoredRevision } from '#adapters/dynamo/installations.ts';
import type { Installation } from '#core/deploy/model.ts';

export function presentInstallation(item: StoredInstallation, now: Date) {
  const active = item.lock !== undefined && Date.parse(item.lock.expires_at) > now.getTime();
  return {
    plugin_id: item.plugin_id,
    unique_identifier: item.unique_identifier,
    version: item.version,
    revision: item.revision,
    status: item.status,
    ...(item.hold === undefined ? {} : { hold: item.hold }),
    ...(item.drift === undefined ? {} : { drift: item.drift }),
    ...(item.not_in_catalog === true ? { not_in_catalog: true } : {}),
    ...(active && item.lock !== undefined ? { deployment_id: item.lock.deployment_id } : {}),
    ...(item.config_digest === undefined ? {} : { config_digest: item.config_digest }),
    updated_at: item.updated_at,
  } satisfies Partial<Installation> & Record<string, unknown>;
}

export function presentRevision(item: StoredRevision) {
  const { config_sealed: _sealed, tenant_id: _tenant, ...visible } = item;
  return visible;
}
