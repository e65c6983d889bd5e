/** Deploy workflow task `Verify`: re-reads the stored package and applies the tenant's rules (checksum, signature, scope, permissions, platform, downgrade). */
import { deployTask } from '#services/deploy-task.ts';
import { verifyStep } from '#services/deploy-workflow.ts';

export const handler = deployTask('Verify', verifyStep);
