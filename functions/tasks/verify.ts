/** Deploy workflow task `Verify`: re-reads the stored package and applies the tenant's rules (checksum, signature, scope, permissions, platform, downgrade). */
import { deployStepHandler } from '#services/deploy-ports.ts';

export const handler = deployStepHandler('Verify', (steps) => steps.verify);
