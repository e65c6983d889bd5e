/** Stage-level defaults (from the environment the stage's stack sets). */
import { stageDefaultPolicy, type TenantPolicy } from '#core/policy.ts';
import { getConfig } from '#shared/config.ts';

export function stagePolicyDefaults(): TenantPolicy {
  const config = getConfig();
  return stageDefaultPolicy({
    platformVersion: config.defaultPlatformVersion,
    approvalRequired: process.env.PLUGINOPS_APPROVAL_REQUIRED === 'true',
  });
}
