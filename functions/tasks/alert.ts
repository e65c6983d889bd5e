/** Deploy workflow task `Alert`: emits the failure alert (Deployment Failed) after a failure past Apply. */
import { deployStepHandler } from '#services/deploy-ports.ts';

export const handler = deployStepHandler('Alert', (steps) => steps.alert);
