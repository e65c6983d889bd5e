/** Deploy workflow task `Release`: closes the revision as succeeded, gives the lease back, marks the deployment succeeded. */
import { deployStepHandler } from '#services/deploy-ports.ts';

export const handler = deployStepHandler('Release', (steps) => steps.release);
