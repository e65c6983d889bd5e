/** Deploy workflow task `Resolve`: marks the deployment running, makes the plan, reads whether approval is needed. */
import { deployTask } from '#services/deploy-task.ts';
import { resolveStep } from '#services/deploy-workflow.ts';

export const handler = deployTask('Resolve', resolveStep);
