/** Deploy workflow task `Acquire`: takes the plugin's lease (settling an expired holder's half-done work) and re-plans under it. */
import { deployTask } from '#services/deploy-task.ts';
import { acquireStep } from '#services/deploy-workflow.ts';

export const handler = deployTask('Acquire', acquireStep);
