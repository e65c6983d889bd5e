/** Deploy workflow task `Acquire`: takes the plan's leases (settling an expired holder's half-done work) and confirms the frozen plan still holds. */
import { deployStepHandler } from '#services/deploy-ports.ts';

export const handler = deployStepHandler('Acquire', (steps) => steps.acquire);
