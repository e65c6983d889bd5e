/** Deploy workflow task `MarkFailed`: a failure or rejection before Apply: records it and releases the lease; the tenant is unchanged. */
import { deployTask } from '#services/deploy-task.ts';
import { markFailedStep } from '#services/deploy-workflow.ts';

export const handler = deployTask('MarkFailed', markFailedStep);
