/** Deploy workflow task `Alert`: emits the failure alert (Deployment Failed) after a failure past Apply. */
import { deployTask } from '#services/deploy-task.ts';
import { alertStep } from '#services/deploy-workflow.ts';

export const handler = deployTask('Alert', alertStep);
