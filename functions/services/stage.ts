/** Stage-level defaults (from the environment the stage's stack sets, read once into the config). */
import { getConfig, type RuntimeConfig } from '#config/runtime-config.ts';
import { effectivePolicy, stageDefaultPolicy, type TenantPolicy } from '#core/policy.ts';

export function stagePolicyDefaults(config: RuntimeConfig = getConfig()): TenantPolicy {
  return stageDefaultPolicy({
    platformVersion: config.defaultPlatformVersion,
    approvalRequired: config.approvalRequired,
    canary: config.canary,
  });
}

/**
 * The canary a tenant's auto-upgrades follow: the tenant's own policy, else the stage's
 * (`PLUGINOPS_CANARY_*`, set per stage by the CDK stack), else none.
 */
export function tenantCanaryPolicy(
  stored: Partial<TenantPolicy>,
  defaults: TenantPolicy = stagePolicyDefaults(),
): TenantPolicy['canary'] {
  return effectivePolicy(defaults, stored).canary;
}
