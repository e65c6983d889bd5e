/** Deploy workflow task `Apply`: one transaction per plugin (installation + new revision), then the runtime desired state. */
import { deployTask } from '#services/deploy-task.ts';
import { applyStep } from '#services/deploy-workflow.ts';

export const handler = deployTask('Apply', applyStep);
