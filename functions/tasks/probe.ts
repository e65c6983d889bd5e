/** Deploy workflow task `Probe`: asks the plugin host whether it runs exactly the new unique identifier. */
import { deployStepHandler } from '#services/deploy-ports.ts';

export const handler = deployStepHandler('Probe', (steps) => steps.probe);
