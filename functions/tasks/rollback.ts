/** Deploy workflow task `Rollback`: restores the previous identifier and config as a new revision, re-probes, holds the failed identifier. */
import { deployTask } from '#services/deploy-task.ts';
import { rollbackStep } from '#services/deploy-workflow.ts';

export const handler = deployTask('Rollback', rollbackStep);
