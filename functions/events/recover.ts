/**
 * The recovery pass on AWS: an EventBridge rule runs it every 5 minutes (infra/constructs/
 * schedule.ts). Settles every deployment whose workflow run is gone (functions/services/
 * deploy-recovery.ts) and logs what it did.
 */
import { realRecoveryPorts } from '#services/deploy-ports.ts';
import { type RecoverySummary, recoverDeployments } from '#services/deploy-recovery.ts';
import { logger } from '#shared/logger.ts';

export async function handler(): Promise<RecoverySummary> {
  const summary = await recoverDeployments(realRecoveryPorts(), new Date());
  if (summary.settled.length > 0)
    logger.warn('recovery pass settled interrupted deployments', { ...summary });
  return summary;
}
