/** Deploy workflow task `Apply`: one transaction per plugin (installation + new revision), then the runtime desired state. */
import { deployStepHandler } from '#services/deploy-ports.ts';

export const handler = deployStepHandler('Apply', (steps) => steps.apply);
