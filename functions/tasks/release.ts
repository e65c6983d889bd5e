/** Deploy workflow task `Release`: closes the revision as succeeded, gives the lease back, marks the deployment succeeded. */
import { deployTask } from '#services/deploy-task.ts';
import { releaseStep } from '#services/deploy-workflow.ts';

export const handler = deployTask('Release', releaseStep);
