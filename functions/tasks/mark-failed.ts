/** Deploy workflow task `MarkFailed`: a failure or rejection before Apply: records it and releases the lease; the tenant is unchanged. */
import { deployStepHandler } from '#services/deploy-ports.ts';

export const handler = deployStepHandler('MarkFailed', (steps) => steps.markFailed);
