/** Deploy workflow task `Probe`: asks the plugin host whether it runs exactly the new unique identifier. */
import { deployTask } from '#services/deploy-task.ts';
import { probeStep } from '#services/deploy-workflow.ts';

export const handler = deployTask('Probe', probeStep);
