/** Deploy workflow task `Resolve`: marks the deployment running, makes and freezes the plan, reads whether approval is needed. */
import { deployStepHandler } from '#services/deploy-ports.ts';

export const handler = deployStepHandler('Resolve', (steps) => steps.resolve);
